"""API credentials for the WHMCS External API.

``create`` returns a new identifier and secret once; only digests are stored. Secrets are
256-bit random strings, not human passwords, so a SHA-256 digest compared with
``hmac.compare_digest`` is as strong as a slow KDF here and keeps every API call fast (a
scrypt check would cost ~50 ms per request). Client passwords use werkzeug.security.

WHMCS's legacy mode sends ``username`` + MD5(password): we also store the SHA-256 of the
secret's MD5 hex digest, so that form is checked without keeping the secret itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.errors import AuthFailed, ValidationFailed
from bridge.models import ApiCredential, utcnow
from bridge.services import audit

SEP = "\n"  # secret_hash holds "<sha256 of secret>\n<sha256 of md5hex(secret)>"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class NewCredential:
    name: str
    identifier: str
    secret: str


def create(session: Session, name: str, *, allowed_ips: str = "", actor: str = "cli") -> NewCredential:
    """Create a credential; the secret is returned here and never again."""
    name = name.strip()
    if not name:
        raise ValidationFailed("A credential name is required")
    identifier = secrets.token_urlsafe(24)
    secret = secrets.token_urlsafe(32)
    md5hex = hashlib.md5(secret.encode()).hexdigest()
    stored = _digest(secret) + SEP + _digest(md5hex)
    cred = ApiCredential(name=name, identifier=identifier, secret_hash=stored, allowed_ips=allowed_ips)
    session.add(cred)
    session.flush()
    audit.record(session, actor, "credential.create", "api_credential", cred.id, {"name": name})
    return NewCredential(name, identifier, secret)


def revoke(session: Session, identifier: str, *, actor: str = "cli") -> None:
    """Revoke a credential (it stays for the audit trail)."""
    cred = session.scalar(select(ApiCredential).where(ApiCredential.identifier == identifier))
    if cred is None:
        raise ValidationFailed("Unknown identifier")
    cred.revoked_at = utcnow()
    audit.record(session, actor, "credential.revoke", "api_credential", cred.id, {"name": cred.name})


def authenticate(session: Session, identifier: str, secret: str) -> ApiCredential:
    """Check identifier + secret (or the legacy MD5 of the secret); raise AuthFailed otherwise."""
    cred = session.scalar(select(ApiCredential).where(ApiCredential.identifier == identifier)) if identifier else None
    ok = False
    if cred is not None and cred.revoked_at is None and secret:
        plain_hash, _, md5_hash = cred.secret_hash.partition(SEP)
        ok = hmac.compare_digest(_digest(secret), plain_hash)
        if not ok and md5_hash:
            ok = hmac.compare_digest(_digest(secret.lower()), md5_hash)
    else:
        # Spend comparable time on unknown identifiers so they cannot be probed by timing.
        hmac.compare_digest(_digest(secret or ""), "0" * 64)
    if not ok or cred is None:
        raise AuthFailed("Authentication Failed")
    return cred
