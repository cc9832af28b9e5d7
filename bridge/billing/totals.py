"""Invoice totals and what is still owed, from already-rounded lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from bridge.billing.tax import LineMoney
from contracts.solusvm_usage import quantize_money

ZERO = Decimal(0)


@dataclass(frozen=True)
class InvoiceTotals:
    """An invoice's subtotal, taxes and total: ``subtotal + tax + tax2 == total``."""

    subtotal: Decimal
    tax: Decimal
    tax2: Decimal
    total: Decimal


def invoice_totals(lines: Iterable[LineMoney], inclusive: bool, decimals: int) -> InvoiceTotals:
    """Totals of an invoice's lines (sums of rounded lines, so they add up to the cent).

    Exclusive: ``subtotal = Σ amount`` and ``total = subtotal + tax + tax2``. Inclusive:
    ``total = Σ amount as charged`` (tax included) and ``subtotal = total - tax - tax2``.
    """
    tax = tax2 = charged = ZERO
    for line in lines:
        tax += line.tax
        tax2 += line.tax2
        charged += line.charged
    gross = quantize_money(charged, decimals)
    if inclusive:
        return InvoiceTotals(gross - tax - tax2, tax, tax2, gross)
    return InvoiceTotals(gross, tax, tax2, gross + tax + tax2)


def balance_due(total: Decimal, credit: Decimal, paid: Decimal, decimals: int) -> Decimal:
    """What is still owed on an invoice: total - credit - payments, never below 0, rounded half-up."""
    owed = Decimal(total) - Decimal(credit) - Decimal(paid)
    return quantize_money(max(owed, ZERO), decimals)
