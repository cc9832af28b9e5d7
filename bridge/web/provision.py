"""One synchronous attempt to push a client's pending SolusVM changes, for the pages.

The outbox keeps every change; when SolusVM is down the attempt fails softly, the page
says so, and the daily cron (or the "Try again" button) applies it later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.flask_glue import get_session_factory
from bridge.models import Client
from bridge.services import outbox
from bridge.services.solusvm_client import SolusVMError
from bridge.web.common import solus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionResult:
    """Whether the client's SolusVM user exists now, with a message for the page."""

    provisioned: bool
    message: str


def _due_now(client_id: int) -> datetime:
    """A "now" at which every pending change of the client is due (an explicit retry skips the backoff)."""

    now = datetime.now(UTC)
    with get_session_factory()() as s:
        for change in outbox.pending_changes(s, client_id, include_failed=False):
            due = change.next_attempt_at
            if due is not None:
                due = due if due.tzinfo else due.replace(tzinfo=UTC)
                now = max(now, due)
    return now


def provision_now(client_id: int, *, retry: bool = False) -> ProvisionResult:
    """Apply the client's pending changes now; never raises for SolusVM trouble.

    ``retry`` (a person pressed "Try again") applies changes that wait for their backoff too.
    """

    errors: list[str] = []
    try:
        if retry:
            report = outbox.apply_pending(get_session_factory(), solus(), client_id=client_id, now=_due_now(client_id))
        else:
            report = outbox.apply_for_client(get_session_factory(), solus(), client_id)
        errors = list(getattr(report, "errors", []) or [])
    except (SolusVMError, ValueError) as exc:  # ValueError: SolusVM URL not configured
        errors = [str(exc)]
    with get_session_factory()() as s:
        client = s.get(Client, client_id)
        provisioned = bool(client is not None and client.solusvm_user_id)
    if errors:
        log.warning("SolusVM changes for client %s not applied yet: %s", client_id, "; ".join(errors))
    if provisioned:
        return ProvisionResult(True, "Your SolusVM account is ready.")
    return ProvisionResult(False, "We could not reach SolusVM just now. Your account is saved and we will "
                                  "keep trying automatically; you can also try again from your client area "
                                  "in a few minutes.")
