"""Apply the queued SolusVM changes (the ``outbox`` table) in order, with retries.

Rules (docs/users.md):

- Per client, a change is applied only when every earlier change of that client is done;
  a change that keeps failing blocks the later changes of the same client only.
- Each change is read in one short transaction, sent to SolusVM outside any transaction
  (so a slow SolusVM never holds a database lock), and its outcome written in a second
  one. Every applier is idempotent, so a change applied twice (two workers, a lost answer)
  ends in the same SolusVM state:
  ``create`` looks the e-mail up first and links an existing user instead of creating a
  second one; ``status`` PUTs the wanted status; ``email`` PATCHes; ``delete`` treats 404
  as done.
- SolusVM unreachable (transport error, 429, 5xx): the change stays ``pending`` with
  ``attempts``, ``last_error`` and a doubling ``next_attempt_at``; after
  ``max_attempts`` it becomes ``failed``. A refusal (4xx) fails it at once, with
  SolusVM's message, except when the change cannot land *yet* (``Retry``): a user deletion
  with its servers that SolusVM refuses with ``422 errors.user`` while the servers are still
  being deleted, or one of its server deletions refused (e.g. a deletion already running);
  those are retried like an unreachable SolusVM. ``retry_failed`` puts failed changes back in the queue.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bridge import metrics
from bridge.models import Client, Outbox, utcnow
from bridge.services.ports import SolusVM
from bridge.services.solusvm_client import (
    SolusVMError,
    SolusVMNotFound,
    SolusVMRequestError,
    SolusVMUnavailable,
    SolusVMValidationError,
)
from bridge.settings import OutboxSettings

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 3600
#: How long a run owns a change it is applying (longer than any SolusVM call with its retries).
LEASE = timedelta(minutes=10)


class Retry(SolusVMError):
    """SolusVM is reachable but the change cannot land yet (e.g. servers still being deleted)."""


@dataclass
class ApplyReport:
    """What one ``apply_pending`` run did."""

    applied: int = 0
    failed: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.pending == 0


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes (stored as UTC); compare everything as aware UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def options(solus: SolusVM) -> dict[str, Any]:
    """Provisioning options carried by the client (see ``solusvm_client.connect``)."""
    return dict(getattr(solus, "options", {}) or {})


def pending_changes(session: Session, client_id: int | None = None, *, include_failed: bool = True
                    ) -> list[Outbox]:
    """Changes not applied yet (pending, and failed unless ``include_failed`` is False), oldest first."""
    statuses = ("pending", "failed") if include_failed else ("pending",)
    stmt = select(Outbox).where(Outbox.status.in_(statuses)).order_by(Outbox.id)
    if client_id is not None:
        stmt = stmt.where(Outbox.client_id == client_id)
    return list(session.scalars(stmt))


def retry_failed(session: Session, client_id: int | None = None) -> int:
    """Put failed changes back in the queue (attempts reset); returns how many."""
    stmt = update(Outbox).where(Outbox.status == "failed")
    if client_id is not None:
        stmt = stmt.where(Outbox.client_id == client_id)
    result = cast(CursorResult[Any], session.execute(stmt.values(status="pending", attempts=0, next_attempt_at=None)))
    session.flush()
    return int(result.rowcount or 0)


def apply_pending(session_factory: sessionmaker[Session], solus: SolusVM, *, client_id: int | None = None,
                  now: datetime | None = None, solusvm_user_id: int | None = None,
                  ids: list[int] | None = None) -> ApplyReport:
    """Apply every due change, in order per client; each outcome committed on its own.

    ``client_id`` / ``solusvm_user_id`` / ``ids`` restrict the run to one client's, one
    user's or the listed changes.
    """
    now = _aware(now) or datetime.now(UTC)
    opts = options(solus)
    max_attempts = int(opts.get("outbox_max_attempts") or OutboxSettings.max_attempts)
    retry_seconds = int(opts.get("outbox_retry_seconds") or OutboxSettings.retry_seconds)
    report = ApplyReport()
    with session_factory() as session:
        stmt = select(Outbox.id, Outbox.client_id, Outbox.solusvm_user_id, Outbox.status,
                      Outbox.next_attempt_at).where(Outbox.status.in_(("pending", "failed"))).order_by(Outbox.id)
        if client_id is not None:
            stmt = stmt.where(Outbox.client_id == client_id)
        if solusvm_user_id is not None:
            stmt = stmt.where(Outbox.solusvm_user_id == solusvm_user_id)
        if ids is not None:
            stmt = stmt.where(Outbox.id.in_(ids))
        rows = session.execute(stmt).all()
    blocked: set[tuple[str, int]] = set()
    for row_id, cid, uid, status, next_at in rows:
        # A deleted client's queued deletion is ordered by its SolusVM user instead.
        key = ("client", cid) if cid is not None else ("user", uid or -row_id)
        if key in blocked:
            if status == "pending":
                report.pending += 1
            continue
        if status == "failed":
            blocked.add(key)
            continue
        due = _aware(next_at)
        if due is not None and due > now:
            blocked.add(key)
            report.pending += 1
            continue
        outcome = _apply_one(session_factory, solus, row_id, now=now, max_attempts=max_attempts,
                             retry_seconds=retry_seconds)
        if outcome is None:
            report.applied += 1
            continue
        blocked.add(key)
        state, message = outcome
        report.errors.append(f"change {row_id} (client {cid}): {message}")
        if state == "failed":
            report.failed += 1
        else:
            report.pending += 1
    return report


def apply_for_client(session_factory: sessionmaker[Session], solus: SolusVM, client_id: int) -> ApplyReport:
    """Try a client's pending changes now (right after sign-up); never raises when SolusVM is down."""
    try:
        return apply_pending(session_factory, solus, client_id=client_id)
    except SolusVMError as exc:  # pragma: no cover - appliers catch these; belt and braces
        return ApplyReport(pending=1, errors=[str(exc)])


def _apply_one(session_factory: sessionmaker[Session], solus: SolusVM, row_id: int, *, now: datetime,
               max_attempts: int, retry_seconds: int) -> tuple[str, str] | None:
    """Apply one change; None when done, else (new status, error message)."""
    with session_factory() as session, session.begin():
        # Claim the change with a lease: a concurrent run (cron, a web "try again") sees it as
        # not due and skips it; a run that dies mid-call leaves it to be retried after the lease.
        claimed = cast(CursorResult[Any], session.execute(
            update(Outbox).where(Outbox.id == row_id, Outbox.status == "pending",
                                 or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now))
            .values(next_attempt_at=now + LEASE))).rowcount
        if not claimed:
            return "pending", "being applied by another run"
        row = session.get(Outbox, row_id)
        if row is None:
            return None
        kind, payload = row.kind, dict(row.payload or {})
        client = session.get(Client, row.client_id) if row.client_id is not None else None
        user_id = (client.solusvm_user_id if client is not None else None) or row.solusvm_user_id
        client_email = client.email if client is not None else None
        attempts = row.attempts
    error: SolusVMError | None = None
    linked: int | None = None
    try:
        linked = APPLIERS[kind](solus, payload, user_id, client_email)
    except SolusVMError as exc:
        error = exc
    except (KeyError, ValueError, TypeError) as exc:  # a malformed row: fail it rather than loop forever
        error = SolusVMRequestError(f"malformed {kind!r} change: {exc}")
    with session_factory() as session, session.begin():
        row = session.get(Outbox, row_id)
        if row is None:
            return None
        if error is None:
            row.status = "done"
            row.next_attempt_at = None
            row.applied_at = utcnow()
            row.last_error = ""
            row.attempts = attempts + 1
            if linked is not None:
                row.solusvm_user_id = linked
                if row.client_id is not None:
                    client = session.get(Client, row.client_id)
                    if client is not None:
                        client.solusvm_user_id = linked
            metrics.OUTBOX_APPLIED.labels("done").inc()
            log.info("outbox: applied %s change %d for client %s", kind, row_id, row.client_id)
            return None
        row.attempts = attempts + 1
        row.last_error = str(error)[:2000]
        retryable = isinstance(error, SolusVMUnavailable | Retry)
        if retryable and row.attempts < max_attempts:
            delay = min(MAX_RETRY_SECONDS, retry_seconds * 2 ** (row.attempts - 1))
            row.next_attempt_at = now + timedelta(seconds=delay)
            state = "pending"
        else:
            row.status = "failed"
            row.next_attempt_at = None
            state = "failed"
        metrics.OUTBOX_APPLIED.labels(state).inc()
        log.warning("outbox: %s change %d for client %s %s: %s", kind, row_id, row.client_id,
                    "will be retried" if state == "pending" else "failed", row.last_error)
        return state, row.last_error


# --- appliers: (solus, payload, solusvm user id or None, client's e-mail) -> linked user id or None -----


def strong_password(length: int = 24) -> str:
    """A random password with lower, upper, digit and symbol (SolusVM's rules); never stored."""
    alphabet = string.ascii_letters + string.digits + "!#%*+-=?@^_"
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in pw) and any(c.isupper() for c in pw) and any(c.isdigit() for c in pw)
                and any(not c.isalnum() for c in pw)):
            return pw


def _link(solus: SolusVM, user: dict[str, Any], billing_user_id: int, status: str | None) -> int:
    other = user.get("billing_user_id")
    if other not in (None, "", billing_user_id) and str(other) != str(billing_user_id):
        raise SolusVMRequestError(
            f"SolusVM user {user.get('id')} ({user.get('email')}) is already linked to billing client {other}")
    fields: dict[str, Any] = {}
    if other in (None, "") or str(other) != str(billing_user_id):
        fields["billing_user_id"] = billing_user_id
    if status and user.get("status") != status:
        fields["status"] = status
    if fields:
        solus.update_user(int(user["id"]), **fields)
    return int(user["id"])


def apply_create(solus: SolusVM, payload: dict[str, Any], user_id: int | None, client_email: str | None
                 ) -> int | None:
    """Create the SolusVM user, or link the one that already has this exact e-mail."""
    billing_user_id = int(payload["billing_user_id"])
    status = payload.get("status") or "active"
    emails = [e for e in (client_email, payload.get("email")) if e]
    for email in dict.fromkeys(emails):  # current e-mail first: an e-mail change may be queued behind us
        found = solus.find_user_by_email(email)
        if found is not None:
            return _link(solus, found, billing_user_id, status)
    opts = options(solus)
    fields: dict[str, Any] = {"email": emails[0] if emails else payload["email"], "password": strong_password(),
                              "status": status, "billing_user_id": billing_user_id}
    if opts.get("limit_group_id"):
        fields["limit_group_id"] = int(opts["limit_group_id"])
    if opts.get("roles"):
        fields["roles"] = [int(r) for r in opts["roles"]]
    try:
        user = solus.create_user(**fields)
    except SolusVMValidationError as exc:
        # A retried POST whose first answer was lost: the user exists now. Link it.
        if "email" in exc.errors:
            found = solus.find_user_by_email(fields["email"])
            if found is not None:
                return _link(solus, found, billing_user_id, status)
        raise
    return int(user["id"])


def _need_user(user_id: int | None) -> int:
    if user_id is None:
        # The create change before this one is not done: order says wait (it cannot be reached
        # normally, since an undone create blocks this change).
        raise Retry("the SolusVM user is not created yet")
    return int(user_id)


def _gone(user_id: int, exc: SolusVMNotFound) -> SolusVMRequestError:
    return SolusVMRequestError(f"SolusVM user {user_id} no longer exists ({exc.message}); "
                               "`solus-bridge users sync --fix` re-creates it", status=404)


def apply_status(solus: SolusVM, payload: dict[str, Any], user_id: int | None, _email: str | None) -> None:
    """PUT the wanted status (idempotent)."""
    uid = _need_user(user_id)
    try:
        solus.update_user(uid, status=payload["status"])
    except SolusVMNotFound as exc:
        raise _gone(uid, exc) from None
    return None


def apply_email(solus: SolusVM, payload: dict[str, Any], user_id: int | None, _email: str | None) -> None:
    """PATCH the e-mail (idempotent)."""
    uid = _need_user(user_id)
    try:
        solus.patch_user(uid, email=payload["email"])
    except SolusVMNotFound as exc:
        raise _gone(uid, exc) from None
    return None


def _find_orphan(solus: SolusVM, payload: dict[str, Any]) -> int | None:
    """The SolusVM user a deleted client's lost create made: same e-mail and ``billing_user_id``."""
    billing = payload.get("billing_user_id")
    if billing is None:
        return None
    for email in payload.get("find_by") or [payload.get("email")]:
        if not email:
            continue
        found = solus.find_user_by_email(str(email))
        if found is not None and str(found.get("billing_user_id")) == str(billing):
            return int(found["id"])
    return None


def apply_delete(solus: SolusVM, payload: dict[str, Any], user_id: int | None, _email: str | None) -> None:
    """Delete the user (and first its servers when asked); a user already gone is done.

    Without a user id (the client was deleted before its create's answer came back) the user
    is looked up by e-mail and must carry the client's ``billing_user_id``: a user someone
    else owns is never deleted. None found: SolusVM never created it, nothing to do.
    """
    if user_id is None:
        user_id = _find_orphan(solus, payload)
    if user_id is None:
        return None  # never created: nothing to delete
    try:
        servers = list(solus.iter_servers(user_id=int(user_id)))
        if servers:
            if not payload.get("delete_servers"):
                raise SolusVMRequestError(f"the SolusVM user still owns {len(servers)} servers")
            for server in servers:
                try:
                    solus.delete_server(int(server["id"]))
                except SolusVMNotFound:
                    pass
                except SolusVMRequestError as exc:
                    # e.g. a deletion from an earlier attempt is still running: wait for it
                    raise Retry(f"server {server.get('id')} of SolusVM user {user_id} cannot be deleted yet: "
                                f"{exc.message}") from exc
        try:
            solus.delete_user(int(user_id))
        except SolusVMValidationError as exc:
            if "user" in exc.errors and payload.get("delete_servers"):
                raise Retry(f"servers of SolusVM user {user_id} are still being deleted") from exc
            raise
    except SolusVMNotFound:
        return None
    return None


APPLIERS: dict[str, Callable[[SolusVM, dict[str, Any], int | None, str | None], int | None]] = {
    "create": apply_create,
    "status": apply_status,
    "email": apply_email,
    "delete": apply_delete,
}


def summary(session: Session, client_id: int | None = None) -> dict[str, int]:
    """Counts of changes by status (for the CLI and admin pages)."""
    counts: dict[str, int] = {"pending": 0, "failed": 0, "done": 0, "cancelled": 0}
    stmt = select(Outbox.status)
    if client_id is not None:
        stmt = stmt.where(or_(Outbox.client_id == client_id))
    for (status,) in session.execute(stmt):
        counts[status] = counts.get(status, 0) + 1
    return counts
