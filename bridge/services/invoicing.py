"""Postpaid invoicing (seeds 001 steps 2 and 10, 003): one itemized invoice per client and month.

``generate_period`` runs in three phases:

1. **Fetch**: every page of ``GET /api/v1/usage`` for the month is streamed into a spool (a
   temporary SQLite file, not memory), keyed by the client id (``billing_user_id``). The
   mock lists usage by server, not by user, so grouping needs this external sort; memory
   stays flat however many clients there are. A thread reads the pages while the items
   already read are checked (``usage.prefetched``). If a page still fails after the client's
   retries, the run falls back to one request per SolusVM user (``filter[user_id]``) and
   invoices every client whose usage it could read completely; the rest are reported.
2. **Invoice**: ``BATCH_CLIENTS`` clients per transaction (``_batch_work``): skip clients
   whose (client, period) invoice exists, build the lines (design §3 money) with one price
   per pricing key, and insert the invoices with multi-row INSERTs
   (``invoices.prepare_invoice``/``insert_prepared``); the unique (client_id, period) key is
   the final guard against a concurrent run (the batch then goes through
   ``invoices.create_invoice`` one client at a time, each in a savepoint). A client that
   fails is rolled back alone; a batch whose transaction fails is retried one client per
   transaction. A killed run loses at most its open batch, which the rerun invoices.
   ``INVOICE_PAUSE`` > 0 makes every client its own transaction, as before batches.
3. **Mail**: after the commit, the client gets the summary by e-mail. A mail failure never
   undoes the invoice; it is reported, and the next run for the period re-sends every
   invoice of the period that has no ``invoice.mailed`` audit entry (at-least-once).

Every run is recorded in ``invoice_runs`` (``running``, then ``done``, ``partial`` or
``failed``) and holds the ``invoicing`` run lock *shared* (``locks.shared_run_lock``) while
it works, so runs may still overlap. A run that finds itself alone (it got the lock
exclusively, so no other run is alive) first marks rows still ``running`` as ``abandoned``
(with ``finished_at``): their process died (``kill -9``, a crash, a reboot) without finishing.
The new run lists them in its summary and log. A run's ``request_id`` (the id its SolusVM
calls carry as ``X-Request-ID``) is kept in its summary.

Usage items that disagree with the cap rule are reported and, by default
(``INVOICE_ON_MISMATCH = "hold"``), the client is not invoiced until an operator looks;
``"solusvm"`` bills the tokens SolusVM reported (still reported).
"""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bridge import logs, metrics
from bridge.billing import AppliedTax, format_money, quantize_money, token_amount
from bridge.db import is_lock_conflict
from bridge.errors import BridgeError, DuplicateInvoice, NotFound, ValidationFailed
from bridge.models import AuditLog, Client, Currency, Invoice, InvoiceRun, utcnow
from bridge.services import audit, invoice_document, invoices, locks, pricing
from bridge.services.mailer import MailError
from bridge.services.ports import Mailer, SolusVM
from bridge.services.solusvm_client import SolusVMError
from bridge.services.unit_of_work import UnitOfWork
from bridge.services.usage import UsageFormatError, UsageItem, iter_usage_items, usage_items_so_far
from bridge.services.usage_lines import LinePrice, item_lines, line_price
from bridge.settings import InvoicingSettings, Settings
from contracts.solusvm_usage import month_bounds

log = logging.getLogger(__name__)

ACTOR = "invoicing"
LOCK_NAME = "invoicing"  # held shared by every run (locks.shared_run_lock)
MAX_LISTED = 500  # failures/problems kept in a summary; the counts stay exact
BATCH_CLIENTS = 250  # clients invoiced per transaction (one SELECT and three INSERTs for all of them)
Progress = Callable[[int, int], None]  # (clients done, clients total)


class InvoicingError(Exception):
    """Base of invoicing's own errors."""


class UsageUnavailable(InvoicingError):
    """The usage of the period could not be read at all (nothing was invoiced)."""


class PeriodNotOver(InvoicingError):
    """The month has not ended yet: its invoice would be partial and, by the unique key, final."""


@dataclass
class RunSummary:
    """What a run did. ``ok`` is false when anything needs an operator (exit code 1 in the CLI)."""

    period: str
    run_id: int | None = None
    fetch_mode: str = "bulk"
    items: int = 0
    clients: int = 0
    invoices: int = 0
    already_invoiced: int = 0
    empty_invoices: int = 0
    lines: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)
    mails_sent: int = 0
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0
    problems: list[str] = field(default_factory=list)
    unbilled: list[str] = field(default_factory=list)
    mail_failures: list[str] = field(default_factory=list)
    invoice_ids: list[int] = field(default_factory=list)
    fetch_seconds: float = 0.0
    unbilled_count: int = 0
    problem_count: int = 0
    mail_failure_count: int = 0
    request_id: str = ""
    abandoned_runs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failure_count or self.mail_failure_count or self.problem_count)

    def fail(self, message: str) -> None:
        self.failure_count += 1
        log.warning("invoicing %s: %s", self.period, message)
        if len(self.failures) < MAX_LISTED:
            self.failures.append(message)

    def note(self, message: str) -> None:
        """Something worth knowing that needs no operator (the run can still be ``done``)."""
        log.info("invoicing %s: %s", self.period, message)
        if len(self.notes) < MAX_LISTED:
            self.notes.append(message)

    def add_total(self, code: str, amount: Decimal) -> None:
        self.totals[code] = self.totals.get(code, Decimal(0)) + amount

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in ``invoice_runs.summary``)."""
        return {
            "period": self.period, "fetch_mode": self.fetch_mode, "items": self.items, "clients": self.clients,
            "invoices": self.invoices, "already_invoiced": self.already_invoiced,
            "empty_invoices": self.empty_invoices, "lines": self.lines,
            "totals": {k: str(v) for k, v in sorted(self.totals.items())}, "mails_sent": self.mails_sent,
            "failure_count": self.failure_count, "problem_count": self.problem_count,
            "unbilled_count": self.unbilled_count, "mail_failure_count": self.mail_failure_count,
            "fetch_seconds": round(self.fetch_seconds, 3), "failures": self.failures, "problems": self.problems[:MAX_LISTED],
            "unbilled": self.unbilled[:MAX_LISTED], "mail_failures": self.mail_failures[:MAX_LISTED],
            "request_id": self.request_id, "abandoned_runs": self.abandoned_runs[:MAX_LISTED],
            "notes": self.notes[:MAX_LISTED], "ok": self.ok,
        }

    def render(self) -> str:
        """The human summary printed at the end of a run."""
        totals = ", ".join(f"{v} {k}" for k, v in sorted(self.totals.items())) or "none"
        out = [f"invoicing {self.period}: {self.clients} clients, {self.invoices} invoices created "
               f"({self.already_invoiced} already existed, {self.empty_invoices} empty), {self.lines} lines, "
               f"totals {totals}; {self.mails_sent} mails sent; usage fetched {self.fetch_mode}, {self.items} items "
               f"in {self.fetch_seconds:.2f}s",
               f"failures: {self.failure_count}, usage problems: {self.problem_count}, "
               f"unbilled items: {self.unbilled_count}, mail failures: {self.mail_failure_count}"]
        if self.abandoned_runs:
            out.append(f"earlier runs that never finished (process killed?), now marked abandoned: "
                       f"{len(self.abandoned_runs)}")
            out += [f"  ABANDONED: {m}" for m in self.abandoned_runs[:MAX_LISTED]]
        out += [f"  NOTE: {m}" for m in self.notes]
        out += [f"  FAILED: {m}" for m in self.failures]
        out += [f"  USAGE DISAGREES: {m}" for m in self.problems[:MAX_LISTED]]
        out += [f"  UNBILLED: {m}" for m in self.unbilled[:MAX_LISTED]]
        out += [f"  MAIL FAILED: {m}" for m in self.mail_failures[:MAX_LISTED]]
        return "\n".join(out)


# --- the spool: usage grouped by client without holding it in memory -------------------


class _Spool:
    """A temporary SQLite file of usage items, read back grouped by client id."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="solus-bridge-usage-", suffix=".sqlite3")
        os.close(fd)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE items (k INTEGER NOT NULL, seq INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        # The open connection keeps the file alive; unlinked now, nothing is left behind
        # even when the run is killed (journal_mode=OFF: SQLite needs no sibling files).
        os.unlink(self.path)

    def add(self, item: UsageItem) -> None:
        key = item.billing_user_id if item.billing_user_id is not None else -1
        # pickle: about ten times faster than JSON of asdict() both ways; the file is this
        # process's own (created by mkstemp, unlinked at once), so nothing else can write to it.
        self.db.execute("INSERT INTO items (k, data) VALUES (?, ?)", (key, pickle.dumps(item, pickle.HIGHEST_PROTOCOL)))

    def clear(self) -> None:
        self.db.execute("DELETE FROM items")

    def client_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(DISTINCT k) FROM items WHERE k >= 0").fetchone()[0])

    def groups(self) -> Iterator[tuple[int | None, list[UsageItem]]]:
        """``(client id or None, items)`` in client-id order; one client's items at a time."""
        self.db.execute("CREATE INDEX IF NOT EXISTS items_k ON items (k, seq)")
        current: int | None = None
        batch: list[UsageItem] = []
        for key, data in self.db.execute("SELECT k, data FROM items ORDER BY k, seq"):
            if batch and key != current:
                yield (None if current == -1 else current), batch
                batch = []
            current = key
            batch.append(pickle.loads(data))  # noqa: S301 - our own file, see add()
        if batch:
            yield (None if current == -1 else current), batch

    def close(self) -> None:
        self.db.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


USER_LIST_ATTEMPTS = 3  # whole re-reads of the SolusVM user list before the run gives up


def _fetch(solus: SolusVM, year: int, month: int, spool: _Spool, summary: RunSummary,
           per_page: int = 100) -> set[int | None]:
    """Fill the spool; return the client ids whose usage could not be read completely.

    Every listing must be provably whole (``SolusVMClient.iter_pages(complete=True)``: page
    counts, ``meta.total``, no empty or short page) and name each server once; a listing that
    is not is never used. ``None`` in the result means "SolusVM users without a billing id"
    failed (harmless). Raises :class:`UsageUnavailable` when not even the user list can be
    read whole.
    """
    try:
        servers: set[int] = set()
        for item in iter_usage_items(solus, year, month, per_page=per_page, complete=True, prefetch=True):
            _once(item, servers)
            spool.add(item)
            summary.items += 1
        return set()
    except (SolusVMError, UsageFormatError) as exc:
        # Not a failure by itself: the per-user reads below decide whether the run is complete.
        summary.note(f"usage listing unusable ({exc}); read one user at a time instead")
    spool.clear()
    summary.items = 0
    summary.fetch_mode = "per-user"
    failed: set[int | None] = set()
    users = _user_list(solus, per_page)
    for user_id, billing in users:
        try:
            # One user's items are few (one per server): collect, then spool, so a
            # failure halfway through a user leaves nothing of that user behind.
            items = list(iter_usage_items(solus, year, month, user_id=user_id, per_page=per_page, complete=True))
            seen: set[int] = set()
            for item in items:
                _once(item, seen)
                if item.solus_user_id != user_id or item.billing_user_id != billing:
                    raise UsageFormatError(f"the listing of SolusVM user {user_id} holds server {item.server_id} "
                                           f"of user {item.solus_user_id} (billing id {item.billing_user_id})")
        except (SolusVMError, UsageFormatError) as exc:
            failed.add(billing)
            if billing is not None:
                summary.fail(f"client {billing}: usage of SolusVM user {user_id} unavailable ({exc}); "
                             "not invoiced, the next run will retry")
            continue
        for item in items:
            spool.add(item)
            summary.items += 1
    return failed


def _once(item: UsageItem, seen: set[int]) -> None:
    """A server listed twice means the pages shifted while they were read: the listing is not whole."""
    if item.server_id in seen:
        raise UsageFormatError(f"server {item.server_id} is listed twice (the listing changed while it was read)")
    seen.add(item.server_id)


def _user_list(solus: SolusVM, per_page: int) -> list[tuple[int, int | None]]:
    """Every SolusVM user as ``(id, billing id)``, read whole at ``per_page`` (re-read on failure)."""
    for attempt in range(USER_LIST_ATTEMPTS):
        try:
            # Only (id, billing id) pairs are kept: small, and the list must be complete
            # before any client can be called complete.
            out = []
            for u in solus.iter_users(per_page=per_page, complete=True):
                raw = u.get("billing_user_id")
                billing = int(raw) if isinstance(raw, int | str) and str(raw).isdigit() else None
                out.append((int(u["id"]), billing))
            if len({uid for uid, _ in out}) != len(out):
                raise ValueError("a user is listed twice (the list changed while it was read)")
            return out
        except (SolusVMError, KeyError, TypeError, ValueError) as exc:
            if attempt == USER_LIST_ATTEMPTS - 1:
                raise UsageUnavailable(f"could not read usage nor the SolusVM user list (whole): {exc}") from exc
            log.info("SolusVM user list unreadable (%s); reading it again", exc)
    raise AssertionError("unreachable")


# --- one client ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Created:
    invoice_id: int
    email: str
    name: str
    code: str
    total: Decimal
    lines: int


def invoice_dates(year: int, month: int, due_days: int) -> tuple[date, date]:
    """The invoice date (the 1st of the following month) and its due date."""
    start = month_bounds(year, month)[1].date()
    return start, start + timedelta(days=due_days)


def mail_text(session: Session, invoice: Invoice, system_url: str) -> str:
    """The plain-text invoice summary sent to the client: the same document, tax names and
    money formatting as the invoice page and its PDF (``invoice_document``)."""
    doc = invoice_document.document(session, invoice)
    money = lambda d: format_money(d, doc.currency)  # noqa: E731 - local shorthand
    client = doc.client
    out = [f"Dear {client.firstname or client.email},", "",
           f"your invoice #{doc.number} for SolusVM usage in {invoice.period} is ready.",
           f"Invoice date: {invoice.date:%Y-%m-%d}    Due date: {invoice.duedate:%Y-%m-%d}", ""]
    for item in invoice.items:
        out.append(f"  {item.description}: {money(item.amount)}")
    out += ["", f"Subtotal{' (tax included)' if doc.inclusive else ' before tax'}: {money(doc.subtotal)}"]
    out += [f"{tax.label}: {money(tax.amount)}" for tax in doc.taxes]
    out += [f"Total: {money(doc.total)}", ""]
    if doc.is_open and doc.balance > 0 and doc.payment_instructions:
        out += ["How to pay:", doc.payment_instructions, ""]
    out += [f"View and pay it at {system_url.rstrip('/')}/clientarea/invoices", ""]
    return "\n".join(out)


def _invoice_client(session: Session, client: Client, items: list[UsageItem], period: str, *,
                    settings: InvoicingSettings) -> _Created | None:
    """Create the client's invoice in the caller's transaction (a unit of work's: a zero invoice
    is settled, which may lift an overdue hold); ``None`` if it already exists."""
    if session.scalar(select(Invoice.id).where(Invoice.client_id == client.id, Invoice.period == period)):
        return None
    year, month = (int(p) for p in period.split("-"))
    inv_date, due = invoice_dates(year, month, settings.due_days)
    lines = _lines(client, items, period, lambda c: line_price(session, c))
    invoice = invoices.create_invoice(session, client.id, lines, date=inv_date, duedate=due, period=period,
                                      actor=ACTOR, notes=f"SolusVM usage {period}")
    return _Created(invoice.id, client.email, client.firstname, invoice.currency.code,
                    Decimal(invoice.total), len(lines))


def _lines(client: Client, items: list[UsageItem], period: str,
           price_of: Callable[[Client], LinePrice]) -> list[dict[str, Any]]:
    """The invoice lines of a client's usage (one zero line when there is none)."""
    if not items:
        return [{"description": f"No SolusVM usage in {period}", "amount": Decimal(0), "taxed": False,
                 "type": "SolusVM"}]
    if client.status == "Closed":
        # GetTokenPricing prices no Closed client; guessing a price is worse than asking.
        raise ValidationFailed(f"client {client.id} is Closed; its SolusVM usage in {period} was not invoiced "
                               "(reopen the client and rerun, or invoice by hand)")
    price = price_of(client)
    return [line for item in items for line in item_lines(item, period, price)]


def _send_mail(unit: UnitOfWork, mailer: Mailer, created: _Created, period: str, system_url: str,
               summary: RunSummary, text: str | None = None) -> None:
    """Mail a committed invoice's summary (``text``, or written now from the stored invoice)."""
    if text is None:
        with unit.session_factory() as session:
            text = mail_text(session, invoices.get(session, created.invoice_id), system_url)
    try:
        mailer.send(created.email, f"Invoice #{created.invoice_id}: SolusVM usage {period}", text)
    except MailError as exc:
        summary.mail_failure_count += 1
        if len(summary.mail_failures) < MAX_LISTED:
            summary.mail_failures.append(f"invoice {created.invoice_id} to {created.email}: {exc} "
                                         "(the invoice stands; the next run re-sends it)")
        return
    summary.mails_sent += 1
    try:
        unit.run(lambda session: audit.record(
            session, ACTOR, "invoice.mailed", "invoice", created.invoice_id, {"to": created.email}))
    except SQLAlchemyError as exc:  # the mail went out; at worst it is sent once more next run
        log.warning("could not record that invoice %s was mailed: %s", created.invoice_id, exc)


def _resend_unmailed(unit: UnitOfWork, mailer: Mailer, period: str, settings: InvoicingSettings,
                     summary: RunSummary) -> None:
    """Re-send invoices of the period whose mail failed in an earlier run."""
    mailed = select(AuditLog.entity_id).where(AuditLog.action == "invoice.mailed", AuditLog.entity == "invoice")
    with unit.session_factory() as session:
        ids = list(session.scalars(select(Invoice.id).where(Invoice.period == period,
                                                            cast(Invoice.id, String).not_in(mailed))
                                   .order_by(Invoice.id)))
    for invoice_id in ids:
        with unit.session_factory() as session:
            inv = session.get(Invoice, invoice_id)
            if inv is None:
                continue
            created = _Created(inv.id, inv.client.email, inv.client.firstname,
                               inv.currency.code, Decimal(inv.total), len(inv.items))
            text = mail_text(session, inv, settings.system_url)
        _send_mail(unit, mailer, created, period, settings.system_url, summary, text)


# --- the run ------------------------------------------------------------------------------


def _abandon_stale_runs(unit: UnitOfWork, summary: RunSummary) -> None:
    """Mark every ``running`` row as ``abandoned``. Only call it while holding the invoicing
    lock exclusively: then no run is alive and a ``running`` row is a dead run's."""

    def work(session: Session) -> list[str]:
        stale = list(session.scalars(select(InvoiceRun).where(InvoiceRun.status == "running")
                                     .order_by(InvoiceRun.id)))
        now = utcnow()
        out = []
        for run in stale:
            run.status = "abandoned"
            run.finished_at = now
            run.summary = {**(run.summary or {}), "abandoned": "the run's process ended without finishing it",
                           "abandoned_by": summary.request_id}
            started = f"{run.started_at:%Y-%m-%d %H:%M:%S}" if run.started_at else "?"
            out.append(f"run {run.id} ({run.period}, started {started})")
        return out

    found = unit.run(work)
    if found:
        summary.abandoned_runs += found
        log.warning("invoicing %s: %d earlier run(s) never finished and are now marked abandoned: %s",
                    summary.period, len(found), "; ".join(found[:20]))


def _start_run(unit: UnitOfWork, period: str) -> int:
    def work(session: Session) -> int:
        run = InvoiceRun(period=period, status="running", summary={})
        session.add(run)
        session.flush()
        return run.id

    return unit.run(work)


def _finish_run(unit: UnitOfWork, run_id: int | None, status: str, summary: RunSummary) -> None:
    if run_id is None:  # the run's row was never written: nothing to finish
        return

    def work(session: Session) -> None:
        run = session.get(InvoiceRun, run_id)
        if run is not None:
            run.status = status
            run.finished_at = utcnow()
            run.summary = summary.as_dict()

    unit.run(work)


def generate_period(session_factory: sessionmaker[Session], solus: SolusVM, year: int, month: int, *,
                    settings: Settings, mailer: Mailer | None = None, progress: Progress | None = None,
                    now: datetime | None = None) -> RunSummary:
    """Invoice every client for its SolusVM usage in ``year-month`` (idempotent, crash-safe).

    Invoices are written in batches of clients, each batch one transaction (a ``UnitOfWork``:
    the one lock-conflict retry policy, and a settled zero invoice may lift an overdue hold,
    sent to SolusVM after commit); rerunning, running concurrently or rerunning after a crash
    never duplicates an invoice. ``mailer`` sends the summaries; ``None`` sends nothing.
    ``progress(done, total)`` is called after each batch. ``settings.invoicing``: ``INVOICE_DUE_DAYS``, ``INVOICE_EMPTY``
    (clients without usage get a zero invoice), ``INVOICE_ON_MISMATCH`` ("hold" or
    "solusvm"), ``INVOICE_PAUSE`` (seconds between clients), ``USAGE_PER_PAGE``, ``SYSTEM_URL``.
    Raises :class:`PeriodNotOver` for a month that has not ended at ``now`` (default: the
    real UTC time), before touching anything.

    The run holds the ``invoicing`` lock shared; when no other run is alive it first marks
    the ``running`` rows of dead runs ``abandoned`` (``summary.abandoned_runs``). An
    exception escaping the run marks its own row ``failed`` before it propagates.
    """
    period = f"{year:04d}-{month:02d}"
    end = month_bounds(year, month)[1]
    if end > (now or datetime.now(UTC)):
        raise PeriodNotOver(f"{period} has not ended yet (it ends {end:%Y-%m-%d %H:%M} UTC); "
                            "invoicing it now would bill a partial month")
    summary = RunSummary(period, request_id=logs.current_request_id())
    unit = UnitOfWork.for_settings(session_factory, settings)
    engine = session_factory.kw.get("bind")
    if engine is None:  # a factory without an engine: no lock to take, nothing is marked abandoned
        return _run(unit, solus, year, month, settings.invoicing, mailer, progress, summary)
    with locks.shared_run_lock(engine, LOCK_NAME, when_alone=lambda: _abandon_stale_runs(unit, summary)):
        return _run(unit, solus, year, month, settings.invoicing, mailer, progress, summary)


def _run(unit: UnitOfWork, solus: SolusVM, year: int, month: int, settings: InvoicingSettings,
         mailer: Mailer | None, progress: Progress | None, summary: RunSummary) -> RunSummary:
    """The run itself, inside the shared invoicing lock."""
    period = summary.period
    summary.run_id = _start_run(unit, period)
    log.info("invoicing %s: run %s started (request id %s)", period, summary.run_id, summary.request_id)
    try:
        return _work(unit, solus, year, month, settings, mailer, progress, summary)
    except BaseException as exc:
        summary.fail(f"the run stopped: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
        try:
            _finish_run(unit, summary.run_id, "failed", summary)
        except Exception:  # noqa: BLE001 - the original error matters; a later run marks the row abandoned
            log.warning("invoicing %s: could not mark run %s failed", period, summary.run_id, exc_info=True)
        raise


def _work(unit: UnitOfWork, solus: SolusVM, year: int, month: int, settings: InvoicingSettings,
          mailer: Mailer | None, progress: Progress | None, summary: RunSummary) -> RunSummary:
    period = summary.period
    if mailer is not None:
        _resend_unmailed(unit, mailer, period, settings, summary)
    spool = _Spool()
    try:
        try:
            started = time.perf_counter()
            failed = _fetch(solus, year, month, spool, summary, settings.usage_per_page)
            summary.fetch_seconds = time.perf_counter() - started
        except UsageUnavailable as exc:
            summary.fail(str(exc))
            _finish_run(unit, summary.run_id, "failed", summary)
            return summary
        total = spool.client_count()
        done = 0
        hold = settings.on_mismatch != "solusvm"
        pause = settings.pause
        # INVOICE_PAUSE spreads the load client by client: then every client is its own batch.
        size = 1 if pause else BATCH_CLIENTS
        batch: list[tuple[int, list[UsageItem]]] = []
        for key, items in spool.groups():
            if key is None:
                summary.unbilled_count += len(items)
                for it in items[:MAX_LISTED - len(summary.unbilled)]:
                    summary.unbilled.append(f"server {it.server_id} ({it.server_name}) of SolusVM user "
                                            f"{it.solus_user_id} <{it.email}>: the user has no billing_user_id")
                continue
            if _admit(key, items, failed, hold, summary):
                batch.append((key, items))
            done += 1
            if len(batch) >= size:
                _invoice_batch(unit, batch, period, settings, mailer, summary)
                batch = []
                if pause:
                    time.sleep(pause)  # spreads the load on the database and the mail server
            if progress is not None and not batch:
                progress(done, total)
        if batch:
            _invoice_batch(unit, batch, period, settings, mailer, summary)
            if progress is not None:
                progress(done, total)
        if settings.empty and not failed:
            _invoice_empty(unit, period, settings, mailer, summary)
    finally:
        spool.close()
    _finish_run(unit, summary.run_id, "done" if summary.ok else "partial", summary)
    return summary


def _admit(key: int, items: list[UsageItem], failed: set[int | None], hold: bool, summary: RunSummary) -> bool:
    """Count the client; false when it is not to be invoiced (its usage failed or is held back)."""
    summary.clients += 1
    if key in failed:
        return False  # already reported by the fetch
    problems = [p for it in items for p in it.problems]
    if problems:
        summary.problem_count += len(problems)
        summary.problems.extend(f"client {key}: {p}" for p in problems[:MAX_LISTED - len(summary.problems)])
        if hold:
            summary.fail(f"client {key}: not invoiced, SolusVM usage disagrees with the cap rule "
                         "(INVOICE_ON_MISMATCH=solusvm bills SolusVM's figures)")
            return False
    return True


# What became of one client of a batch: its invoice, None (it had one already) or why it failed.
_Outcome = _Created | None | str


def _invoice_batch(unit: UnitOfWork, batch: list[tuple[int, list[UsageItem]]], period: str,
                   settings: InvoicingSettings, mailer: Mailer | None, summary: RunSummary) -> None:
    """Invoice a batch of admitted clients in one transaction (``_batch_work``), then mail them.

    A client that fails inside the batch is rolled back alone (its savepoint) and reported; if
    the batch's transaction itself fails, each client is tried again in its own transaction
    (``_invoice_one``), so one client never costs the others their invoice.
    """
    try:
        outcomes = unit.run(lambda session: _batch_work(session, batch, period, settings))
    except (BridgeError, SQLAlchemyError) as exc:
        log.info("invoicing %s: a batch of %d clients failed (%s); one client at a time instead",
                 period, len(batch), type(exc).__name__)
        outcomes = {key: _invoice_one(unit, key, items, period, settings) for key, items in batch}
    for key, _items in batch:
        _record(unit, key, outcomes[key], period, settings, mailer, summary)


def _failure(exc: BridgeError | SQLAlchemyError) -> str:
    """How a client's failure reads in the summary (after ``client N: ``)."""
    if isinstance(exc, BridgeError):
        return exc.message
    log.debug("database error", exc_info=exc)  # the traceback only when debugging
    return f"database error {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def _record(unit: UnitOfWork, key: int, outcome: _Outcome, period: str, settings: InvoicingSettings,
            mailer: Mailer | None, summary: RunSummary) -> None:
    """Count one client's outcome in the summary and mail its new invoice."""
    if isinstance(outcome, str):
        summary.fail(f"client {key}: {outcome}")
    elif outcome is None:
        summary.already_invoiced += 1
    else:
        _count(summary, outcome)
        if mailer is not None:
            _send_mail(unit, mailer, outcome, period, settings.system_url, summary)


def _batch_work(session: Session, batch: list[tuple[int, list[UsageItem]]], period: str,
                settings: InvoicingSettings) -> dict[int, _Outcome]:
    """The batch's transaction: one SELECT for its clients, one for their existing invoices,
    one price per (currency, group, exemption, place), then the invoices that owe something
    with three multi-row INSERTs (``invoices.insert_prepared``). Zero invoices (settled at once,
    which may lift an overdue hold) and, when a concurrent run got there first, the whole
    batch go through ``create_invoice`` one client at a time, each in a savepoint."""
    ids = [key for key, _ in batch]
    clients = {c.id: c for c in session.scalars(select(Client).where(Client.id.in_(ids)))}
    have = set(session.scalars(select(Invoice.client_id).where(Invoice.period == period,
                                                               Invoice.client_id.in_(ids))))
    year, month = (int(p) for p in period.split("-"))
    inv_date, due = invoice_dates(year, month, settings.due_days)
    prices: dict[tuple[Any, ...], LinePrice] = {}
    taxes: dict[tuple[Any, ...], AppliedTax] = {}
    # Held here: the session's identity map is weak, so a get() per client would load it again.
    currencies: dict[int, Currency] = {}

    def price_of(client: Client) -> LinePrice:
        key = pricing.price_key(client.currency_id, client.group_id, client.tax_exempt, client.country, client.state)
        if key not in prices:  # every client of the key has the same price
            prices[key] = line_price(session, client)
        return prices[key]

    out: dict[int, _Outcome] = {}
    bulk: list[tuple[Client, list[UsageItem], invoices.PreparedInvoice, int]] = []
    one_by_one: list[tuple[Client, list[UsageItem]]] = []
    for key, items in batch:
        client = clients.get(key)
        if client is None:
            out[key] = f"no client {key} (billing_user_id of SolusVM user {items[0].solus_user_id})"
            continue
        if key in have:
            out[key] = None
            continue
        try:
            lines = _lines(client, items, period, price_of)
            place = (client.country or "", client.state or "", bool(client.tax_exempt))
            if place not in taxes:
                taxes[place] = invoices.tax_context(session, client)
            if client.currency_id not in currencies:
                currencies[client.currency_id] = session.get_one(Currency, client.currency_id)
            invoice = invoices.prepare_invoice(client, currencies[client.currency_id], lines, date=inv_date,
                                               duedate=due, period=period, notes=f"SolusVM usage {period}",
                                               ctx=taxes[place])
        except BridgeError as exc:
            out[key] = exc.message
            continue
        if invoice.total > 0:
            bulk.append((client, items, invoice, len(lines)))
        else:
            one_by_one.append((client, items))
    try:
        with session.begin_nested():
            new_ids = invoices.insert_prepared(session, [invoice for _, _, invoice, _ in bulk], actor=ACTOR)
    except IntegrityError:  # a concurrent run invoiced one of them meanwhile
        one_by_one = [(client, items) for client, items, _, _ in bulk] + one_by_one
    else:
        for (client, _, invoice, n), invoice_id in zip(bulk, new_ids, strict=True):
            out[client.id] = _Created(invoice_id, client.email, client.firstname, invoice.currency_code,
                                      invoice.total, n)
    for client, items in one_by_one:
        try:
            with session.begin_nested():
                out[client.id] = _invoice_client(session, client, items, period, settings=settings)
        except DuplicateInvoice:
            out[client.id] = None  # a concurrent run won the race: its invoice stands
        except BridgeError as exc:
            out[client.id] = exc.message
        except SQLAlchemyError as exc:
            if isinstance(exc, OperationalError) and is_lock_conflict(exc):
                raise  # the whole transaction is run again (UnitOfWork)
            out[client.id] = _failure(exc)
    return out


def _invoice_one(unit: UnitOfWork, key: int, items: list[UsageItem], period: str,
                 settings: InvoicingSettings) -> _Outcome:
    """One client in its own transaction."""
    def work(session: Session) -> _Created | None:
        client = session.get(Client, key)
        if client is None:
            raise NotFound(f"no client {key} (billing_user_id of SolusVM user {items[0].solus_user_id})")
        return _invoice_client(session, client, items, period, settings=settings)

    try:
        return unit.run(work)
    except DuplicateInvoice:
        return None  # a concurrent run won the race: its invoice stands
    except (BridgeError, SQLAlchemyError) as exc:
        return _failure(exc)


def _count(summary: RunSummary, created: _Created) -> None:
    metrics.INVOICES_GENERATED.inc()
    summary.invoices += 1
    summary.lines += created.lines
    summary.add_total(created.code, created.total)
    if len(summary.invoice_ids) < 10_000:
        summary.invoice_ids.append(created.invoice_id)


def _invoice_empty(unit: UnitOfWork, period: str, settings: InvoicingSettings, mailer: Mailer | None,
                   summary: RunSummary) -> None:
    """``INVOICE_EMPTY``: a zero invoice for every active, enrolled client without one."""
    year, month = (int(p) for p in period.split("-"))
    end = month_bounds(year, month)[1]
    has = select(Invoice.client_id).where(Invoice.period == period)
    with unit.session_factory() as session:
        ids = list(session.scalars(select(Client.id).where(
            Client.status == "Active", Client.enrolled_at.is_not(None), Client.enrolled_at < end,
            Client.id.not_in(has)).order_by(Client.id)))
    for client_id in ids:
        def work(session: Session, client_id: int = client_id) -> _Created | None:
            client = session.get(Client, client_id)
            return _invoice_client(session, client, [], period, settings=settings) if client else None

        try:
            created = unit.run(work)
        except DuplicateInvoice:
            continue
        except (BridgeError, SQLAlchemyError) as exc:
            summary.fail(f"client {client_id}: empty invoice failed: {exc}")
            continue
        if created is not None:
            summary.empty_invoices += 1
            _count(summary, created)
            if mailer is not None:
                _send_mail(unit, mailer, created, period, settings.system_url, summary)


# --- the client area: this month so far --------------------------------------------------


@dataclass(frozen=True)
class ProjectionLine:
    server_name: str
    plan_name: str
    hours: int
    tokens: int
    amount: Decimal


@dataclass(frozen=True)
class Projection:
    """This month's usage so far with its cost in the client's currency (taxes included)."""

    lines: list[ProjectionLine]
    total: Decimal
    currency: dict[str, Any]


def usage_so_far(session: Session, solus: SolusVM, client: Client | int, *, now: datetime,
                 items: list[UsageItem] | None = None) -> Projection:
    """The running month's usage of a client priced at its ``user_token_unit_cost``.

    A client not linked to a SolusVM user yet has an empty projection. SolusVM errors
    (``SolusVMError``) propagate so the page can say the figures are unavailable. ``items``
    (from ``usage.usage_items_so_far``, e.g. a snapshot) are priced without asking SolusVM.
    """
    if isinstance(client, int):
        found = session.get(Client, client)
        if found is None:
            raise NotFound("Client Not Found")
        client = found
    tp = pricing.token_pricing(session, client.id)
    decimals = int(tp.currency["decimals"])
    currency = {"code": tp.currency["code"], "prefix": tp.currency["display_prefix"],
                "suffix": tp.currency["display_suffix"], "decimals": decimals}
    lines: list[ProjectionLine] = []
    if client.solusvm_user_id:
        if items is None:
            items = usage_items_so_far(solus, client.solusvm_user_id, now=now)
        for item in items:
            amount = token_amount(item.total_tokens, tp.user_token_unit_cost, decimals)
            lines.append(ProjectionLine(item.server_name, item.plan_name, item.hours, item.total_tokens, amount))
    total = sum((line.amount for line in lines), Decimal(0))
    return Projection(lines, quantize_money(total, decimals), currency)
