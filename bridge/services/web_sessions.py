"""Server-side log-in sessions (table ``web_sessions``), one row per logged-in browser.

Plain Python (no Flask): functions take a ``Session`` and flush, the caller commits. The
cookie (signed by Flask, readable by its holder) carries only a random token; the row is
keyed by the token's SHA-256, so neither the database nor a log of it yields a usable cookie.
Rows are shared by every worker process and machine through the database, on SQLite and
PostgreSQL alike: deleting a row ends that session everywhere at once.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import delete, event, inspect, select
from sqlalchemy.orm import Session

from bridge.models import Client, WebSession

KINDS = ("client", "admin")


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, kind: str, account_id: int, *, ip: str = "", user_agent: str = "",
          now: float | None = None) -> str:
    """Record a new session; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id=_key(token), kind=kind, account_id=account_id,
                           created_at=int(time.time() if now is None else now),
                           ip=(ip or "")[:45], user_agent=(user_agent or "")[:200]))
    session.flush()
    return token


def is_valid(session: Session, kind: str, account_id: int, token: object, max_age: int,
             *, now: float | None = None) -> bool:
    """True while the row of ``token`` exists for this account and is younger than ``max_age`` s."""
    if not isinstance(token, str) or not token:
        return False
    row = session.get(WebSession, _key(token))
    if row is None or row.kind != kind or row.account_id != account_id:
        return False
    return row.created_at + max_age > (time.time() if now is None else now)


def end(session: Session, token: object) -> None:
    """End one session (log-out)."""
    if isinstance(token, str) and token:
        session.execute(delete(WebSession).where(WebSession.id == _key(token)))


def end_all(session: Session, kind: str, account_id: int) -> int:
    """End every session of one account; returns how many there were."""
    result = session.execute(delete(WebSession).where(WebSession.kind == kind,
                                                      WebSession.account_id == account_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def end_by_id(session: Session, kind: str, account_id: int, row_id: str) -> bool:
    """End the session listed as ``row_id`` (an admin's button); False when it is not there."""
    result = session.execute(delete(WebSession).where(WebSession.id == row_id, WebSession.kind == kind,
                                                      WebSession.account_id == account_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_for(session: Session, kind: str, account_id: int, max_age: int,
             *, now: float | None = None) -> list[WebSession]:
    """The account's live sessions, newest first."""
    cutoff = int((time.time() if now is None else now) - max_age)
    return list(session.scalars(select(WebSession).where(
        WebSession.kind == kind, WebSession.account_id == account_id, WebSession.created_at > cutoff)
        .order_by(WebSession.created_at.desc())))


def purge_account(session: Session, kind: str, account_id: int, max_age: int, *, now: float | None = None) -> int:
    """Delete one account's sessions older than ``max_age`` seconds (at each of its log-ins)."""
    cutoff = int((time.time() if now is None else now) - max_age)
    result = session.execute(delete(WebSession).where(WebSession.kind == kind, WebSession.account_id == account_id,
                                                      WebSession.created_at <= cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge(session: Session, max_age: int, *, now: float | None = None) -> int:
    """Delete sessions older than ``max_age`` seconds; returns rows removed."""
    cutoff = int((time.time() if now is None else now) - max_age)
    result = session.execute(delete(WebSession).where(WebSession.created_at <= cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@event.listens_for(Session, "before_flush")
def _end_sessions_of_closed_clients(session: Session, _context: object, _instances: object) -> None:
    """A client that is closed or deleted, by any door (WHMCS CloseClient, UpdateClient status,
    DeleteClient, the CLI), loses every session at once, so re-opening it later revives none."""

    ended = [obj.id for obj in session.deleted if isinstance(obj, Client) and obj.id is not None]
    for obj in session.dirty:
        if isinstance(obj, Client) and obj.id is not None and obj.status == "Closed":
            if inspect(obj).attrs.status.history.has_changes():
                ended.append(obj.id)
    if ended:
        session.execute(delete(WebSession).where(WebSession.kind == "client", WebSession.account_id.in_(ended)))
