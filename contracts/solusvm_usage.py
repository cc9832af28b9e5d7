"""SolusVM's usage rules (design §3): started hours, the hourly/monthly token cap, calendar periods,
and the per-user token price a billing system answers GetTokenPricing with.

Both the mock (which computes usage the way SolusVM does) and the bridge (which checks
usage and prices tokens) import these functions, so the two sides can never disagree.
Everything here is pure: integers for tokens, ``Decimal`` for money, no I/O.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal


def started_hours(start: datetime, end: datetime) -> int:
    """Whole hours billed for a span: every started hour counts, so 5 minutes is 1 hour.

    The span is half-open ``[start, end)``; an empty or negative span bills nothing.
    """
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        return 0
    return math.ceil(seconds / 3600)


@dataclass(frozen=True)
class CappedCharge:
    """Tokens for one resource in one month, and which price applied."""

    hours: int
    tokens: int
    monthly_cap_applied: bool


def capped_tokens(hours: int, tokens_per_hour: int, tokens_per_month: int) -> CappedCharge:
    """Apply the hourly/monthly-cap rule for one resource in one month.

    - both set: ``min(hours × per_hour, per_month)``;
    - ``per_month == 0``: hourly only;
    - ``per_hour == 0`` and ``per_month > 0``: the fixed monthly price, always (when used at all).
    """
    if hours < 0 or tokens_per_hour < 0 or tokens_per_month < 0:
        raise ValueError("hours and token prices must be non-negative")
    if hours == 0:
        return CappedCharge(0, 0, False)
    if tokens_per_month == 0:
        return CappedCharge(hours, hours * tokens_per_hour, False)
    if tokens_per_hour == 0:
        return CappedCharge(hours, tokens_per_month, True)
    hourly = hours * tokens_per_hour
    if hourly > tokens_per_month:
        return CappedCharge(hours, tokens_per_month, True)
    return CappedCharge(hours, hourly, False)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """UTC ``[first instant, first instant of next month)`` of a calendar month."""
    start = datetime(year, month, 1, tzinfo=UTC)
    days = calendar.monthrange(year, month)[1]
    return start, start + timedelta(days=days)


def parse_period(period: str) -> tuple[int, int]:
    """Parse ``YYYY-MM`` into ``(year, month)``; raise ``ValueError`` on anything else."""
    try:
        year_s, month_s = period.split("-")
        if len(year_s) != 4 or len(month_s) != 2:
            raise ValueError
        year, month = int(year_s), int(month_s)
        if not 1 <= month <= 12 or year < 1970:
            raise ValueError
    except ValueError:
        raise ValueError(f"period must be YYYY-MM, got {period!r}") from None
    return year, month


def previous_period(today: date) -> tuple[int, int]:
    """The calendar month before the one ``today`` falls in."""
    first = today.replace(day=1)
    last_of_prev = first - timedelta(days=1)
    return last_of_prev.year, last_of_prev.month


def overlap(start: datetime, end: datetime | None, lo: datetime, hi: datetime) -> tuple[datetime, datetime] | None:
    """The part of ``[start, end)`` (``end=None``: still running, cut at ``hi``) inside ``[lo, hi)``."""
    s = max(start, lo)
    e = min(end if end is not None else hi, hi)
    if e <= s:
        return None
    return s, e


# --- money -----------------------------------------------------------------------------


def tax_factor(rates: Iterable[Decimal], compound: bool) -> Decimal:
    """``1 + Σ rate/100`` (non-compound) or ``Π (1 + rate/100)`` (compound); rates in percent."""
    rates = [Decimal(r) for r in rates]
    if compound:
        factor = Decimal(1)
        for r in rates:
            factor *= 1 + r / 100
        return factor
    return 1 + sum(rates, Decimal(0)) / 100


def user_token_unit_cost(
    base: Decimal, multipliers: Iterable[Decimal], rates: Iterable[Decimal], compound: bool
) -> Decimal:
    """Design §3: base × every discount multiplier × the tax factor, never rounded to cents."""
    cost = Decimal(base)
    for m in multipliers:
        cost *= Decimal(m)
    return cost * tax_factor(rates, compound)


def quantize_money(amount: Decimal, decimals: int) -> Decimal:
    """Round half-up to a currency's number of decimals (0 for JPY, 2 for USD)."""
    return amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
