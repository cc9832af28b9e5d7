"""Overdue invoices lock, then suspend, the SolusVM user; paying them makes it active again.

A client's *overdue stage* on ``today``: the oldest unpaid invoice (status Unpaid or
Collections) whose due date is ``d`` days in the past decides it:

- ``d >= OVERDUE_SUSPEND_DAYS`` (default 14; never before the lock): ``suspended``;
- ``d >= OVERDUE_LOCK_DAYS`` (default 7): ``locked``;
- otherwise nothing.

(The thresholds are ``bridge.settings.OverdueSettings``; the callers pass theirs.)

Clients in a group with ``susp_term_exempt`` are never locked or suspended by this rule.
The stage becomes the client's overdue hold (see ``bridge.services.provisioning``), and a
changed desired status is queued for SolusVM (the cron's outbox step, which runs right
after the overdue step, sends it). Everything is driven by the ``today``
argument, never by the wall clock, so tests and ``solus-bridge cron --date`` control it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.models import Client, Invoice
from bridge.services import audit, invoices, provisioning
from bridge.settings import OverdueSettings

UNPAID = ("Unpaid", "Collections")


@dataclass
class OverdueReport:
    """What one ``apply_rules`` run changed (client ids per outcome)."""

    locked: list[int] = field(default_factory=list)
    suspended: list[int] = field(default_factory=list)
    reactivated: list[int] = field(default_factory=list)
    unchanged: int = 0


def stage(session: Session, client: Client, *, today: date, lock_days: int, suspend_days: int
          ) -> tuple[str | None, str]:
    """The overdue stage of ``client`` on ``today`` and the reason (oldest overdue invoice)."""
    if client.group is not None and client.group.susp_term_exempt:
        return None, ""
    # Only an invoice that still owes money counts; the balance is computed in Python because
    # SQL arithmetic on Numeric columns is float arithmetic on SQLite.
    candidates = session.scalars(
        select(Invoice).where(Invoice.client_id == client.id, Invoice.status.in_(UNPAID), Invoice.duedate < today)
        .order_by(Invoice.duedate, Invoice.id))
    oldest = next((inv for inv in candidates if invoices.balance(session, inv) > 0), None)
    if oldest is None:
        return None, ""
    days: int = (today - oldest.duedate).days
    reason = f"invoice #{oldest.invoicenum or oldest.id} is {days} days overdue"
    if days >= suspend_days:
        return "suspended", reason
    if days >= lock_days:
        return "locked", reason
    return None, ""


def refresh_client(session: Session, client: Client, *, today: date, settings: OverdueSettings,
                   actor: str, only_release: bool = False) -> tuple[str | None, str | None]:
    """Recompute one client's overdue hold; returns (old hold, new hold).

    ``only_release`` (a payment) may lower the hold but never raise it.
    """
    lock_days, suspend_days = settings.thresholds
    new, reason = stage(session, client, today=today, lock_days=lock_days, suspend_days=suspend_days)
    h = provisioning.holds(session, client.id)
    old = h.get("overdue")
    if only_release and provisioning.SEVERITY.get(new or "active", 0) > provisioning.SEVERITY.get(old or "active", 0):
        return old, old
    if new == old and (new is None or h.get("overdue_reason") == reason):
        return old, new
    if new is None:
        h.pop("overdue", None)
        h.pop("overdue_reason", None)
        h.pop("overdue_waived", None)  # paid up: a future overdue invoice counts again
    else:
        h["overdue"] = new
        h["overdue_reason"] = reason
    provisioning.save_holds(session, client.id, h)
    if new != old:
        audit.record(session, actor, "solusvm.overdue", "client", client.id,
                     {"from": old, "to": new, "reason": reason, "today": today})
    provisioning.sync_status(session, client, actor=actor)
    return old, new


def apply_rules(session: Session, *, today: date, settings: OverdueSettings, actor: str = "cron"
                ) -> OverdueReport:
    """Apply the overdue rules to every enrolled client (flushes; the caller commits).

    Changed statuses are only queued: the caller sends them (the daily cron runs its outbox
    step right after this one, so a lock reaches SolusVM in the same run).
    """
    report = OverdueReport()
    for client in session.scalars(select(Client).where(Client.enrolled_at.is_not(None)).order_by(Client.id)):
        before = provisioning.desired_status(client, session)
        refresh_client(session, client, today=today, settings=settings, actor=actor)
        after = provisioning.desired_status(client, session)
        if before == after:
            report.unchanged += 1
            continue
        if after == "suspended":
            report.suspended.append(client.id)
        elif after == "locked":
            report.locked.append(client.id)
        else:
            report.reactivated.append(client.id)
    return report
