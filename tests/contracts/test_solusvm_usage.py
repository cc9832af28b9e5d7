"""SolusVM's usage rules of design §3, with the seed's own examples."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import solusvm_usage as rules

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def test_seed_cap_examples():
    # Seed 001 step 2: 7 tokens/h with a 5000 cap.
    assert rules.capped_tokens(700, 7, 5000) == rules.CappedCharge(700, 4900, False)
    assert rules.capped_tokens(730, 7, 5000) == rules.CappedCharge(730, 5000, True)
    assert rules.capped_tokens(744, 7, 5000).tokens == 5000


def test_hourly_only_and_fixed_monthly():
    assert rules.capped_tokens(1000, 7, 0) == rules.CappedCharge(1000, 7000, False)
    assert rules.capped_tokens(1, 0, 5000) == rules.CappedCharge(1, 5000, True)
    assert rules.capped_tokens(0, 0, 5000).tokens == 0


def test_started_hour_is_whole_hour():
    assert rules.started_hours(T0, T0 + timedelta(minutes=5)) == 1
    assert rules.started_hours(T0, T0 + timedelta(hours=1)) == 1
    assert rules.started_hours(T0, T0 + timedelta(hours=1, seconds=1)) == 2
    assert rules.started_hours(T0, T0) == 0


def test_month_boundary_split():
    start = datetime(2026, 9, 30, 22, 30, tzinfo=UTC)
    end = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
    hours = []
    for month in ((2026, 9), (2026, 10)):
        span = rules.overlap(start, end, *rules.month_bounds(*month))
        assert span is not None
        hours.append(rules.started_hours(*span))
    assert hours == [2, 2]  # 22:30-24:00 is two started hours


def test_periods():
    assert rules.parse_period("2026-02") == (2026, 2)
    for bad in ("2026-13", "26-01", "2026/01", "", "2026-1"):
        with pytest.raises(ValueError):
            rules.parse_period(bad)
    assert rules.previous_period(date(2026, 1, 1)) == (2025, 12)
    lo, hi = rules.month_bounds(2028, 2)
    assert (hi - lo).days == 29


def test_compound_example_from_seed():
    assert rules.user_token_unit_cost(Decimal(1), [], [Decimal(6), Decimal(2)], True) == Decimal("1.0812")
    assert rules.user_token_unit_cost(Decimal(1), [], [Decimal(6), Decimal(2)], False) == Decimal("1.08")
    assert rules.user_token_unit_cost(Decimal("0.001"), [Decimal("0.95")], [], False) == Decimal("0.00095")


def test_quantize_half_up():
    assert rules.quantize_money(Decimal("2.345"), 2) == Decimal("2.35")
    assert rules.quantize_money(Decimal("1234.5"), 0) == Decimal("1235")


@given(st.integers(0, 2000), st.integers(0, 100), st.integers(0, 100_000))
def test_cap_never_exceeds_either_price(hours, per_hour, per_month):
    c = rules.capped_tokens(hours, per_hour, per_month)
    if hours == 0:
        assert c.tokens == 0
    elif per_month == 0:
        assert c.tokens == hours * per_hour
    elif per_hour == 0:
        assert c.tokens == per_month
    else:
        assert c.tokens == min(hours * per_hour, per_month)
        assert c.monthly_cap_applied == (hours * per_hour > per_month)
