"""WHMCS CreateSsoToken tokens: signed (itsdangerous), valid 60 s, single use.

``issue`` signs ``{client_id, destination, redirect_path, nonce}``; ``consume`` checks the
signature and age, then spends the token by inserting ``(purpose, nonce)`` into
``used_tokens`` in the caller's transaction (``INSERT ... ON CONFLICT DO NOTHING``): the
primary key lets exactly one use insert its row, also when two requests race (PostgreSQL
makes the second wait for the first's commit; SQLite has one writer at a time), so a second
use is "already used". The page that consumes them is ``/oauth/singlesignon.php``
(``bridge.web.whmcs_sso``). The token is a credential: never logged, audited or put in an
exception text.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.errors import AuthFailed
from bridge.models import UsedToken, utcnow
from bridge.services import audit

SALT = "whmcs-sso"
PURPOSE = "whmcs-sso"
MAX_AGE = 60
#: Spent-token rows are kept this long (a token is refused by its age long before), then pruned.
KEEP = timedelta(days=1)


@dataclass(frozen=True)
class SsoGrant:
    client_id: int
    destination: str
    redirect_path: str | None


def issue(secret_key: str, client_id: int, destination: str, redirect_path: str | None = None) -> str:
    """A new single-use token for ``client_id``.

    ``redirect_path`` is signed as given: the caller checks it (CreateSsoToken refuses anything
    but a local path) and the page that consumes the token checks it again.
    """
    s = URLSafeTimedSerializer(secret_key, salt=SALT)
    return s.dumps({"c": client_id, "d": destination, "r": redirect_path, "n": secrets.token_hex(16)})


def spend(session: Session, purpose: str, nonce: str) -> bool:
    """Record ``(purpose, nonce)`` as used in the session's transaction; False when it already was.

    One ``INSERT ... ON CONFLICT DO NOTHING ... RETURNING``: a concurrent transaction that
    inserted the same key first makes this one wait (PostgreSQL) or queue for the write lock
    (SQLite), then return nothing. On SQLite, call it before the transaction reads anything
    (a deferred transaction that has read cannot take the write lock after another commit).
    Rows older than ``KEEP`` are deleted on the way (``used_at`` is indexed: cheap).
    """
    now = utcnow()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (insert(UsedToken).values(purpose=purpose, nonce=nonce, used_at=now)
            .on_conflict_do_nothing(index_elements=[UsedToken.purpose, UsedToken.nonce])
            .returning(UsedToken.nonce))
    if session.execute(stmt).scalar_one_or_none() is None:
        return False
    session.execute(delete(UsedToken).where(UsedToken.used_at < now - KEEP))
    return True


def consume(session: Session, secret_key: str, token: str, max_age: int = MAX_AGE) -> SsoGrant:
    """Validate and use up a token; raises AuthFailed when bad, expired or already used.

    The use is part of the caller's transaction: it counts once that commits (a rollback, e.g.
    for a client that cannot log in, leaves the token usable until it expires).
    """
    if max_age > KEEP.total_seconds():
        raise ValueError("max_age must be shorter than the time spent tokens are kept")
    s = URLSafeTimedSerializer(secret_key, salt=SALT)
    try:
        data = s.loads(token, max_age=max_age)
    except SignatureExpired:
        raise AuthFailed("SSO token expired") from None
    except BadSignature:
        raise AuthFailed("Invalid SSO token") from None
    try:
        client_id = int(data["c"])
        destination = str(data["d"])
        nonce = str(data["n"])
    except (TypeError, KeyError, ValueError):
        raise AuthFailed("Invalid SSO token") from None
    redirect = data.get("r")
    if not nonce or len(nonce) > 64:
        raise AuthFailed("Invalid SSO token")
    if not spend(session, PURPOSE, nonce):
        raise AuthFailed("SSO token already used")
    audit.record(session, f"client:{client_id}", "sso.consume", "client", client_id, {"destination": destination})
    return SsoGrant(client_id, destination, redirect if isinstance(redirect, str) else None)
