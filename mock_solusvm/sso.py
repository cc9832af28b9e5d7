"""``GET /auth/by_token`` (the SSO landing, an unverified guess) and the small user area at ``/``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session

from .errors import Unauthenticated
from .views import PlanPricer, server_view
from .wire import outside_namespace_lock

sso_bp = Blueprint("sso", __name__, template_folder="templates")


@sso_bp.get("/auth/by_token")
def by_token() -> Response:
    """Consume a (one-time) user token, open a session and redirect to the user area."""
    token = request.args.get("token", "")
    if not token:
        raise Unauthenticated("A token is required.")
    principal = g.backend.authenticate_user_token(token)
    session.clear()
    session["user_id"] = principal.user_id
    session["mock_namespace"] = g.namespace
    return redirect("/", code=302)  # type: ignore[return-value]


@sso_bp.get("/")
def user_area() -> Response | str:
    """Who is logged in, their status and their servers with prices."""
    b = g.backend
    user = b.users.get(session.get("user_id")) if session.get("mock_namespace", g.namespace) == g.namespace else None
    if user is None:
        return Response(render_template("login.html"), status=401, mimetype="text/html")
    pricer = PlanPricer(b, user, current_app.config["BILLING_TIMEOUT"], outside_namespace_lock)
    servers = [server_view(b, s, pricer) for s in b.servers.values()
               if s["user_id"] == user["id"] and s["deleted_at"] is None]
    return render_template("user_area.html", user=user, servers=servers, namespace=g.namespace)


@sso_bp.post("/logout")
def logout() -> Response:
    """End the user-area session."""
    session.clear()
    return redirect("/", code=302)  # type: ignore[return-value]
