"""The SolusVM user lifecycle, wired into the core's client and invoice changes.

The client and invoice services call these INSIDE the same database transaction as the
change, after it is flushed and before commit. They queue outbox rows (never calling
SolusVM synchronously), except ``before_client_delete``, which must know whether the
SolusVM user still owns servers before it lets the deletion happen.

When the session carries the app config (``session.info["bridge_config"]``, set by the
WHMCS API, the ``users`` CLI commands and invoicing) the queued changes are also tried right
after commit, once and quickly, and the overdue rules use the configured thresholds;
otherwise (or when SolusVM is down) the daily cron applies them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from bridge.models import Client, Invoice

log = logging.getLogger(__name__)

CONFIG_KEY = "bridge_config"
_AFTER_COMMIT = "bridge_apply_after_commit"


def solus_for(session: Session, **kwargs: Any) -> Any | None:
    """A SolusVM client built from the session's app config, or None when none is known."""
    from bridge.services.solusvm_client import client_from_config

    config = session.info.get(CONFIG_KEY)
    if not isinstance(config, Mapping) or not config.get("SOLUSVM_URL"):
        return None
    return client_from_config(config, **kwargs)


def apply_after_commit(session: Session, client_id: int | None) -> None:
    """Try the client's queued changes once the transaction has committed (best effort)."""
    if session.info.get(CONFIG_KEY) is None or client_id is None:
        return
    pending: set[int] = session.info.setdefault(_AFTER_COMMIT, set())
    first = not pending
    pending.add(client_id)
    if not first:
        return

    def run(sess: Session) -> None:
        ids = sorted(sess.info.pop(_AFTER_COMMIT, set()))
        try:
            # Within the request's budget: the caller (a web or API request) is waiting; what
            # does not fit stays pending in the outbox and the cron applies it.
            solus = solus_for(sess, request_budget=True)
            if solus is None or not ids:
                return
            from bridge.db import make_session_factory
            from bridge.services import outbox

            factory = make_session_factory(sess.get_bind())
            for cid in ids:
                outbox.apply_pending(factory, solus, client_id=cid)
        except Exception:  # noqa: BLE001 - the commit has happened; never fail it, the cron retries
            log.exception("applying SolusVM changes of clients %s after commit failed", ids)

    def discard(sess: Session) -> None:
        sess.info.pop(_AFTER_COMMIT, None)

    event.listen(session, "after_commit", run, once=True)
    event.listen(session, "after_rollback", discard, once=True)


def on_client_created(session: Session, client: Client, actor: str) -> None:
    """Called after a client is inserted (AddClient, sign-up). Enrolment is a separate step."""


def on_client_updated(session: Session, client: Client, changes: dict[str, Any], actor: str) -> None:
    """E-mail change → PATCH the SolusVM user; status change → re-derive the desired status."""
    from bridge.services import provisioning

    if client.enrolled_at is None:
        return
    if "email" in changes:
        provisioning.queue_change(session, client.id, "email", {"email": client.email}, actor=actor)
    if "status" in changes:
        provisioning.sync_status(session, client, actor=actor)
    apply_after_commit(session, client.id)


def on_client_closed(session: Session, client: Client, actor: str) -> None:
    """Closed → the SolusVM user is suspended."""
    from bridge.services import provisioning

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
    from bridge.services import provisioning
    from bridge.services.solusvm_client import SolusVMError, SolusVMRequestError

    if client.solusvm_user_id is not None:
        solus = solus_for(session, request_budget=True)  # the caller waits: never past the budget
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
        # The client row is gone after commit: apply this very change, not the client's.
        _apply_deletion_after_commit(session, row.id)


#: ``session.info`` key: the outbox id of the SolusVM user deletion a DeleteClient queued.
DELETION_KEY = "bridge_queued_deletion"


def _apply_deletion_after_commit(session: Session, row_id: int) -> None:
    if session.info.get(CONFIG_KEY) is None:
        return

    def run(sess: Session) -> None:
        try:
            # The commit is done and the caller waits: one try within the request's budget;
            # what does not fit stays pending and the cron finishes it.
            solus = solus_for(sess, request_budget=True)
            if solus is None:
                return
            from bridge.db import make_session_factory
            from bridge.services import outbox

            outbox.apply_pending(make_session_factory(sess.get_bind()), solus, ids=[row_id])
        except Exception:  # noqa: BLE001 - the commit has happened; never fail it, the cron retries
            log.exception("deleting the SolusVM user of outbox change %s after commit failed", row_id)

    event.listen(session, "after_commit", run, once=True)


def on_invoice_paid(session: Session, invoice: Invoice, actor: str) -> None:
    """A payment that leaves nothing overdue lifts the overdue hold (the user becomes active again
    unless an admin hold or a Closed account says otherwise)."""
    from bridge.services import overdue

    client = session.get(Client, invoice.client_id)
    if client is None or client.enrolled_at is None:
        return
    overdue.refresh_client(session, client, today=datetime.now(UTC).date(), config=session.info.get(CONFIG_KEY),
                           actor=actor, only_release=True)
    apply_after_commit(session, client.id)
