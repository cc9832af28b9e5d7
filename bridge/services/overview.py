"""The figures of the admin home page: revenue per month, what is owed, plans, clients.

Sums are made in Python from the stored amounts (each exact to the cent) so SQLite, whose
SUM over numeric columns is a float, gives the same figures as PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.models import Client, Currency, Invoice, InvoiceItem, SolusVMHold, Transaction
from bridge.services.provisioning import desired_status

OPEN = ("Unpaid", "Overdue", "Payment Pending", "Collections")
NOT_REVENUE = ("Draft", "Cancelled", "Refunded")
STATUSES = ("active", "locked", "suspended")


def last_months(today: date, count: int = 12) -> list[str]:
    """``YYYY-MM`` of the ``count`` months ending with ``today``'s, oldest first."""
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


@dataclass
class CurrencyRevenue:
    code: str
    currency: Currency
    invoiced: dict[str, Decimal] = field(default_factory=dict)  # month -> invoice totals dated that month
    collected: dict[str, Decimal] = field(default_factory=dict)  # month -> payments received that month
    unpaid: Decimal = Decimal(0)  # balance of open invoices not yet due
    overdue: Decimal = Decimal(0)  # balance of open invoices past their due date


@dataclass(frozen=True)
class PlanLine:
    plan_name: str
    tokens: int
    revenue: dict[str, Decimal]  # currency code -> amount before tax


@dataclass(frozen=True)
class Overview:
    months: list[str]
    currencies: list[CurrencyRevenue]
    plans_month: str
    plans: list[PlanLine]
    clients_by_status: dict[str, int]


def overview(session: Session, *, today: date) -> Overview:
    """Everything the admin home page charts, as of ``today``."""
    months = last_months(today)
    first = date.fromisoformat(months[0] + "-01")
    by_code: dict[str, CurrencyRevenue] = {}

    def rev(cur: Currency) -> CurrencyRevenue:
        if cur.code not in by_code:
            by_code[cur.code] = CurrencyRevenue(cur.code, cur, {m: Decimal(0) for m in months},
                                                {m: Decimal(0) for m in months})
        return by_code[cur.code]

    currencies = {c.id: c for c in session.scalars(select(Currency))}
    for cur in currencies.values():
        if cur.is_default:
            rev(cur)
    rows = session.execute(select(Invoice.date, Invoice.currency_id, Invoice.total)
                           .where(Invoice.date >= first, Invoice.status.not_in(NOT_REVENUE)))
    for when, currency_id, total in rows:
        month = f"{when.year:04d}-{when.month:02d}"
        if month in months:
            rev(currencies[currency_id]).invoiced[month] += Decimal(total)
    payments = session.execute(select(Transaction.date, Transaction.amount_in, Invoice.currency_id)
                               .join(Invoice, Transaction.invoice_id == Invoice.id))
    for when, amount, currency_id in payments:
        month = f"{when.year:04d}-{when.month:02d}"
        if month in months:
            rev(currencies[currency_id]).collected[month] += Decimal(amount)
    # What is owed: total - credit - payments of every open invoice.
    paid: dict[int, Decimal] = defaultdict(Decimal)
    open_rows = list(session.execute(select(Invoice.id, Invoice.currency_id, Invoice.total, Invoice.credit,
                                            Invoice.duedate).where(Invoice.status.in_(OPEN))))
    if open_rows:
        for invoice_id, amount in session.execute(select(Transaction.invoice_id, Transaction.amount_in)
                                                  .where(Transaction.invoice_id.in_([r[0] for r in open_rows]))):
            if invoice_id is not None:
                paid[invoice_id] += Decimal(amount)
    for invoice_id, currency_id, total, credit, duedate in open_rows:
        owed = max(Decimal(total) - Decimal(credit) - paid[invoice_id], Decimal(0))
        entry = rev(currencies[currency_id])
        if duedate < today:
            entry.overdue += owed
        else:
            entry.unpaid += owed

    # Plans: the lines of the invoices issued this month (postpaid: last month's usage).
    this_month = months[-1]
    month_start = date.fromisoformat(this_month + "-01")
    tokens: dict[str, int] = defaultdict(int)
    revenue: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    items = session.execute(select(InvoiceItem.plan_name, InvoiceItem.tokens, InvoiceItem.amount, Invoice.currency_id)
                            .join(Invoice, InvoiceItem.invoice_id == Invoice.id)
                            .where(Invoice.date >= month_start, Invoice.status.not_in(NOT_REVENUE)))
    for plan_name, item_tokens, amount, currency_id in items:
        name = plan_name or "other charges"
        tokens[name] += int(item_tokens or 0)
        revenue[name][currencies[currency_id].code] += Decimal(amount)
    plans = sorted((PlanLine(name, tokens[name], dict(revenue[name])) for name in tokens),
                   key=lambda p: (-p.tokens, p.plan_name))
    return Overview(months, sorted(by_code.values(), key=lambda r: (not r.currency.is_default, r.code)),
                    this_month, plans, clients_by_status(session))


def clients_by_status(session: Session) -> dict[str, int]:
    """How many clients SolusVM should show as active, locked and suspended (closed ones are suspended)."""
    counts = dict.fromkeys(STATUSES, 0)
    held = set(session.scalars(select(SolusVMHold.client_id)))
    for client_id, status in session.execute(select(Client.id, Client.status)):
        if client_id not in held:
            counts["suspended" if status == "Closed" else "active"] += 1
    for client in session.scalars(select(Client).where(Client.id.in_(held))) if held else ():
        counts[desired_status(client, session)] += 1
    return counts
