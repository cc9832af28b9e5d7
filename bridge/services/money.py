"""Invoice money by design §3: per-line half-up rounding, level 2 on (amount + level 1) when
compound, Exclusive or Inclusive tax. All ``Decimal``; ``subtotal + tax + tax2 == total``.

``MONEY_CEILING`` bounds every amount the bridge stores or computes (invoice lines and
totals, credit balances, the payments on an invoice): see ``check_ceiling``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bridge.errors import ValidationFailed
from contracts.solusvm_usage import quantize_money, tax_factor

ZERO = Decimal(0)

#: The largest amount (in absolute value) the bridge stores or computes as a sum. SQLite keeps
#: ``Numeric`` columns as 8-byte floats, which hold at most 15 significant digits exactly
#: (99999999999999.99 comes back as ...98). This ceiling has 14, so even a SQL SUM of a few
#: such amounts stays exact to the cent, and it fits PostgreSQL's DECIMAL(16,2).
MONEY_CEILING = Decimal("999999999999.99")


def check_ceiling(value: Decimal, what: str) -> Decimal:
    """``value`` itself, or ValidationFailed("<what> exceeds the maximum of 999999999999.99").

    Services call it on every computed sum before they store it, so an oversized value is a
    WHMCS ``result=error`` and the caller's transaction rolls back, never a cent lost
    silently on SQLite or a numeric overflow (500) on PostgreSQL.
    """
    if abs(value) > MONEY_CEILING:
        raise ValidationFailed(f"{what} exceeds the maximum of {MONEY_CEILING}")
    return value


@dataclass(frozen=True)
class LineMoney:
    """One invoice line: the net amount, its level-1 and level-2 tax, and the gross total."""

    amount: Decimal
    tax: Decimal
    tax2: Decimal

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax + self.tax2


def compute_line(amount_before_tax: Decimal, rates: Sequence[Decimal], compound: bool, inclusive: bool,
                 decimals: int) -> LineMoney:
    """Money of one taxed line.

    ``rates`` is ``[level1, level2]`` in percent (missing levels are 0; pass ``[]`` for an
    untaxed line or an exempt client). Exclusive: the amount is net; tax1 = amount × r1,
    tax2 = (amount [+ tax1 when compound]) × r2, each rounded half-up. Inclusive: the amount
    already contains the tax; the net is gross / tax factor, both taxes are computed on it
    and rounded, and the net amount is what is left, so the line's total equals the gross.
    """
    r1 = Decimal(rates[0]) if len(rates) > 0 else ZERO
    r2 = Decimal(rates[1]) if len(rates) > 1 else ZERO
    q = lambda d: quantize_money(d, decimals)  # noqa: E731 - local shorthand
    if not inclusive:
        amount = q(Decimal(amount_before_tax))
        tax = q(amount * r1 / 100)
        tax2 = q((amount + tax if compound else amount) * r2 / 100)
        return LineMoney(amount, tax, tax2)
    gross = q(Decimal(amount_before_tax))
    net = gross / tax_factor([r1, r2], compound)
    tax = q(net * r1 / 100)
    tax2 = q((net + net * r1 / 100 if compound else net) * r2 / 100)
    return LineMoney(gross - tax - tax2, tax, tax2)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    tax2: Decimal

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax + self.tax2


def sum_lines(lines: Iterable[LineMoney]) -> Totals:
    """Invoice totals: sums of the already-rounded lines (so they add up to the cent)."""
    subtotal = tax = tax2 = ZERO
    for line in lines:
        subtotal += line.amount
        tax += line.tax
        tax2 += line.tax2
    return Totals(subtotal, tax, tax2)
