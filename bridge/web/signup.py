"""Landing page and sign-up: form, verification link, terms, provisioning (seeds 003/004)."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session

from bridge.errors import BridgeError, WeakPassword, WebError, WrongPassword
from bridge.flask_glue import current_settings, unit_of_work
from bridge.services import accounts
from bridge.services.ratelimit import identity_key
from bridge.web.common import (
    client_required,
    current_client,
    dbs,
    log_in_client,
    public_url,
    rate_limit,
    send_after_response,
    web_blueprint,
)
from bridge.web.forms import ConfirmForm, ResendForm, SignupForm, TermsForm
from bridge.web.headers import allow_solusvm_login_form
from bridge.web.provision import provision_now

bp = web_blueprint("web_signup", __name__, template_folder="templates", static_folder="static",
               static_url_path="/web-static")


def _link_for(token: str) -> str:
    return public_url("web_signup.verify", token=token)


def _mail_args() -> dict[str, Any]:
    settings = current_settings()
    return {"secret_key": settings.secret_key, "link_for": _link_for, "max_age": settings.web.signup_link_max_age}


def _terms() -> dict[str, Any]:
    web = current_settings().web
    return {"terms_url": web.terms_url or url_for("web_signup.terms_text"),
            "postpay_url": web.postpay_terms_url, "postpay_required": bool(web.postpay_terms_url)}


@bp.get("/")
def home() -> Any:
    return redirect(url_for("web_clientarea.dashboard") if current_client() else url_for("web_signup.signup"))


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    """Landing page with the sign-up form."""
    form = SignupForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        rate_limit("signup", f"email:{identity_key(email)}")

        def attempt(db_session: Session) -> Any:
            _client, mail = accounts.signup(
                db_session, firstname=form.firstname.data.strip(), lastname=form.lastname.data.strip(),
                companyname=(form.companyname.data or "").strip(), email=email, password=form.password.data,
                login_url=public_url("web_auth.login"), **_mail_args())
            return mail

        try:
            # One transaction, run again when SQLite's write lock goes to a parallel sign-up for the
            # same address, so all of them get the same page instead of a 503.
            mail = unit_of_work().run_in(dbs(), attempt)
        except WeakPassword as exc:
            form.password.errors = [exc.message]
            return render_template("signup/landing.html", form=form, **_terms()), 400
        except BridgeError as exc:  # e.g. invalid characters, no currency configured
            form.form_errors.append(exc.message)
            return render_template("signup/landing.html", form=form, **_terms()), 400
        # The same page whether or not the address was new: no account enumeration. The mail goes
        # after the response; if it fails, the account is kept and the resend page sends a new link.
        send_after_response(mail)
        return render_template("signup/check_mail.html", email=email)
    status = 400 if form.is_submitted() else 200
    return render_template("signup/landing.html", form=form, **_terms()), status


@bp.route("/signup/resend", methods=["GET", "POST"])
def resend() -> Any:
    form = ResendForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        rate_limit("resend", f"email:{identity_key(email)}")
        mail = accounts.resend(dbs(), email, **_mail_args())
        # Nothing to send (unknown or verified address) looks exactly like a send.
        if mail is not None:
            send_after_response(mail)
        return render_template("signup/check_mail.html", email=email)
    return render_template("signup/resend.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/signup/verify/<token>", methods=["GET", "POST"])
def verify(token: str) -> Any:
    """Follow the e-mailed link: show the pending sign-up and ask for its password; a match
    confirms the address, logs in and asks for the terms.

    Opening the link changes nothing (mail scanners open links too); confirming needs the
    password of the submission the link belongs to, so a mailbox owner never activates a
    password or name somebody else typed (see docs/web.md, "Security model").
    """
    secret, max_age = current_settings().secret_key, current_settings().web.signup_link_max_age
    if request.method == "POST":  # counted before any read: SQLite's write lock wants no open read
        rate_limit("login", f"confirm:{hashlib.sha256(token.encode()).hexdigest()[:32]}")
    try:
        pending = accounts.pending_signup(dbs(), secret, token, max_age)
    except WebError as exc:
        return render_template("signup/link_problem.html", error=exc, form=ResendForm()), 400
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            client = accounts.verify_email(dbs(), secret, token, max_age, form.password.data)
        except WrongPassword as exc:
            dbs().rollback()
            return render_template("signup/confirm.html", form=form, pending=pending, error=exc.message), 401
        except WebError as exc:
            dbs().rollback()
            return render_template("signup/link_problem.html", error=exc, form=ResendForm()), 400
        dbs().commit()
        log_in_client(client)
        return redirect(url_for("web_signup.terms"))
    return render_template("signup/confirm.html", form=form, pending=pending), 400 if form.is_submitted() else 200


@bp.route("/signup/terms", methods=["GET", "POST"])
@client_required
def terms(client: Any) -> Any:
    """Accept the Terms of Service (and Post-Pay T&C when configured); enroll and provision."""
    if client.enrolled_at is not None:
        return redirect(url_for("web_clientarea.dashboard"))
    form = TermsForm()
    info = _terms()
    if form.validate_on_submit():
        try:
            accounts.accept_terms(dbs(), client, tos=form.tos.data, postpay=form.postpay.data,
                                  postpay_required=info["postpay_required"])
        except WebError as exc:
            dbs().rollback()
            return render_template("signup/terms.html", form=form, error=exc.message, **info), 400
        dbs().commit()
        result = provision_now(client.id)
        session["just_enrolled"] = True
        allow_solusvm_login_form()  # the page has the "Log in to SolusVM" button
        return render_template("signup/done.html", result=result)
    return render_template("signup/terms.html", form=form, **info), 400 if form.is_submitted() else 200


@bp.get("/terms")
def terms_text() -> Any:
    """Placeholder Terms of Service used when TERMS_URL is not configured."""
    return render_template("signup/terms_text.html")
