"""Client log-in and log-out."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, session, url_for

from bridge.web import accounts
from bridge.web.common import dbs, log_in_client, rate_limit, safe_next, web_blueprint
from bridge.web.forms import LoginForm

bp = web_blueprint("web_auth", __name__)

BAD_LOGIN = "E-mail or password is not correct."


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        rate_limit("login", f"email:{email.lower()}")
        client = accounts.authenticate(dbs(), email, form.password.data)
        if client is None:
            # One message for unknown e-mail and wrong password: no account enumeration.
            return render_template("login.html", form=form, error=BAD_LOGIN), 401
        if not client.email_verified:
            return render_template("login.html", form=form, unverified=True,
                                   error="Please confirm your e-mail address first: follow the link we sent "
                                         "you, or ask for a new one."), 403
        dbs().commit()  # the audit record of the log-in
        log_in_client(client)
        return redirect(safe_next(request.args.get("next"), url_for("web_clientarea.dashboard")))
    return render_template("login.html", form=form), 400 if form.is_submitted() else 200


@bp.post("/logout")
def logout() -> Any:
    session.pop("client_id", None)
    return redirect(url_for("web_auth.login"))
