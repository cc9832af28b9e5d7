"""Sign-up, e-mail verification, terms and log-in for clients and admins.

Plain Python (no Flask): functions take a ``Session``, flush and never commit; the route
commits once. Mail is sent by the caller after the commit, from the ``Mail`` values the
functions return, so a failed commit never leaves a sent link to a record that is not there.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from bridge.errors import (
    Conflict,
    LinkExpired,
    LinkInvalid,
    LinkUsed,
    TermsNotAccepted,
    WeakPassword,
    WrongCode,
    WrongPassword,
)
from bridge.models import Admin, Client, utcnow
from bridge.services import audit, clients, provisioning
from bridge.services.ratelimit import identity_key

VERIFY_SALT = "bridge.web.signup.verify"
MIN_PASSWORD = 10
PASSWORD_POLICY = (f"At least {MIN_PASSWORD} characters, with at least one letter and one digit or symbol, "
                   "and not containing your e-mail name.")
# Valid hashes (one per hashing method) to check against when nobody has the e-mail, so a
# failed log-in costs as much for an unknown address as for a wrong password (no timing leak).
_DUMMY_HASHES: dict[str, str] = {}


def _dummy_hash() -> str:
    method = clients.PASSWORD_METHOD
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = clients.hash_password(secrets.token_hex(16))
    return _DUMMY_HASHES[method]


COMMON = {"password123", "qwerty12345", "1234567890a", "letmein1234", "welcome1234", "password1234"}


def check_password_policy(password: str, email: str = "") -> None:
    """Raise WeakPassword with the rule that failed."""
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"The password is too short. {PASSWORD_POLICY}")
    if len(password) > 200:
        raise WeakPassword("The password is too long (200 characters at most).")
    if not any(c.isalpha() for c in password) or all(c.isalpha() for c in password):
        raise WeakPassword(f"Use letters and at least one digit or symbol. {PASSWORD_POLICY}")
    local = email.split("@", 1)[0].lower()
    if (len(local) >= 4 and local in password.lower()) or password.lower() in COMMON:
        raise WeakPassword(f"The password is too easy to guess. {PASSWORD_POLICY}")


@dataclass(frozen=True)
class Mail:
    """A message to send once the transaction committed."""

    to: str
    subject: str
    text: str


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=VERIFY_SALT)


def verification_token(secret_key: str, client: Client) -> str:
    """A signed, timestamped token naming the client, its current e-mail and its pending sign-up.

    ``h`` ties the link to the submission that sent it (the end of that submission's password
    hash): a newer sign-up for the same unconfirmed address replaces the pending details, and
    every older link stops working.
    """
    return _serializer(secret_key).dumps({"c": client.id, "e": client.email_normalized, "h": _hash_tag(client)})


def verification_mail(client: Client, link: str, max_age: int) -> Mail:
    hours = max(1, max_age // 3600)
    name = " ".join(part for part in (client.firstname, client.lastname) if part)
    return Mail(client.email, "Confirm your e-mail address",
                f"Hello {client.firstname},\n\nplease confirm your e-mail address to finish signing up "
                f"as {name}:\n\n{link}\n\nThe page asks for the password you chose when you signed up. "
                f"The link works once and expires in {hours} hour(s); only the newest link we sent works.\n"
                "If you did not sign up, ignore this message: nothing is activated without that password.\n")


def signup(session: Session, *, firstname: str, lastname: str, companyname: str, email: str, password: str,
           secret_key: str, link_for: Callable[[str], str], login_url: str, max_age: int,
           actor: str = "signup") -> tuple[Client | None, Mail]:
    """Create an unverified client, or prepare the right mail when the address is taken.

    Returns ``(client or None, mail)``. The page shown afterwards is the same in every case
    (no enumeration); the owner of a taken address gets a mail that says so instead.
    ``link_for(token) -> url`` builds the verification link.
    """
    check_password_policy(password, email)
    details = {"firstname": firstname, "lastname": lastname, "companyname": companyname}
    existing = clients.get_by_email(session, email)
    if existing is None:
        try:
            with session.begin_nested():  # a parallel sign-up for the same address may win the insert
                client = clients.create(session, {**details, "email": email, "password2": password,
                                                  "email_verified": False}, actor=actor)
        except Conflict:
            existing = clients.get_by_email(session, email)
            if existing is None:  # the winner was deleted again in between: rare; the same answer
                raise
        else:
            return client, verification_mail(client, link_for(verification_token(secret_key, client)), max_age)
    return None, _signup_for_existing(session, existing, details, password, secret_key=secret_key,
                                      link_for=link_for, login_url=login_url, max_age=max_age)


def _signup_for_existing(session: Session, existing: Client, details: dict[str, str], password: str, *,
                         secret_key: str, link_for: Callable[[str], str], login_url: str, max_age: int) -> Mail:
    """The mail for a sign-up whose address already has a record."""
    new_hash = clients.hash_password(password)  # also paid for a taken address: no timing tell
    if not existing.email_verified and existing.status != "Closed":
        # A pending sign-up nobody confirmed: this submission replaces it entirely (name and
        # password), so the link we now send activates only what this visitor typed, and
        # the links of earlier submissions (maybe someone else's) stop working.
        for attr, value in details.items():
            setattr(existing, attr, value)
        existing.password_hash = new_hash
        existing.updated_at = utcnow()
        session.flush()
        audit.record(session, "signup", "client.signup_replaced", "client", existing.id, {})
        return verification_mail(existing, link_for(verification_token(secret_key, existing)), max_age)
    return Mail(existing.email, "Someone tried to sign up with your e-mail address",
                          "Hello,\n\nsomeone (maybe you) tried to create a new account with this e-mail address, "
                          "but an account with it already exists.\n\n"
                          f"To use it, log in here: {login_url}\n(forgot the password? use \"Forgot your password?\" "
                "on that page)\n\nIf it was not you, you can ignore this message.\n")


def pending_signup(session: Session, secret_key: str, token: str, max_age: int) -> Client:
    """The unconfirmed client a verification token is for (nothing changes); LinkExpired,
    LinkInvalid or LinkUsed otherwise."""
    ser = _serializer(secret_key)
    try:
        data = ser.loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkExpired("The link in your e-mail has expired. Request a new one below.") from None
    except BadSignature:
        raise LinkInvalid("The link is damaged or was not issued by us. Copy the whole link from the e-mail, "
                          "or request a new one.") from None
    client = session.get(Client, data.get("c")) if isinstance(data, dict) else None
    if client is None or client.email_normalized != data.get("e") or client.status == "Closed":
        raise LinkInvalid("The link does not match an account waiting for confirmation. Request a new one.")
    if client.email_verified:
        raise LinkUsed("Your e-mail address is already confirmed. Log in to continue.")
    if data.get("h") != _hash_tag(client):
        raise LinkUsed("A newer sign-up was made with this address since this link was sent: only the link in "
                       "the newest e-mail works. Sign up again if that was not you.")
    return client


def verify_email(session: Session, secret_key: str, token: str, max_age: int, password: str) -> Client:
    """Confirm the e-mail of a pending sign-up. Single use.

    The password typed on the confirmation page must be the one of the submission the link
    belongs to: owning the mailbox alone never activates a password (or name) somebody else chose.
    Raises WrongPassword when it is not.
    """
    client = pending_signup(session, secret_key, token, max_age)
    if not check_password_hash(client.password_hash, password):
        raise WrongPassword("That is not the password chosen with this sign-up. If you did not sign up with "
                            "these details, sign up again: your new sign-up replaces this one.")
    client.email_verified = True
    session.flush()
    audit.record(session, "signup", "client.email_verified", "client", client.id, {})
    return client


def resend(session: Session, email: str, *, secret_key: str, link_for: Callable[[str], str],
           max_age: int) -> Mail | None:
    """The verification mail for an unverified client with this e-mail, or None (caller says the same)."""
    client = clients.get_by_email(session, email)
    if client is None or client.email_verified or client.status == "Closed":
        return None
    return verification_mail(client, link_for(verification_token(secret_key, client)), max_age)


def accept_terms(session: Session, client: Client, *, tos: bool, postpay: bool, postpay_required: bool) -> None:
    """Record the accepted terms and enroll the client (queues the SolusVM user)."""

    if not tos or (postpay_required and not postpay):
        raise TermsNotAccepted("You need to accept the Terms of Service"
                               + (" and the Post-Pay Terms & Conditions" if postpay_required else "")
                               + " to continue.")
    now = utcnow()
    client.terms_accepted_at = client.terms_accepted_at or now
    if postpay_required:
        client.postpay_terms_accepted_at = client.postpay_terms_accepted_at or now
    session.flush()
    audit.record(session, f"client:{client.id}", "client.terms_accepted", "client", client.id,
                 {"postpay": postpay_required})
    if client.enrolled_at is None:
        provisioning.enroll_client(session, client.id, actor=f"client:{client.id}")


def authenticate(session: Session, email: str, password: str) -> Client | None:
    """The client for these credentials, or None (unknown e-mail and wrong password look alike)."""
    client = clients.get_by_email(session, email) if email else None
    if client is None or not client.password_hash or client.status == "Closed":
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(client.password_hash, password):
        return None
    audit.record(session, f"client:{client.id}", "client.login", "client", client.id, {})
    return client


def create_admin(session: Session, name: str, password: str) -> Admin:
    """Create an admin (or reset an existing admin's password)."""
    check_password_policy(password, name)
    admin = session.scalar(select(Admin).where(Admin.name == name))
    if admin is None:
        admin = Admin(name=name, password_hash="")
        session.add(admin)
    admin.password_hash = clients.hash_password(password)
    admin.api_md5_hash = clients.hash_password(password_md5(password))
    session.flush()
    audit.record(session, "cli", "admin.create", "admin", admin.id, {"name": name})
    return admin


def authenticate_admin(session: Session, name: str, password: str) -> Admin | None:
    admin = session.scalar(select(Admin).where(Admin.name == name)) if name else None
    if admin is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(admin.password_hash, password):
        return None
    admin.last_login_at = utcnow()
    session.flush()
    audit.record(session, f"admin:{admin.name}", "admin.login", "admin", admin.id, {})
    return admin


# --- admin log-in to the WHMCS External API: username + md5(password) ---------------------
# WHMCS before 7.2 authenticated API calls with an admin's username and the MD5 of the admin's
# password, and still documents it. Only a salted hash of that MD5 is kept (``api_md5_hash``);
# an admin whose password was set before it existed has none and is refused until it is set again.
_MD5_HEX = re.compile(r"[0-9a-f]{32}")


def password_md5(password: str) -> str:
    """The lowercase hex MD5 of a password, as WHMCS API clients send it."""
    return hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()


def _admin_by_identity(session: Session, username: str) -> Admin | None:
    """The admin whose name is ``username`` under ``identity_key`` (case, width and surrounding
    space ignored, as the log-in limits key them); an exact name wins when two admins share one
    identity, otherwise such a name matches nobody."""
    key = identity_key(username)
    if not key:
        return None
    # Admins are a handful of operators: comparing in Python applies the exact same
    # normalisation on every backend (NFKC and case folding are not SQL functions).
    matches = [a for a in session.scalars(select(Admin)) if identity_key(a.name) == key]
    if len(matches) > 1:
        matches = [a for a in matches if a.name == username.strip()]
    return matches[0] if len(matches) == 1 else None


def authenticate_admin_md5(session: Session, username: str, md5hex: str) -> Admin | None:
    """The admin when ``md5hex`` (32 lowercase hex digits only) is the MD5 of their password and
    they have a stored verifier; otherwise None, after the same hashing work (no timing tell)."""
    admin = _admin_by_identity(session, username)
    well_formed = bool(_MD5_HEX.fullmatch(md5hex))
    if admin is None or not admin.api_md5_hash or not well_formed:
        check_password_hash(_dummy_hash(), md5hex)
        return None
    if not check_password_hash(admin.api_md5_hash, md5hex):
        return None
    # The API has no way to ask for the second factor: an admin who turned two-factor log-in
    # on (or must, ADMIN_REQUIRE_2FA) uses an API credential instead of name + MD5.
    if admin.totp_enabled:
        return None
    return admin


# --- admin two-factor log-in (TOTP, RFC 6238: 6 digits, 30-second steps) -------------------

TOTP_ISSUER = "SolusVM billing bridge"


def new_totp_secret() -> str:
    """A fresh random base32 secret (160 bits) for an authenticator app."""

    return pyotp.random_base32(32)


def totp_uri(secret: str, admin_name: str, issuer: str = TOTP_ISSUER) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the enrolment QR code."""

    return pyotp.TOTP(secret).provisioning_uri(name=admin_name, issuer_name=issuer)


def totp_step(secret: str, code: str, *, after_step: int = 0, now: float | None = None) -> int | None:
    """The time step ``code`` is valid for (this step or one either side, for clock drift), or None.

    A step not after ``after_step`` is refused: each code works once, so one seen over a
    shoulder or in a proxy log cannot be replayed.
    """


    code = "".join((code or "").split())
    if not secret or len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = totp.timecode(datetime.fromtimestamp(now, UTC))
    found = None
    for step in (current - 1, current, current + 1):  # compare all three: no early exit
        if hmac.compare_digest(totp.generate_otp(step), code) and step > after_step:
            found = step
    return found


def enable_totp(session: Session, admin: Admin, secret: str, code: str) -> None:
    """Turn two-factor log-in on once a code from the new secret proves the app has it."""
    step = totp_step(secret, code)
    if step is None:
        raise WrongCode("That code does not match. Check the time on your phone and try the newest code.")
    admin.totp_secret, admin.totp_enabled, admin.totp_last_step = secret, True, step
    session.flush()
    audit.record(session, f"admin:{admin.name}", "admin.totp_enabled", "admin", admin.id, {})


def disable_totp(session: Session, admin: Admin, code: str, actor: str) -> None:
    """Turn two-factor log-in off (needs a current code)."""
    if not check_admin_totp(session, admin, code):
        raise WrongCode("That code does not match.")
    admin.totp_secret, admin.totp_enabled, admin.totp_last_step = "", False, 0
    session.flush()
    audit.record(session, actor, "admin.totp_disabled", "admin", admin.id, {})


def check_admin_totp(session: Session, admin: Admin, code: str) -> bool:
    """True (and the code used up) when ``code`` is the admin's current code."""
    step = totp_step(admin.totp_secret, code, after_step=admin.totp_last_step or 0)
    if step is None:
        return False
    admin.totp_last_step = step
    session.flush()
    return True


RESET_SALT = "bridge.web.password.reset"


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=RESET_SALT)


def _hash_tag(client: Client) -> str:
    # The end of the current password hash: once the password changes, older links stop working.
    return client.password_hash[-12:]


def reset_mail(session: Session, email: str, *, secret_key: str, link_for: Callable[[str], str],
               max_age: int) -> Mail | None:
    """The password-reset mail for a verified, open account with this e-mail, or None."""
    client = clients.get_by_email(session, email)
    if client is None or client.status == "Closed" or not client.email_verified:
        return None
    token = _reset_serializer(secret_key).dumps({"c": client.id, "h": _hash_tag(client)})
    hours = max(1, max_age // 3600)
    return Mail(client.email, "Reset your password",
                f"Hello {client.firstname},\n\nto choose a new password, open this link:\n\n{link_for(token)}\n\n"
                f"The link works once and expires in {hours} hour(s). If you did not ask for it, ignore this "
                "message; your password stays as it is.\n")


def reset_client(session: Session, secret_key: str, token: str, max_age: int) -> Client:
    """The client a reset token is for; LinkExpired / LinkInvalid / LinkUsed otherwise."""
    try:
        data = _reset_serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkExpired("The password reset link has expired. Ask for a new one below.") from None
    except BadSignature:
        raise LinkInvalid("The link is damaged or was not issued by us. Ask for a new one.") from None
    client = session.get(Client, data.get("c")) if isinstance(data, dict) else None
    if client is None or client.status == "Closed":
        raise LinkInvalid("The link does not match an account. Ask for a new one.")
    if data.get("h") != _hash_tag(client):
        raise LinkUsed("This password reset link was already used. Ask for a new one if you need to.")
    return client


def set_password(session: Session, client: Client, password: str) -> None:
    """Change a client's password (policy checked)."""
    check_password_policy(password, client.email)
    clients.update(session, client, {"password2": password}, actor=f"client:{client.id}")
