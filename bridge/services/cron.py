"""The daily automation (``solus-bridge cron``), meant for a system cron or timer.

Steps, in order, under one lock (``locks.run_lock(engine, "cron")``) so only one run works
at a time:

1. apply the overdue lock/suspend rules (``bridge.services.overdue.apply_rules``), which
   queue the status changes in the outbox;
2. send the pending SolusVM changes (``bridge.services.outbox.apply_pending``): the ones
   step 1 just queued and older ones due for a retry, so an invoice that goes past the
   lock or suspend grace period reaches SolusVM in the same run, not a day later;
3. on the 1st of a month, invoice the previous month (``invoicing.generate_period``); on
   any other day, finish the previous month if its last run did not complete (a partial
   run on the 1st is completed by the next day's cron without an operator).

A step that fails is reported and the next steps still run (the outbox step also runs when
the overdue step failed, for the older pending changes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bridge.models import InvoiceRun
from bridge.services import invoicing, locks, outbox, overdue
from contracts.rules import previous_period

log = logging.getLogger(__name__)


@dataclass
class Step:
    name: str
    status: str  # ok | failed | skipped (invoicing on a day with nothing to invoice)
    detail: str = ""


@dataclass
class CronSummary:
    """What a daily run did; ``ok`` is false when any step failed or invoicing was incomplete."""

    today: date
    steps: list[Step] = field(default_factory=list)
    invoicing: invoicing.RunSummary | None = None

    @property
    def ok(self) -> bool:
        steps_ok = all(s.status != "failed" for s in self.steps)
        return steps_ok and (self.invoicing is None or self.invoicing.ok)

    def render(self) -> str:
        """Human summary."""
        out = [f"cron {self.today.isoformat()}: " + ("ok" if self.ok else "FAILED")]
        out += [f"  {s.name}: {s.status}" + (f" ({s.detail})" if s.detail else "") for s in self.steps]
        if self.invoicing is not None:
            out.append(self.invoicing.render())
        return "\n".join(out)


def needs_invoicing(session: Session, today: date) -> tuple[int, int] | None:
    """The period to invoice today: the previous month on the 1st, or later while its last run is incomplete."""
    year, month = previous_period(today)
    if today.day == 1:
        return year, month
    period = f"{year:04d}-{month:02d}"
    statuses = set(session.scalars(select(InvoiceRun.status).where(InvoiceRun.period == period)))
    if statuses and "done" not in statuses:
        return year, month
    return None


def run_daily(config: Mapping[str, Any], *, today: date, session_factory: sessionmaker[Session] | None = None,
              solus: Any = None, mailer: Any = None, out: Callable[[str], None] | None = None,
              progress: invoicing.Progress | None = None) -> CronSummary:
    """Run the daily steps as if it were ``today``; raises ``locks.LockHeld`` if another run is busy."""
    from bridge import db

    say = out or (lambda line: log.info("%s", line))
    own_engine = None
    if session_factory is None:
        own_engine = db.make_engine(str(config["DATABASE_URL"]))
        session_factory = db.make_session_factory(own_engine)
    engine = session_factory.kw["bind"]
    summary = CronSummary(today)
    try:
        with locks.run_lock(engine, "cron"):
            if solus is None:
                from bridge.services.solusvm_client import client_from_config

                try:
                    solus = client_from_config(config)
                except ValueError as exc:
                    summary.steps.append(Step("solusvm", "failed", str(exc)))
            _overdue_step(session_factory, config, today, summary, say)
            _outbox_step(session_factory, solus, summary, say)
            _invoicing_step(session_factory, solus, config, today, mailer, progress, summary, say)
    finally:
        if own_engine is not None:
            own_engine.dispose()
    return summary


def _outbox_step(session_factory: sessionmaker[Session], solus: Any, summary: CronSummary,
                 say: Callable[[str], None]) -> None:
    if solus is None:
        summary.steps.append(Step("outbox", "failed", "SolusVM is not configured"))
        return
    say("sending pending SolusVM changes")
    try:
        report = outbox.apply_pending(session_factory, solus, now=datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - one failing step must not stop the others; reported
        log.exception("outbox step failed")
        summary.steps.append(Step("outbox", "failed", f"{type(exc).__name__}: {exc}"))
        return
    detail = f"applied {report.applied}, failed {report.failed}, pending {report.pending}"
    errors = "; ".join(report.errors[:20])
    summary.steps.append(Step("outbox", "failed" if report.failed else "ok",
                              detail + (f": {errors}" if errors else "")))


def _overdue_step(session_factory: sessionmaker[Session], config: Mapping[str, Any], today: date,
                  summary: CronSummary, say: Callable[[str], None]) -> None:
    say("applying the overdue rules")
    try:
        with session_factory() as session, session.begin():
            report = overdue.apply_rules(session, today=today, config=config)
    except Exception as exc:  # noqa: BLE001 - reported; the outbox and invoicing steps still run
        log.exception("overdue step failed")
        summary.steps.append(Step("overdue", "failed", f"{type(exc).__name__}: {exc}"))
        return
    summary.steps.append(Step("overdue", "ok", _counts(report)))


def _counts(report: Any) -> str:
    """``locked 2, suspended 0, ...``: id lists as counts, so the line stays short."""
    fields = getattr(report, "__dataclass_fields__", None)
    if not fields:
        return str(report)
    parts = []
    for name in fields:
        value = getattr(report, name)
        parts.append(f"{name} {len(value) if isinstance(value, list | tuple | set) else value}")
    return ", ".join(parts)


def _invoicing_step(session_factory: sessionmaker[Session], solus: Any, config: Mapping[str, Any], today: date,
                    mailer: Any, progress: invoicing.Progress | None, summary: CronSummary,
                    say: Callable[[str], None]) -> None:
    with session_factory() as session:
        due = needs_invoicing(session, today)
    if due is None:
        summary.steps.append(Step("invoicing", "skipped", "not the 1st and nothing left to finish"))
        return
    if solus is None:
        summary.steps.append(Step("invoicing", "failed", "SolusVM is not configured"))
        return
    year, month = due
    say(f"invoicing {year:04d}-{month:02d}")
    try:
        summary.invoicing = invoicing.generate_period(session_factory, solus, year, month, config=config,
                                                      mailer=mailer, progress=progress)
    except invoicing.PeriodNotOver as exc:
        summary.steps.append(Step("invoicing", "failed", str(exc)))
        return
    summary.steps.append(Step("invoicing", "ok" if summary.invoicing.ok else "failed",
                              f"{summary.invoicing.invoices} invoices"))


def today_utc() -> date:
    """Today's date in UTC (the billing calendar is UTC, like SolusVM's usage)."""
    return datetime.now(UTC).date()
