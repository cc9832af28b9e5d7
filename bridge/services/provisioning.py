"""Billing is the master of SolusVM users: enrolment, desired status, queued changes.

Nothing here calls SolusVM. Every change is written to the ``outbox`` table in the
caller's transaction (flushed, not committed) and applied later, in order, by
``bridge.services.outbox``; so a change is never lost when SolusVM is down and never sent
when the billing transaction rolls back.

Desired status (see docs/users.md): three independent *holds* decide what SolusVM's
``status`` must be, and the most severe one wins (``active`` < ``locked`` < ``suspended``):

- the client's billing status: ``Closed`` holds ``suspended``;
- an admin hold (``set_status`` locked/suspended; ``active`` clears it);
- the overdue hold written by ``bridge.services.overdue``.

An admin setting ``active`` also waives the current overdue stage, so the daily cron does
not undo the admin's decision the next morning; it re-applies only when the client's
overdue stage gets worse, or after the overdue invoices are paid and a new one goes
overdue.

The holds live in the ``solusvm_holds`` table (``bridge.models.SolusVMHold``, one row per
client, removed with the client); ``holds``/``save_holds`` present a row as a plain dict.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bridge.errors import BridgeError, NotFound, ValidationFailed
from bridge.models import Client, Outbox, SolusVMHold, utcnow
from bridge.services import audit

STATUSES = ("active", "locked", "suspended")
SEVERITY = {"active": 0, "locked": 1, "suspended": 2}
KINDS = ("create", "status", "email", "delete")


class ProvisioningError(BridgeError):
    """A user-lifecycle request that cannot be done (maps to a WHMCS error)."""


#: The keys of a holds dict, one column each of ``solusvm_holds``.
HOLD_FIELDS = ("admin", "admin_reason", "overdue", "overdue_reason", "overdue_waived", "queued_status")


def holds(session: Session, client_id: int) -> dict[str, Any]:
    """The stored holds of a client: ``admin``, ``admin_reason``, ``overdue``, ``overdue_reason``,
    ``overdue_waived``, ``queued_status``; only those that are set (``{}`` when none)."""
    row = session.get(SolusVMHold, int(client_id))
    if row is None:
        return {}
    return {name: getattr(row, name) for name in HOLD_FIELDS if getattr(row, name) is not None}


def save_holds(session: Session, client_id: int, value: dict[str, Any]) -> None:
    """Store the holds of a client, replacing the previous ones; a key left out is cleared (flushes)."""
    unknown = set(value) - set(HOLD_FIELDS)
    if unknown:
        raise ValueError(f"unknown SolusVM hold field(s): {', '.join(sorted(unknown))}")
    row = session.get(SolusVMHold, int(client_id))
    if row is None:
        row = SolusVMHold(client_id=int(client_id))
        session.add(row)
    for name in HOLD_FIELDS:
        setattr(row, name, value.get(name))
    row.updated_at = utcnow()
    session.flush()


def drop_holds(session: Session, client_id: int) -> None:
    """Forget the holds (the client is being deleted; the foreign key would also cascade)."""
    row = session.get(SolusVMHold, int(client_id))
    if row is not None:
        session.delete(row)
        session.flush()


def _worst(*statuses: str | None) -> str:
    best = "active"
    for s in statuses:
        if s in SEVERITY and SEVERITY[s] > SEVERITY[best]:
            best = s
    return best


def status_and_reason(session: Session, client: Client) -> tuple[str, str]:
    """The status SolusVM must have for ``client`` and a human reason for it."""
    h = holds(session, client.id)
    candidates: list[tuple[str, str]] = []
    if client.status == "Closed":
        candidates.append(("suspended", "the billing account is closed"))
    if h.get("admin") in SEVERITY:
        candidates.append((h["admin"], h.get("admin_reason") or f"{h['admin']} by an administrator"))
    overdue = h.get("overdue")
    if overdue in SEVERITY and SEVERITY[overdue] > SEVERITY.get(h.get("overdue_waived") or "active", 0):
        candidates.append((overdue, h.get("overdue_reason") or "an invoice is overdue"))
    status = _worst(*(c[0] for c in candidates))
    reasons = [r for s, r in candidates if s == status]
    return status, (reasons[0] if reasons else "")


def desired_status(client: Client, session: Session | None = None) -> str:
    """What SolusVM's ``status`` must be for ``client`` (active, locked or suspended)."""
    sess = session or object_session(client)
    if sess is None:
        return "suspended" if client.status == "Closed" else "active"
    return status_and_reason(sess, client)[0]


def queue_change(session: Session, client_id: int | None, kind: str, payload: dict[str, Any], *,
                 actor: str, solusvm_user_id: int | None = None) -> Outbox:
    """Record one SolusVM change in the outbox (flushes; applied later, in order per client)."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox change kind {kind!r}")
    if solusvm_user_id is None and client_id is not None:
        client = session.get(Client, client_id)
        solusvm_user_id = client.solusvm_user_id if client is not None else None
    row = Outbox(client_id=client_id, solusvm_user_id=solusvm_user_id, kind=kind, payload=payload,
                 status="pending", attempts=0, last_error="", next_attempt_at=None, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor, f"solusvm.queue.{kind}", "client", client_id or "",
                 {"outbox_id": row.id, "payload": payload})
    return row


def enroll_client(session: Session, client_id: int, *, actor: str) -> Client:
    """Mark a client enrolled and queue the "create or link the SolusVM user" change.

    Enrolling twice is harmless: an already enrolled client gets no second create.
    """
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound("Client ID Not Found")
    if client.status == "Closed":
        raise ProvisioningError("A closed client cannot be enrolled for SolusVM")
    if client.enrolled_at is not None:
        return client
    client.enrolled_at = utcnow()
    session.flush()
    queue_change(session, client.id, "create",
                 {"email": client.email, "billing_user_id": client.id}, actor=actor)
    return client


def sync_status(session: Session, client: Client, *, actor: str, force: bool = False) -> Outbox | None:
    """Queue a status change when the desired status differs from the last one queued.

    ``force`` queues it anyway (an admin asking again re-asserts billing's view).
    """
    if client.enrolled_at is None:
        return None
    status, reason = status_and_reason(session, client)
    h = holds(session, client.id)
    if not force and h.get("queued_status", "active") == status:
        return None
    h["queued_status"] = status
    save_holds(session, client.id, h)
    return queue_change(session, client.id, "status", {"status": status, "reason": reason}, actor=actor)


def set_status(session: Session, client_id: int, status: str, *, actor: str, reason: str = "") -> Client:
    """An administrator's lock/suspend (``locked``/``suspended``) or release (``active``).

    Records the admin hold, then queues the resulting desired status.
    """
    if status not in STATUSES:
        raise ValidationFailed("Invalid status: use active, locked or suspended")
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound("Client ID Not Found")
    if client.enrolled_at is None:
        raise ProvisioningError("The client is not enrolled for SolusVM")
    h = holds(session, client.id)
    if status == "active":
        h.pop("admin", None)
        h.pop("admin_reason", None)
        if h.get("overdue"):
            h["overdue_waived"] = h["overdue"]  # the admin's release outlasts today's overdue stage
    else:
        h["admin"] = status
        h["admin_reason"] = reason or f"{status} by an administrator"
    save_holds(session, client.id, h)
    audit.record(session, actor, "solusvm.set_status", "client", client.id, {"status": status, "reason": reason})
    sync_status(session, client, actor=actor, force=True)
    return client


def queue_delete(session: Session, client: Client, *, delete_servers: bool, actor: str) -> Outbox | None:
    """Queue deletion of the client's SolusVM user and cancel its other pending changes.

    A client that was enrolled but has no ``solusvm_user_id`` yet (the create's answer was
    lost, or the create is still queued) may still have a user in SolusVM: the deletion is
    queued anyway, with the e-mails and billing id to find that user by
    (``outbox.apply_delete``); when SolusVM never created it, the deletion finds nothing and is done.
    """
    emails = [client.email]
    for row in session.scalars(select(Outbox).where(Outbox.client_id == client.id,
                                                    Outbox.status.in_(("pending", "failed")))):
        if row.kind in ("create", "email") and (row.payload or {}).get("email"):
            emails.append(str(row.payload["email"]))  # the user may carry an older or newer e-mail
        row.last_error = (row.last_error + "; " if row.last_error else "") + "cancelled: the client was deleted"
        row.status = "cancelled"
    session.flush()
    if client.solusvm_user_id is None:
        if client.enrolled_at is None:
            return None  # never enrolled: billing never asked SolusVM for a user
        return queue_change(session, client.id, "delete",
                            {"delete_servers": delete_servers, "email": client.email, "billing_user_id": client.id,
                             "find_by": list(dict.fromkeys(e.strip().lower() for e in emails))},
                            actor=actor, solusvm_user_id=None)
    return queue_change(session, client.id, "delete", {"delete_servers": delete_servers, "email": client.email},
                        actor=actor, solusvm_user_id=client.solusvm_user_id)
