"""Invoices: create, update, pay, credit (WHMCS CreateInvoice / UpdateInvoice / AddInvoicePayment).

Money follows design §3 through ``bridge.billing``: each line is rounded half-up to the
currency's decimals, tax per line (``line_tax``), level 2 on (amount + level 1) when
compound; totals by ``invoice_totals``, the balance by ``balance_due``.

Stored line amounts are the amounts as charged: net in Exclusive mode, gross (tax
included) in Inclusive mode; ``tax_amount``/``tax2_amount`` hold the line's taxes. Invoice
totals: Exclusive ``total = subtotal + tax + tax2`` with ``subtotal = Σ amount``; Inclusive
``total = Σ amount`` and ``subtotal = total - tax - tax2``. Either way the identity holds to
the cent. ``balance = total - credit - payments``.

Every stored amount and sum stays within ``billing.MONEY_CEILING`` (exact to the cent on
SQLite's floats, no overflow of PostgreSQL's DECIMAL(16,2)): a line, a total, the credit or
the payments beyond it raise ValidationFailed and the caller's transaction rolls back.

Lock order (PostgreSQL row locks): the client row first, then the invoice row. Every
function that moves money between a client's credit and an invoice (CreateInvoice with
``autoapplycredit``, ApplyCredit, UpdateInvoice ``credit``, payments with an overpayment)
takes them in that order, so two such transactions wait for each other instead of
deadlocking.

Money moves exactly once: a payment on a Paid, Cancelled or Refunded invoice, or one whose
``transid`` is already recorded for the same gateway, is refused; a payment beyond the
balance settles the invoice and the excess goes to the client's credit.

Functions add to the caller's session and flush; the caller commits once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date as date_t
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.billing import (
    AppliedTax,
    InvoiceTotals,
    LineMoney,
    balance_due,
    check_ceiling,
    invoice_totals,
    line_tax,
)
from bridge.db import lock_row
from bridge.errors import DuplicateInvoice, NotFound, ValidationFailed
from bridge.models import MONEY_SCALE, AuditLog, Client, Currency, Invoice, InvoiceItem, Transaction, utcnow
from bridge.services import audit, catalogue, clients, hooks
from contracts.whmcs_requests import INVOICE_STATUSES

STATUSES = INVOICE_STATUSES  # one list, shared with the WHMCS request schemas
ITEM_FIELDS = ("type", "relid", "server_id", "server_name", "plan_name", "hours", "tokens", "price_mode", "kind")


def tax_context(session: Session, client: Client) -> AppliedTax:
    """The client's taxes under the current catalogue (``billing.applicable_rates``; rates 0
    when exempt or tax is off)."""
    snap = catalogue.snapshot(session, catalogue.get_setting(session, catalogue.VERSION_KEY) or None)
    return snap.applicable_tax(client.country or "", client.state or "", exempt=bool(client.tax_exempt))


def get(session: Session, invoice_id: int) -> Invoice:
    """An invoice by id or NotFound("Invoice ID Not Found")."""
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound("Invoice ID Not Found")
    return inv


def _line_money(amount: Decimal, taxed: bool, ctx: AppliedTax, rate1: Decimal, rate2: Decimal,
                decimals: int) -> LineMoney:
    """The money of one line (``billing.line_tax``), each part checked against the money ceiling."""
    rates = [rate1, rate2] if taxed else []
    line = line_tax(amount, rates, ctx.compound, ctx.inclusive and taxed, decimals)
    check_ceiling(line.charged, "Invoice line amount")
    check_ceiling(line.tax, "Invoice line tax")
    check_ceiling(line.tax2, "Invoice line tax")
    return line


def _money(lines: Iterable[tuple[Decimal, bool]], currency: Currency, ctx: AppliedTax, rate1: Decimal,
           rate2: Decimal) -> tuple[list[LineMoney], InvoiceTotals]:
    """Every line's money and the invoice totals from ``(amount, taxed)`` lines, or ValidationFailed
    when a line, a tax or a total is beyond ``billing.MONEY_CEILING`` or the total is negative."""
    decimals = currency.decimals
    if decimals > MONEY_SCALE:
        # Stored amounts have MONEY_SCALE places: a finer currency would lose its last digits
        # on PostgreSQL (and keep them as floats on SQLite), so the backends would disagree.
        raise ValidationFailed(f"Currency {currency.code} has {decimals} decimal places; invoices are "
                               f"stored with at most {MONEY_SCALE}")
    money = [_line_money(amount, taxed, ctx, rate1, rate2, decimals) for amount, taxed in lines]
    totals = invoice_totals(money, ctx.inclusive, decimals)
    for what in ("subtotal", "tax", "tax2", "total"):
        check_ceiling(getattr(totals, what), f"Invoice {what}")
    if totals.total < 0:
        raise ValidationFailed("Invoice total must not be negative")
    return money, totals


def recompute_totals(session: Session, invoice: Invoice, ctx: AppliedTax | None = None) -> None:
    """Recompute every line's tax and the invoice totals from the items and the invoice's rates.

    Raises ValidationFailed, before changing any line or total, when a line, a tax or a total
    is beyond ``billing.MONEY_CEILING`` or the total is negative (negative lines, e.g. a
    discount, are fine as long as the invoice as a whole is not).
    """
    if ctx is None:
        ctx = tax_context(session, invoice.client)
    money, totals = _money(((Decimal(item.amount), bool(item.taxed)) for item in invoice.items), invoice.currency,
                           ctx, Decimal(invoice.taxrate), Decimal(invoice.taxrate2))
    for item, line in zip(invoice.items, money, strict=True):
        item.amount, item.tax_amount, item.tax2_amount = line.charged, line.tax, line.tax2
    invoice.subtotal, invoice.tax, invoice.tax2, invoice.total = totals.subtotal, totals.tax, totals.tax2, totals.total
    invoice.updated_at = utcnow()


def paid_amount(session: Session, invoice: Invoice) -> Decimal:
    """Sum of payments recorded against the invoice.

    Summed in Python from the stored amounts (each exact to the cent): SQLite's SUM over its
    float columns would be a float.
    """
    amounts = session.scalars(select(Transaction.amount_in).where(Transaction.invoice_id == invoice.id))
    return sum((Decimal(a) for a in amounts), Decimal(0))


def balance(session: Session, invoice: Invoice, *, paid: Decimal | None = None) -> Decimal:
    """What is still owed (``billing.balance_due``: total - credit - payments, never below 0);
    ``paid`` when known."""
    if paid is None:
        paid = paid_amount(session, invoice)
    return balance_due(Decimal(invoice.total), Decimal(invoice.credit), paid, invoice.currency.decimals)


def _item_values(line: Mapping[str, Any]) -> dict[str, Any]:
    """A line's column values (description, amount as given, taxed, the usage facts it has)."""
    desc = str(line.get("description", "")).strip()
    if not desc:
        raise ValidationFailed("Each invoice line needs a description")
    try:
        amount = Decimal(str(line.get("amount", "0")))
    except ArithmeticError:
        raise ValidationFailed("Invalid amount") from None
    if not amount.is_finite():
        raise ValidationFailed("Invalid amount")
    values = {"description": desc, "amount": amount, "taxed": bool(line.get("taxed", False))}
    for f in ITEM_FIELDS:
        if line.get(f) is not None:
            values[f] = line[f]
    return values


def _make_item(line: Mapping[str, Any]) -> InvoiceItem:
    return InvoiceItem(**_item_values(line))


_INVOICES, _ITEMS, _AUDIT = (cast(Table, m.__table__) for m in (Invoice, InvoiceItem, AuditLog))


def _defaults(table: Table) -> dict[str, Any]:
    """A row of ``table``'s scalar column defaults (None where there is none), without its id."""
    return {col.key: col.default.arg if col.default is not None and col.default.is_scalar else None  # type: ignore[attr-defined]
            for col in table.columns if col.key != "id"}


_ITEM_DEFAULTS = _defaults(_ITEMS)


@dataclass(frozen=True)
class PreparedInvoice:
    """An Unpaid invoice as ``create_invoice`` would write it, as column values (bulk creation)."""

    values: dict[str, Any]  # the ``invoices`` row without id and timestamps
    items: list[dict[str, Any]]  # its ``invoice_items`` rows without id and invoice_id
    currency_code: str

    @property
    def total(self) -> Decimal:
        return Decimal(self.values["total"])


def prepare_invoice(client: Client, currency: Currency, lines: Iterable[Mapping[str, Any]], *, date: date_t,
                    duedate: date_t, period: str, notes: str, ctx: AppliedTax) -> PreparedInvoice:
    """The rows ``create_invoice(session, client.id, lines, ...)`` would write for an Unpaid
    invoice in the client's ``currency`` at its taxes ``ctx`` (``tax_context``), without the
    ORM; for ``insert_prepared``. Raises ValidationFailed like ``create_invoice``."""
    items = [_item_values(line) for line in lines]
    money, totals = _money(((item["amount"], item["taxed"]) for item in items), currency, ctx, ctx.rate1, ctx.rate2)
    rows = [{**_ITEM_DEFAULTS, **item, "amount": line.charged, "tax_amount": line.tax, "tax2_amount": line.tax2}
            for item, line in zip(items, money, strict=True)]
    values = {"client_id": client.id, "invoicenum": "", "date": date, "duedate": duedate, "datepaid": None,
              "status": "Unpaid", "period": period, "currency_id": client.currency_id, "subtotal": totals.subtotal,
              "credit": Decimal(0), "tax": totals.tax, "tax2": totals.tax2, "total": totals.total,
              "taxrate": ctx.rate1, "taxrate2": ctx.rate2, "paymentmethod": "", "notes": notes}
    return PreparedInvoice(values, rows, currency.code)


def insert_prepared(session: Session, prepared: Sequence[PreparedInvoice], *, actor: str) -> list[int]:
    """Insert invoices from ``prepare_invoice``, their lines and their ``invoice.create`` audit
    entries with one multi-row INSERT each; return the new ids in the order given.

    For invoices that owe something (``create_invoice`` settles the others at once). The
    unique (client_id, period) key refuses the whole statement (IntegrityError) when any
    invoice exists already: run it in a savepoint and fall back to ``create_invoice`` per
    invoice.
    """
    if not prepared:
        return []
    now = utcnow()
    conn = session.connection()
    rows = [{**inv.values, "created_at": now, "updated_at": now} for inv in prepared]
    ids = list(conn.execute(insert(_INVOICES).returning(_INVOICES.c.id, sort_by_parameter_order=True), rows).scalars())
    items = [{**item, "invoice_id": invoice_id} for invoice_id, inv in zip(ids, prepared, strict=True)
             for item in inv.items]
    if items:
        conn.execute(insert(_ITEMS), items)
    conn.execute(insert(_AUDIT), [
        {"at": now, "actor": actor, "action": "invoice.create", "entity": "invoice", "entity_id": str(invoice_id),
         "detail": {"client_id": inv.values["client_id"], "period": inv.values["period"], "total": str(inv.total)}}
        for invoice_id, inv in zip(ids, prepared, strict=True)])
    return ids


def create_invoice(session: Session, client_id: int, lines: Iterable[Mapping[str, Any]], *, date: date_t,
                   duedate: date_t, period: str | None = None, actor: str, status: str = "Unpaid",
                   notes: str = "", paymentmethod: str = "", taxrate: Decimal | None = None,
                   taxrate2: Decimal | None = None, autoapplycredit: bool = False) -> Invoice:
    """Create an invoice with its lines and totals.

    ``lines``: mappings with ``description``, ``amount`` (Decimal, before tax in Exclusive
    mode), ``taxed`` and optionally the usage facts (``server_id``, ``hours``, ``tokens``, ...).
    A second invoice for the same (client, period) raises ``DuplicateInvoice`` and leaves
    the session usable (the insert runs in a savepoint). An invoice that owes nothing (a
    total of 0, or covered by the applied credit) is settled at once: Paid, with ``datepaid``.
    A negative total is refused (ValidationFailed).
    """
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound("Client ID Not Found")
    if status not in STATUSES:
        raise ValidationFailed(f"Invalid status {status}")
    take_credit = autoapplycredit and status != "Draft"
    if take_credit:
        # Lock order: the client row before the invoice insert (whose foreign key would
        # otherwise share-lock the client first and let two such calls deadlock).
        lock_row(session, client)
    # A duplicate (client, period) is caught by the unique key at the insert below (no extra
    # SELECT: invoicing already checked, and the key is what is safe against concurrent runs).
    ctx = tax_context(session, client)
    items = [_make_item(line) for line in lines]
    invoice = Invoice(client_id=client.id, date=date, duedate=duedate, status=status, period=period,
                      currency_id=client.currency_id, notes=notes, paymentmethod=paymentmethod,
                      taxrate=ctx.rate1 if taxrate is None else taxrate,
                      taxrate2=ctx.rate2 if taxrate2 is None else taxrate2)
    invoice.client = client
    invoice.currency = session.get(Currency, client.currency_id)  # type: ignore[assignment]
    invoice.items = items
    recompute_totals(session, invoice, ctx)
    try:
        with session.begin_nested():
            session.add(invoice)
            session.flush()
    except IntegrityError:
        if period is not None:
            raise DuplicateInvoice(client_id, period) from None
        raise
    if take_credit and client.credit > 0:
        apply_credit(session, invoice, min(Decimal(client.credit), Decimal(invoice.total)), actor=actor, paid=Decimal(0))
    audit.record(session, actor, "invoice.create", "invoice", invoice.id,
                 {"client_id": client.id, "period": period, "total": invoice.total})
    # A new invoice has no payments yet: no query needed for its balance (hot in invoicing).
    _settle_if_paid(session, invoice, utcnow(), actor, paid=Decimal(0))
    return invoice


def apply_credit(session: Session, invoice: Invoice, amount: Decimal, *, actor: str,
                 paid: Decimal | None = None) -> None:
    """Move client credit onto an invoice (``paid``: the invoice's payments, when known)."""

    if amount <= 0:
        return
    check_ceiling(Decimal(invoice.credit) + amount, "Invoice credit")
    clients.add_credit(session, invoice.client, amount, f"Credit Applied to Invoice #{invoice.id}",
                       remove=True, actor=actor, invoice_id=invoice.id)
    invoice.credit = Decimal(invoice.credit) + amount
    _settle_if_paid(session, invoice, utcnow(), actor, paid=paid)


def _settle_if_paid(session: Session, invoice: Invoice, when: datetime, actor: str, *,
                    paid: Decimal | None = None) -> None:
    """Mark an open invoice (Unpaid, Payment Pending, Collections) Paid when nothing is owed.

    Called after every change to an invoice's money (create, update, credit, payment), so an
    open invoice always owes something and the overdue rules never act on one that does not.
    Drafts, Cancelled and Refunded invoices are left alone.
    """
    if invoice.status in ("Unpaid", "Payment Pending", "Collections") and balance(session, invoice, paid=paid) <= 0:
        invoice.status = "Paid"
        invoice.datepaid = when
        session.flush()
        audit.record(session, actor, "invoice.paid", "invoice", invoice.id, {})
        hooks.on_invoice_paid(session, invoice, actor)


CLOSED_STATUSES = ("Paid", "Cancelled", "Refunded")


def check_transid(session: Session, gateway: str, transid: str) -> None:
    """Refuse a ``transid`` already recorded for ``gateway`` (empty ids are not checked)."""
    if transid and session.scalar(select(Transaction.id).where(Transaction.gateway == gateway,
                                                               Transaction.transid == transid).limit(1)):
        raise ValidationFailed("Transaction ID must be Unique")


def lock_for_money(session: Session, invoice: Invoice) -> None:
    """Take the client row, then the invoice row (the one lock order, see the module doc)."""
    lock_row(session, invoice.client)
    lock_row(session, invoice)


def add_payment(session: Session, invoice: Invoice, *, transid: str, gateway: str, when: datetime,
                amount: Decimal | None = None, fees: Decimal = Decimal(0), actor: str,
                description: str = "Invoice Payment", check_duplicate: bool = True) -> Transaction:
    """Record a payment (AddInvoicePayment); marks the invoice Paid when the balance reaches 0.

    Refused on a Paid, Cancelled or Refunded invoice, for a ``transid`` the gateway already
    used, and for an amount that is not positive. What is paid beyond the balance goes to
    the client's credit (logged against the invoice), so no money disappears.
    """
    lock_for_money(session, invoice)  # two payments at once must not both take the same balance
    if invoice.status in CLOSED_STATUSES:
        raise ValidationFailed(f"It is not possible to add a payment to an invoice that is {invoice.status}")
    if check_duplicate:
        check_transid(session, gateway, transid)
    paid = paid_amount(session, invoice)  # once: the balance, the ceiling and the settlement use it
    owed = balance(session, invoice, paid=paid)
    if amount is None:
        amount = owed
    if amount <= 0:
        raise ValidationFailed("Amount must be greater than zero")
    if fees < 0:
        raise ValidationFailed("Fees must not be negative")
    check_ceiling(fees, "Fees")
    check_ceiling(paid + amount, "Total of the payments on the invoice")
    if fees > amount:
        raise ValidationFailed("Fees must not exceed the amount paid")
    txn = Transaction(client_id=invoice.client_id, invoice_id=invoice.id, gateway=gateway, transid=transid,
                      date=when, amount_in=amount, fees=fees, description=description)
    session.add(txn)
    session.flush()
    audit.record(session, actor, "invoice.payment", "invoice", invoice.id,
                 {"amount": amount, "transid": transid, "gateway": gateway})
    excess = amount - owed
    if excess > 0:

        clients.add_credit(session, invoice.client, excess, f"Overpayment on Invoice #{invoice.id}",
                           remove=False, actor=actor, invoice_id=invoice.id)
    _settle_if_paid(session, invoice, when, actor, paid=paid + amount)
    return txn


def apply_client_credit(session: Session, invoice: Invoice, amount: Decimal | None, *, actor: str) -> Decimal:
    """ApplyCredit: move ``amount`` (default: all that fits) of the client's credit onto an Unpaid invoice.

    Returns the amount applied. Refused (WHMCS texts) when the invoice is not Unpaid, the
    amount is not positive, or it exceeds the client's credit or the invoice's balance.
    """
    lock_for_money(session, invoice)
    if invoice.status != "Unpaid":
        raise ValidationFailed("Invoice Not in Unpaid Status")
    available = Decimal(invoice.client.credit or 0)
    owed = balance(session, invoice)
    if amount is None:
        amount = min(available, owed)
    if amount <= 0:
        raise ValidationFailed("Credit Amount to apply must be greater than zero")
    if amount > available:
        raise ValidationFailed("Amount exceeds customer credit balance")
    if amount > owed:
        raise ValidationFailed("Amount Exceeds Invoice Balance")
    apply_credit(session, invoice, amount, actor=actor)
    return amount


def set_invoice_credit(session: Session, invoice: Invoice, new_credit: Decimal, *, actor: str) -> None:
    """UpdateInvoice ``credit``: the credit applied to the invoice becomes ``new_credit``.

    The difference comes from (or goes back to) the client's credit balance, so credit is
    never made out of nothing; more than the client has is "Amount exceeds customer credit
    balance". The invoice must still be open or a Draft.
    """

    lock_for_money(session, invoice)
    if new_credit < 0:
        raise ValidationFailed("Invalid credit")
    check_ceiling(new_credit, "Invoice credit")
    current = Decimal(invoice.credit or 0)
    delta = new_credit - current
    if delta == 0:
        return
    if invoice.status in CLOSED_STATUSES:
        raise ValidationFailed(f"The credit of an invoice that is {invoice.status} cannot be changed")
    if delta > 0:
        if delta > Decimal(invoice.client.credit or 0):
            raise ValidationFailed("Amount exceeds customer credit balance")
        clients.add_credit(session, invoice.client, delta, f"Credit Applied to Invoice #{invoice.id}",
                           remove=True, actor=actor, invoice_id=invoice.id)
    else:
        clients.add_credit(session, invoice.client, -delta, f"Credit Removed from Invoice #{invoice.id}",
                           remove=False, actor=actor, invoice_id=invoice.id)
    invoice.credit = new_credit


def update_invoice(session: Session, invoice: Invoice, changes: Mapping[str, Any], *,
                   edit_items: Mapping[int, Mapping[str, Any]] | None = None,
                   new_items: Sequence[Mapping[str, Any]] = (), delete_ids: Sequence[int] = (),
                   publish: bool = False, actor: str) -> Invoice:
    """Apply UpdateInvoice changes, then recompute the totals from items and rates.

    An open invoice left owing nothing (credit or payments cover the new total) is settled:
    Paid, with ``datepaid``. A negative total is refused (ValidationFailed).
    """
    old_status = invoice.status
    if changes.get("credit") is not None:
        set_invoice_credit(session, invoice, Decimal(changes["credit"]), actor=actor)
    if publish:
        if invoice.status != "Draft":
            raise ValidationFailed("Invoice must be in Draft status to be published")
        invoice.status = "Unpaid"
    status = changes.get("status")
    if status is not None:
        if status not in STATUSES:
            raise ValidationFailed(f"Invalid status {status}")
        invoice.status = status
    for key in ("paymentmethod", "notes", "date", "duedate", "datepaid", "taxrate", "taxrate2"):
        if changes.get(key) is not None:
            setattr(invoice, key, changes[key])
    by_id = {item.id: item for item in invoice.items}
    for item_id, fields in (edit_items or {}).items():
        item = by_id.get(item_id)
        if item is None:
            raise ValidationFailed(f"Invalid line item id {item_id}")
        item.description = fields["description"]
        item.amount = fields["amount"]
        item.taxed = bool(fields["taxed"])
    for item_id in delete_ids:
        item = by_id.get(item_id)
        if item is None:
            raise ValidationFailed(f"Invalid line item id {item_id}")
        invoice.items.remove(item)
    for line in new_items:
        invoice.items.append(_make_item(line))
    recompute_totals(session, invoice)
    session.flush()
    audit.record(session, actor, "invoice.update", "invoice", invoice.id,
                 {"changes": {k: v for k, v in changes.items() if v is not None},
                  "edited": sorted(edit_items or {}), "added": len(new_items), "deleted": list(delete_ids)})
    if invoice.status == "Paid" and old_status != "Paid":
        if invoice.datepaid is None:
            invoice.datepaid = utcnow()
        hooks.on_invoice_paid(session, invoice, actor)
    else:
        _settle_if_paid(session, invoice, changes.get("datepaid") or utcnow(), actor)
    return invoice


@dataclass(frozen=True)
class Page:
    total: int
    items: list[Invoice]


ORDER = {"id": Invoice.id, "invoicenumber": Invoice.invoicenum, "date": Invoice.date, "duedate": Invoice.duedate,
         "total": Invoice.total, "status": Invoice.status}


def search(session: Session, *, start: int = 0, limit: int = 25, client_id: int | None = None,
           status: str | None = None, today: date_t | None = None, orderby: str = "id",
           descending: bool = False) -> Page:
    """List invoices (GetInvoices). ``Overdue`` = Unpaid with a due date before today."""
    stmt = select(Invoice)
    if client_id is not None:
        stmt = stmt.where(Invoice.client_id == client_id)
    if status == "Overdue":
        stmt = stmt.where(Invoice.status == "Unpaid", Invoice.duedate < (today or utcnow().date()))
    elif status:
        stmt = stmt.where(Invoice.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    col = ORDER.get(orderby, Invoice.id)
    stmt = stmt.order_by(col.desc() if descending else col.asc(), Invoice.id).offset(start).limit(limit)
    return Page(total, list(session.scalars(stmt)))
