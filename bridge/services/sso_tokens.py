"""WHMCS CreateSsoToken tokens: signed (itsdangerous), valid 60 s, single use.

``issue`` signs ``{client_id, destination, redirect_path, nonce}``; ``consume`` checks the
signature and age and records the nonce in the audit log so a token works only once.
The page that consumes them (``/oauth/singlesignon.php``) belongs to the web issue.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.errors import AuthFailed
from bridge.models import AuditLog
from bridge.services import audit

SALT = "whmcs-sso"
MAX_AGE = 60


@dataclass(frozen=True)
class SsoGrant:
    client_id: int
    destination: str
    redirect_path: str | None


def issue(secret_key: str, client_id: int, destination: str, redirect_path: str | None = None) -> str:
    """A new single-use token for ``client_id``."""
    s = URLSafeTimedSerializer(secret_key, salt=SALT)
    return s.dumps({"c": client_id, "d": destination, "r": redirect_path, "n": secrets.token_hex(8)})


def consume(session: Session, secret_key: str, token: str, max_age: int = MAX_AGE) -> SsoGrant:
    """Validate and use up a token; raises AuthFailed when bad, expired or already used."""
    s = URLSafeTimedSerializer(secret_key, salt=SALT)
    try:
        data = s.loads(token, max_age=max_age)
    except SignatureExpired:
        raise AuthFailed("SSO token expired") from None
    except BadSignature:
        raise AuthFailed("Invalid SSO token") from None
    nonce = str(data.get("n", ""))
    used = session.scalar(select(AuditLog.id).where(AuditLog.entity == "sso_token", AuditLog.entity_id == nonce))
    if used is not None:
        raise AuthFailed("SSO token already used")
    audit.record(session, f"client:{data['c']}", "sso.consume", "sso_token", nonce, {})
    session.flush()
    return SsoGrant(int(data["c"]), str(data["d"]), data.get("r"))
