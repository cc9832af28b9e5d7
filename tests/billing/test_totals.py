"""bridge.billing.totals, prices and the one rounding function."""

from __future__ import annotations

from decimal import Decimal

from bridge.api.whmcs.params import money
from bridge.billing import (
    MONEY_CEILING,
    balance_due,
    check_ceiling,
    invoice_totals,
    line_tax,
    plan_prices,
    quantize_money,
    token_amount,
)
from bridge.errors import ValidationFailed

D = Decimal


def test_exclusive_totals_add_the_rounded_lines() -> None:
    lines = [line_tax(D(a), [D(6), D(2)], True, False, 2) for a in ("5.00", "8.40", "0.30")]
    totals = invoice_totals(lines, False, 2)
    assert (totals.subtotal, totals.tax, totals.tax2, totals.total) == (D("13.70"), D("0.82"), D("0.30"), D("14.82"))


def test_inclusive_total_is_the_sum_of_the_lines_as_charged() -> None:
    lines = [line_tax(D("10.80"), [D(8)], False, True, 2), line_tax(D("1.00"), [], False, False, 2)]  # one untaxed
    totals = invoice_totals(lines, True, 2)
    assert (totals.subtotal, totals.tax, totals.tax2, totals.total) == (D("11.00"), D("0.80"), 0, D("11.80"))
    assert totals.subtotal + totals.tax + totals.tax2 == totals.total


def test_no_lines_total_zero() -> None:
    totals = invoice_totals([], False, 0)
    assert (totals.subtotal, totals.total) == (0, 0)


def test_balance_rounds_half_up_like_every_amount() -> None:
    # Regression: the balance used the decimal context's half-even, so 98.5 owed in a
    # 0-decimal currency became 98 where every other amount rounds half-up to 99.
    assert balance_due(D(100), D("1.5"), D(0), 0) == D(99)
    assert balance_due(D("10.00"), D("2.50"), D("3.00"), 2) == D("4.50")
    assert balance_due(D("10.00"), D("8.00"), D("5.00"), 2) == 0  # never below zero


def test_whmcs_answers_round_through_the_one_function() -> None:
    assert money("2.345") == str(quantize_money(D("2.345"), 2)) == "2.35"
    assert money("-2.345") == "-2.35"  # half-up is away from zero, as WHMCS does
    assert money(None) == "0.00" and money(D(7)) == "7.00"


def test_token_amount_and_plan_prices() -> None:
    assert token_amount(8400, D("0.001"), 2) == D("8.40")
    assert token_amount(1234, D("0.5"), 0) == D(617)
    rows = plan_prices([{"name": "S", "tokens_per_hour": 7, "tokens_per_month": 5000},
                        {"name": "H", "tokens_per_hour": "3"}], D("0.00091"), 2)
    assert rows == [{"name": "S", "tokens_per_hour": 7, "tokens_per_month": 5000, "per_hour": D("0.01"),
                     "per_month": D("4.55")},
                    {"name": "H", "tokens_per_hour": 3, "tokens_per_month": 0, "per_hour": D("0.00"),
                     "per_month": None}]


def test_money_ceiling() -> None:
    assert check_ceiling(MONEY_CEILING, "x") == MONEY_CEILING
    try:
        check_ceiling(MONEY_CEILING + D("0.01"), "Invoice total")
    except ValidationFailed as exc:
        assert exc.message == "Invoice total exceeds the maximum of 999999999999.99"
    else:
        raise AssertionError("over the ceiling must be refused")
