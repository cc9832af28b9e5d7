"""Client log-in and log-out."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from bridge.errors import WeakPassword, WebError
from bridge.flask_glue import current_settings
from bridge.services import accounts, web_sessions
from bridge.services.ratelimit import identity_key
from bridge.web.common import (
    LoginAttempt,
    dbs,
    log_in_client,
    log_out,
    public_url,
    rate_limit,
    safe_next,
    send_after_response,
    web_blueprint,
)
from bridge.web.forms import LoginForm, NewPasswordForm, ResendForm

bp = web_blueprint("web_auth", __name__)

BAD_LOGIN = "E-mail or password is not correct."


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        attempt = LoginAttempt("client", email)
        attempt.check()
        client = accounts.authenticate(dbs(), email, form.password.data)
        if client is None:
            dbs().rollback()
            attempt.failed()
            # One message for unknown e-mail and wrong password: no account enumeration.
            return render_template("login.html", form=form, error=BAD_LOGIN), 401
        if not client.email_verified:
            return render_template("login.html", form=form, unverified=True,
                                   error="Please confirm your e-mail address first: follow the link we sent "
                                         "you, or ask for a new one."), 403
        dbs().commit()  # the audit record of the log-in
        attempt.succeeded()
        log_in_client(client)
        return redirect(safe_next(request.args.get("next"), url_for("web_clientarea.dashboard")))
    return render_template("login.html", form=form), 400 if form.is_submitted() else 200


@bp.post("/logout")
def logout() -> Any:
    log_out("client")
    return redirect(url_for("web_auth.login"))


def _reset_settings() -> tuple[str, int]:
    """(secret key, link max age in seconds)."""
    settings = current_settings()
    return settings.secret_key, settings.web.password_reset_max_age


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot() -> Any:
    """Ask for a reset link; the answer is the same whether or not the address has an account."""
    form = ResendForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        rate_limit("resend", f"reset:{identity_key(email)}")
        secret, max_age = _reset_settings()
        mail = accounts.reset_mail(dbs(), email, secret_key=secret, max_age=max_age,
                                   link_for=lambda t: public_url("web_auth.reset", token=t))
        if mail is not None:
            send_after_response(mail)  # same page, same time for every address; failures are logged
        return render_template("password_sent.html", email=email)
    return render_template("password_forgot.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    secret, max_age = _reset_settings()
    try:
        client = accounts.reset_client(dbs(), secret, token, max_age)
    except WebError as exc:
        return render_template("password_forgot.html", form=ResendForm(), error=exc), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(dbs(), client, form.password.data)
        except WeakPassword as exc:
            dbs().rollback()
            form.password.errors = [exc.message]
            return render_template("password_reset.html", form=form), 400
        web_sessions.end_all(dbs(), "client", client.id)  # a reset ends every other session
        dbs().commit()
        log_in_client(client)
        return redirect(url_for("web_clientarea.dashboard"))
    return render_template("password_reset.html", form=form), 400 if form.is_submitted() else 200
