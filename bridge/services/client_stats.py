"""A client's invoice, payment and product figures (GetClientsDetails ``stats``).

The sums come from the bridge's invoices, transactions and credit; the WHMCS adapter writes
them in WHMCS's keys (``contracts.whmcs.ClientStatsSchema``). Amounts are summed in Python:
SQL SUM over Numeric is float arithmetic on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.models import Client, Currency, Invoice, Transaction
from bridge.services import invoices

ZERO = Decimal(0)


@dataclass(frozen=True)
class StatusTotals:
    """Invoices of one status: how many, their totals, and what is still owed on them."""

    count: int = 0
    total: Decimal = ZERO
    due: Decimal = ZERO


@dataclass(frozen=True)
class ClientStats:
    """What GetClientsDetails ``stats`` reports, in the client's ``currency``.

    ``by_status`` has every invoice status (zero when there is none); ``due`` is kept for
    Unpaid and Draft invoices only. ``products`` counts the client's SolusVM account, once
    enrolled, as one product (active while the client is).
    """

    currency: Currency
    by_status: dict[str, StatusTotals]
    overdue_count: int
    overdue_balance: Decimal
    credit: Decimal
    gross: Decimal
    fees: Decimal
    out: Decimal
    products: int
    active_products: int

    @property
    def in_credit(self) -> bool:
        """The client has credit to spend."""
        return self.credit > 0

    @property
    def expenses(self) -> Decimal:
        """Fees and money paid out."""
        return self.fees + self.out

    @property
    def income(self) -> Decimal:
        """Money received less fees and money paid out."""
        return self.gross - self.fees - self.out


def client_stats(session: Session, client: Client, today: date) -> ClientStats:
    """The figures of ``client``; Unpaid invoices due before ``today`` are overdue."""
    totals: dict[str, StatusTotals] = {status: StatusTotals() for status in invoices.STATUSES}
    overdue_count, overdue_balance = 0, ZERO
    # Every payment against this client's invoices in one query, not one per open invoice.
    paid: dict[int, Decimal] = {}
    for invoice_id, amount in session.execute(
            select(Transaction.invoice_id, Transaction.amount_in)
            .join(Invoice, Transaction.invoice_id == Invoice.id).where(Invoice.client_id == client.id)):
        if invoice_id is not None:  # always: the join is on it
            paid[invoice_id] = paid.get(invoice_id, ZERO) + Decimal(amount)
    for inv in session.scalars(select(Invoice).where(Invoice.client_id == client.id)):
        owed = (invoices.balance(session, inv, paid=paid.get(inv.id, ZERO))
                if inv.status in ("Unpaid", "Draft") else ZERO)
        was = totals.get(inv.status, StatusTotals())
        totals[inv.status] = StatusTotals(was.count + 1, was.total + Decimal(inv.total), was.due + owed)
        if inv.status == "Unpaid" and inv.duedate < today:
            overdue_count, overdue_balance = overdue_count + 1, overdue_balance + owed
    gross = fees = out = ZERO
    for t in session.scalars(select(Transaction).where(Transaction.client_id == client.id)):
        gross += Decimal(t.amount_in)
        fees += Decimal(t.fees)
        out += Decimal(t.amount_out)
    products = 1 if client.solusvm_user_id else 0
    return ClientStats(
        currency=client.currency, by_status=totals, overdue_count=overdue_count, overdue_balance=overdue_balance,
        credit=Decimal(client.credit or 0), gross=gross, fees=fees, out=out, products=products,
        active_products=products if client.status == "Active" else 0)
