"""The SolusVM user lifecycle, wired into the core's client and invoice changes.

The client and invoice services call these INSIDE the same database transaction as the
change, after it is flushed and before commit. They queue outbox rows (never calling
SolusVM synchronously), except ``before_client_delete``, which must know whether the
SolusVM user still owns servers before it lets the deletion happen.

What the transaction touched is noted on its ``Work`` (``bridge.services.unit_of_work``
opens one per transaction it runs): the clients whose queued changes are tried right after
commit, within the request's budget, and the clients with a newly paid invoice, whose
overdue hold the unit of work re-evaluates before commit. A transaction run without a unit
of work (no ``Work``) only queues; the daily cron applies the changes and the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bridge.models import Client, Invoice
from bridge.services import provisioning
from bridge.services.ports import SolusVM
from bridge.services.solusvm_client import SolusVMError, SolusVMRequestError

log = logging.getLogger(__name__)

#: ``session.info`` key of the transaction's ``Work`` (set only by ``unit_of_work``).
WORK_KEY = "bridge.work"
#: ``session.info`` key: the outbox id of the SolusVM user deletion a DeleteClient queued.
DELETION_KEY = "bridge_queued_deletion"


@dataclass
class Work:
    """What one transaction touched, for the unit of work that runs it."""

    #: A SolusVM client for the waiting caller (within the request budget), or None when
    #: SolusVM is not configured; made on first use.
    solus: Callable[[], SolusVM | None]
    #: Clients whose queued SolusVM changes are tried right after commit.
    clients: set[int] = field(default_factory=set)
    #: Clients with a newly paid invoice: their overdue hold may be lifted before commit.
    paid: dict[int, str] = field(default_factory=dict)  # client id -> actor
    #: Outbox ids of SolusVM user deletions to try right after commit.
    deletions: list[int] = field(default_factory=list)


def current_work(session: Session) -> Work | None:
    """The ``Work`` of the unit of work running ``session``'s transaction, if any."""
    work = session.info.get(WORK_KEY)
    return work if isinstance(work, Work) else None


def apply_after_commit(session: Session, client_id: int | None) -> None:
    """Try the client's queued changes once the transaction has committed (best effort, by
    the unit of work; without one the cron applies them)."""
    work = current_work(session)
    if work is not None and client_id is not None:
        work.clients.add(client_id)


def on_client_created(session: Session, client: Client, actor: str) -> None:
    """Called after a client is inserted (AddClient, sign-up). Enrolment is a separate step."""


def on_client_updated(session: Session, client: Client, changes: dict[str, Any], actor: str) -> None:
    """E-mail change → PATCH the SolusVM user; status change → re-derive the desired status."""
    if client.enrolled_at is None:
        return
    if "email" in changes:
        provisioning.queue_change(session, client.id, "email", {"email": client.email}, actor=actor)
    if "status" in changes:
        provisioning.sync_status(session, client, actor=actor)
    apply_after_commit(session, client.id)


def on_client_closed(session: Session, client: Client, actor: str) -> None:
    """Closed → the SolusVM user is suspended."""
    if client.enrolled_at is None:
        return
    provisioning.sync_status(session, client, actor=actor)
    apply_after_commit(session, client.id)


def before_client_delete(session: Session, client: Client, *, delete_servers: bool, actor: str) -> None:
    """DeleteClient: refuse while the SolusVM user owns servers (unless ``delete_servers``), and
    refuse when SolusVM cannot be asked; otherwise queue the user's deletion.

    Refusing when SolusVM is down keeps DeleteClient all-or-nothing: the client stays, nothing
    is half-deleted, and the admin can retry or close the client instead.
    """
    if client.solusvm_user_id is not None:
        work = current_work(session)
        solus = work.solus() if work is not None else None  # the caller waits: never past the budget
        if solus is None:
            raise provisioning.ProvisioningError(
                "Client Delete Failed: the client has a SolusVM user and SolusVM is not configured")
        try:
            servers = list(solus.iter_servers(user_id=client.solusvm_user_id))
        except SolusVMRequestError as exc:
            raise provisioning.ProvisioningError(f"Client Delete Failed: SolusVM refused: {exc.message}") from None
        except SolusVMError:
            raise provisioning.ProvisioningError(
                "Client Delete Failed: SolusVM is unreachable, so the SolusVM user could not be checked; "
                "nothing was deleted, try again later") from None
        if servers and not delete_servers:
            raise provisioning.ProvisioningError(
                f"Client Delete Failed: the SolusVM user still owns {len(servers)} server"
                f"{'s' if len(servers) != 1 else ''}; pass deleteservers=1 to delete them first")
    row = provisioning.queue_delete(session, client, delete_servers=delete_servers, actor=actor)
    provisioning.drop_holds(session, client.id)
    if row is not None:
        session.info[DELETION_KEY] = row.id
        work = current_work(session)
        if work is not None:
            # The client row is gone after commit: apply this very change, not the client's.
            work.deletions.append(row.id)


def on_invoice_paid(session: Session, invoice: Invoice, actor: str) -> None:
    """A payment that leaves nothing overdue lifts the overdue hold (the user becomes active again
    unless an admin hold or a Closed account says otherwise): the unit of work re-evaluates the
    client's hold before commit and sends the result after it."""
    work = current_work(session)
    if work is not None:
        work.paid.setdefault(invoice.client_id, actor)
