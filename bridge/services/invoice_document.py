"""What an invoice says, once, for every way it is shown: the HTML page, the PDF, the CLI.

``document(session, invoice)`` gathers the stored figures (lines, subtotal, taxes, credit,
total, balance) with what the customer needs around them: the tax lines' configured names,
the payment instructions of the invoice's currency and whether the client's credit covers
the balance. ``month_preview`` prices the running month's usage with the invoicing run's
own line and tax rules, so the dashboard's "this month so far" reads like the invoice that
will follow (amounts before tax, then each tax, then the total).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bridge.billing import LineMoney, invoice_totals, line_tax
from bridge.models import Client, Invoice
from bridge.services import catalogue, usage, usage_lines
from bridge.services import invoices as invoice_service
from bridge.services.ports import SolusVM
from bridge.services.pricing import plain
from bridge.services.usage import UsageItem, iter_usage_items

OPEN = ("Unpaid", "Overdue", "Payment Pending", "Collections")


@dataclass(frozen=True)
class TaxLine:
    name: str  # the catalogue's name, e.g. "City Tax"
    rate: Decimal  # percent, e.g. 6
    amount: Decimal

    @property
    def label(self) -> str:
        """``City Tax 6%``."""
        return f"{self.name} {plain(self.rate)}%"


@dataclass(frozen=True)
class InvoiceDocument:
    invoice: Invoice
    client: Client
    currency: Any
    subtotal: Decimal
    taxes: list[TaxLine]
    credit: Decimal
    total: Decimal
    paid: Decimal
    balance: Decimal
    inclusive: bool  # token prices include tax: line amounts are after tax
    payment_instructions: str
    client_credit: Decimal
    is_open: bool

    @property
    def number(self) -> str:
        return str(self.invoice.invoicenum or self.invoice.id)

    @property
    def can_pay_with_credit(self) -> bool:
        """The client's credit covers what is still owed."""
        return self.is_open and self.balance > 0 and self.client_credit >= self.balance


def tax_names(session: Session, client: Client, rate1: Decimal, rate2: Decimal) -> tuple[str, str]:
    """Names of the invoice's level-1 and level-2 taxes from the client's matching tax rules.

    WHMCS shows the rules' current names too; a rule whose rate no longer matches the
    invoice's stored rate is not used (its name may no longer describe that tax).
    """
    snap = catalogue.snapshot(session, catalogue.get_setting(session, catalogue.VERSION_KEY) or None)
    names = {1: "Tax", 2: "Tax 2"}
    # The rules of the client's place whether charged today or not: the invoice keeps its own rates.
    applied = snap.applicable_tax(client.country or "", client.state or "", exempt=bool(client.tax_exempt))
    for rule in applied.place_rules:
        if Decimal(rule.rate) == Decimal(rate1 if rule.level == 1 else rate2) and rule.name:
            names[rule.level] = rule.name
    return names[1], names[2]


def document(session: Session, invoice: Invoice) -> InvoiceDocument:
    """Everything the invoice page, its PDF and ``solus-bridge invoices show`` print."""
    client = invoice.client
    name1, name2 = tax_names(session, client, Decimal(invoice.taxrate), Decimal(invoice.taxrate2))
    taxes = []
    if invoice.tax or invoice.taxrate:
        taxes.append(TaxLine(name1, Decimal(invoice.taxrate), Decimal(invoice.tax)))
    if invoice.tax2 or invoice.taxrate2:
        taxes.append(TaxLine(name2, Decimal(invoice.taxrate2), Decimal(invoice.tax2)))
    paid = invoice_service.paid_amount(session, invoice)
    inclusive = catalogue.get_setting(session, "TaxType", "Exclusive") == "Inclusive"
    return InvoiceDocument(
        invoice=invoice, client=client, currency=invoice.currency, subtotal=Decimal(invoice.subtotal),
        taxes=taxes, credit=Decimal(invoice.credit), total=Decimal(invoice.total), paid=paid,
        balance=invoice_service.balance(session, invoice, paid=paid), inclusive=inclusive,
        payment_instructions=catalogue.payment_instructions(session, invoice.currency.code),
        client_credit=Decimal(client.credit or 0), is_open=invoice.status in OPEN)


@dataclass(frozen=True)
class PreviewLine:
    server_name: str
    plan_name: str
    hours: int
    tokens: int
    amount: Decimal  # before tax (after it when token prices include tax), like an invoice line


@dataclass(frozen=True)
class MonthPreview:
    """The running month priced like its invoice will be."""

    lines: list[PreviewLine] = field(default_factory=list)
    subtotal: Decimal = Decimal(0)
    taxes: list[TaxLine] = field(default_factory=list)
    total: Decimal = Decimal(0)
    inclusive: bool = False


def month_preview(session: Session, solus: SolusVM | None, client: Client, *, now: datetime,
                  items: list[UsageItem] | None = None) -> MonthPreview:
    """This month's usage so far with the invoicing run's line amounts and tax rules.

    ``items`` (a snapshot of ``usage.usage_items_so_far``) are priced without asking
    SolusVM; without them SolusVM is asked and its errors propagate (the page says the
    figures are unavailable).
    """
    ctx = invoice_service.tax_context(session, client)
    price = usage_lines.line_price(session, client)  # the run's own pricing: same amounts, same rounding
    period = f"{now.year:04d}-{now.month:02d}"
    lines: list[PreviewLine] = []
    moneys: list[LineMoney] = []
    rates = [ctx.rate1, ctx.rate2] if ctx.enabled else []
    if client.solusvm_user_id:
        if items is None:
            if solus is None:
                raise ValueError("month_preview needs SolusVM or the usage items")
            items = usage.usage_items_so_far(solus, client.solusvm_user_id, now=now)
        for item in items:
            for line in usage_lines.item_lines(item, period, price):
                money = line_tax(line["amount"], rates if line["taxed"] else [], ctx.compound,
                                 ctx.inclusive and bool(line["taxed"]), price.decimals)
                moneys.append(money)
                lines.append(PreviewLine(line["server_name"], line["plan_name"], line["hours"], line["tokens"],
                                         money.charged))
    totals = invoice_totals(moneys, ctx.inclusive, price.decimals)
    name1, name2 = tax_names(session, client, ctx.rate1, ctx.rate2)
    taxes = []
    if ctx.enabled and ctx.rate1:
        taxes.append(TaxLine(name1, ctx.rate1, totals.tax))
    if ctx.enabled and ctx.rate2:
        taxes.append(TaxLine(name2, ctx.rate2, totals.tax2))
    return MonthPreview(lines, totals.subtotal, taxes, totals.total, ctx.inclusive)


# (solus base URL, SolusVM user id, day) -> tokens used from the 1st to the end of that day.
# Past days do not change, so each is asked of SolusVM once per process; bounded.
_CUMULATIVE: dict[tuple[str, int, Any], int] = {}
_CUMULATIVE_MAX = 50_000


def usage_by_day(solus: SolusVM, solusvm_user_id: int | None, *, now: datetime,
                 today_total: int | None = None) -> list[tuple[Any, int]]:
    """Tokens used on each day of the running month so far: ``[(date, tokens), ...]``.

    SolusVM's usage is per period, so each day is the month-to-date total at its end minus
    the day before's (the monthly cap included: a capped server stops adding tokens). Days
    before today are cached; today is asked every time unless the caller already read it
    (``today_total``: the month-to-date tokens). SolusVM errors propagate.
    """
    if not solusvm_user_id:
        return []
    today = now.date()
    base = str(getattr(solus, "base_url", ""))
    out: list[tuple[Any, int]] = []
    previous = 0
    day = today.replace(day=1)
    while day <= today:
        key = (base, int(solusvm_user_id), day)
        total = _CUMULATIVE.get(key) if day < today else today_total
        if total is None:
            total = sum(item.total_tokens for item in iter_usage_items(
                solus, day.year, day.month, user_id=solusvm_user_id, until=day))
            if day < today:
                if len(_CUMULATIVE) >= _CUMULATIVE_MAX:
                    _CUMULATIVE.clear()
                _CUMULATIVE[key] = total
        out.append((day, max(total - previous, 0)))
        previous = total
        day += timedelta(days=1)
    return out
