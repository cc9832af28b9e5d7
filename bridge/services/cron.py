"""The daily automation (``solus-bridge cron``), meant for a system cron or timer.

Steps, in order, under one lock (``locks.run_lock(engine, "cron")``) so only one run works
at a time:

1. apply the overdue lock/suspend rules (``bridge.services.overdue.apply_rules``), which
   queue the status changes in the outbox;
2. send the pending SolusVM changes (``bridge.services.outbox.apply_pending``): the ones
   step 1 just queued and older ones due for a retry, so an invoice that goes past the
   lock or suspend grace period reaches SolusVM in the same run, not a day later;
3. invoice every ended month that has no ``done`` run yet, oldest first
   (``invoicing.generate_period``): on the 1st that is the previous month; on any other day
   it finishes a month whose run did not complete (``partial``, ``failed``, ``abandoned``)
   and invoices a month whose run was never recorded at all (the machine was down on the
   1st, the cron was killed in its first second, the database was unreachable). It looks
   back ``INVOICE_CATCHUP_MONTHS`` months (default 3) and never at a month that ended
   before the first client was added, so a fresh install does not invoice history;
4. housekeeping: delete rate-limit windows that no limit reads any more (older than
   ``RATE_LIMIT_KEEP_SECONDS``, two days: the longest window is one day) and web sessions
   older than the session lifetime (``PERMANENT_SESSION_LIFETIME``), so neither table grows
   without bound on a busy or attacked site.

A step that fails is reported and the next steps still run (the outbox step also runs when
the overdue step failed, for the older pending changes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bridge import db
from bridge.models import Client, InvoiceRun
from bridge.services import invoicing, locks, outbox, overdue, ratelimit, web_sessions
from bridge.services.ports import Mailer, SolusVM
from bridge.services.solusvm_client import connect
from bridge.services.unit_of_work import make_session_factory
from bridge.settings import InvoicingSettings, OverdueSettings, Settings
from contracts.solusvm_usage import month_bounds, previous_period

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
    runs: list[invoicing.RunSummary] = field(default_factory=list)  # every month invoiced, oldest first

    @property
    def invoicing(self) -> invoicing.RunSummary | None:
        """The last month invoiced, if any."""
        return self.runs[-1] if self.runs else None

    @property
    def ok(self) -> bool:
        steps_ok = all(s.status != "failed" for s in self.steps)
        return steps_ok and all(run.ok for run in self.runs)

    def render(self) -> str:
        """Human summary."""
        out = [f"cron {self.today.isoformat()}: " + ("ok" if self.ok else "FAILED")]
        out += [f"  {s.name}: {s.status}" + (f" ({s.detail})" if s.detail else "") for s in self.steps]
        out += [run.render() for run in self.runs]
        return "\n".join(out)


def due_periods(session: Session, today: date, horizon: int = InvoicingSettings.catchup_months
                ) -> list[tuple[int, int]]:
    """The months to invoice today, oldest first: every ended month of the last ``horizon``
    without a ``done`` run. A month with no run at all that ended before the first client was
    added is skipped (nothing to bill; a fresh install does not invoice history), except the
    previous month on the 1st, which is always run, as it always was."""
    first_client = session.scalar(select(func.min(Client.datecreated)))
    done = set(session.scalars(select(InvoiceRun.period).where(InvoiceRun.status == "done").distinct()))
    started = set(session.scalars(select(InvoiceRun.period).distinct()))
    due: list[tuple[int, int]] = []
    year, month = previous_period(today)
    for back in range(max(1, horizon)):
        ended = date(year + month // 12, month % 12 + 1, 1)  # the 1st of the following month
        always = back == 0 and today.day == 1
        period = f"{year:04d}-{month:02d}"
        if period not in done:
            if always or period in started or (first_client is not None and ended > first_client):
                due.append((year, month))
            # else: no run was ever started and it ended before there was anyone to bill
        year, month = previous_period(date(year, month, 1))
    return due[::-1]


def needs_invoicing(session: Session, today: date) -> tuple[int, int] | None:
    """The oldest month to invoice today (``due_periods`` with the default horizon), or None."""
    due = due_periods(session, today)
    return due[0] if due else None


def run_daily(settings: Settings, *, today: date, session_factory: sessionmaker[Session] | None = None,
              solus: SolusVM | None = None, mailer: Mailer | None = None, out: Callable[[str], None] | None = None,
              progress: invoicing.Progress | None = None) -> CronSummary:
    """Run the daily steps as if it were ``today``; raises ``locks.LockHeld`` if another run is busy."""
    say = out or (lambda line: log.info("%s", line))
    own_engine = None
    if session_factory is None:
        own_engine = db.make_engine(settings.database_url)
        session_factory = make_session_factory(own_engine)
    engine = session_factory.kw["bind"]
    summary = CronSummary(today)
    try:
        with locks.run_lock(engine, "cron"):
            if solus is None:
                try:
                    solus = connect(settings.solusvm, settings.outbox)
                except ValueError as exc:
                    summary.steps.append(Step("solusvm", "failed", str(exc)))
            _overdue_step(session_factory, settings.overdue, today, summary, say)
            _outbox_step(session_factory, solus, summary, say)
            _invoicing_step(session_factory, solus, settings, today, mailer, progress, summary, say)
            _housekeeping_step(session_factory, int(settings.web.session_lifetime.total_seconds()), summary, say)
    finally:
        if own_engine is not None:
            own_engine.dispose()
    return summary


def _outbox_step(session_factory: sessionmaker[Session], solus: SolusVM | None, summary: CronSummary,
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


def _overdue_step(session_factory: sessionmaker[Session], settings: OverdueSettings, today: date,
                  summary: CronSummary, say: Callable[[str], None]) -> None:
    say("applying the overdue rules")
    try:
        with session_factory() as session, session.begin():
            report = overdue.apply_rules(session, today=today, settings=settings)
    except Exception as exc:  # noqa: BLE001 - reported; the outbox and invoicing steps still run
        log.exception("overdue step failed")
        summary.steps.append(Step("overdue", "failed", f"{type(exc).__name__}: {exc}"))
        return
    summary.steps.append(Step("overdue", "ok", _counts(report)))


# The longest rate-limit window is a day (the per-account failure tiers); two days keeps
# every window a limit can still read.
RATE_LIMIT_KEEP_SECONDS = 2 * 86400


def _housekeeping_step(session_factory: sessionmaker[Session], max_age: int,
                       summary: CronSummary, say: Callable[[str], None], *, now: float | None = None) -> None:
    """``max_age``: the session lifetime in seconds (``PERMANENT_SESSION_LIFETIME``)."""
    say("housekeeping: expired rate-limit windows and web sessions")
    now = datetime.now(UTC).timestamp() if now is None else now
    try:
        windows = ratelimit.purge(session_factory.kw["bind"], older_than=now - RATE_LIMIT_KEEP_SECONDS)
        with session_factory() as session, session.begin():
            ended = web_sessions.purge(session, max_age, now=now)
    except Exception as exc:  # noqa: BLE001 - reported; housekeeping never fails the billing steps
        log.exception("housekeeping step failed")
        summary.steps.append(Step("housekeeping", "failed", f"{type(exc).__name__}: {exc}"))
        return
    summary.steps.append(Step("housekeeping", "ok", f"rate-limit windows {windows}, sessions {ended}"))


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


def _invoicing_step(session_factory: sessionmaker[Session], solus: SolusVM | None, settings: Settings, today: date,
                    mailer: Mailer | None, progress: invoicing.Progress | None, summary: CronSummary,
                    say: Callable[[str], None]) -> None:
    horizon = settings.invoicing.catchup_months
    with session_factory() as session:
        due = due_periods(session, today, horizon)
    if not due:
        summary.steps.append(Step("invoicing", "skipped", "every month is invoiced"))
        return
    if solus is None:
        summary.steps.append(Step("invoicing", "failed", "SolusVM is not configured"))
        return
    # ``--date`` in the future: months still open are not tried, only the latest one is, to say so.
    now = datetime.now(UTC)
    runnable = [p for p in due if month_bounds(*p)[1] <= now]
    if len(runnable) < len(due):
        runnable.append(due[-1])
    details, failed = [], False
    for year, month in runnable:
        period = f"{year:04d}-{month:02d}"
        say(f"invoicing {period}")
        try:
            run = invoicing.generate_period(session_factory, solus, year, month, settings=settings,
                                            mailer=mailer, progress=progress)
        except invoicing.PeriodNotOver as exc:
            details.append(str(exc))
            failed = True
            continue
        summary.runs.append(run)
        failed = failed or not run.ok
        details.append(f"{period}: {run.invoices} invoices" + ("" if run.ok else ", incomplete"))
    summary.steps.append(Step("invoicing", "failed" if failed else "ok", "; ".join(details)))


def today_utc() -> date:
    """Today's date in UTC (the billing calendar is UTC, like SolusVM's usage)."""
    return datetime.now(UTC).date()
