"""bridge.billing.tax: which rates apply to a client, and the tax of one line (design §3)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.billing import RuleInfo, applicable_rates, line_tax, tax_factor

D = Decimal
tax_rates = st.decimals(min_value=D("0"), max_value=D("50"), places=3)
money = st.decimals(min_value=D("0"), max_value=D("100000"), places=4)


def _q(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(D(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


RULES = (RuleInfo(1, 1, "Everywhere", "", "", D(5)), RuleInfo(2, 1, "US", "US", "", D(6)),
         RuleInfo(3, 1, "California", "US", "CA", D("7.25")), RuleInfo(4, 1, "Older US", "US", "", D(9)),
         RuleInfo(5, 2, "State", "", "", D(2)))


def _applied(country: str, state: str, *, enabled: bool = True, exempt: bool = False) -> Any:
    return applicable_rates(RULES, country=country, state=state, tax_enabled=enabled, exempt=exempt,
                            compound=True, inclusive=False)


def test_most_specific_rule_per_level_wins_ties_to_the_older() -> None:
    assert [r.name for r in _applied("us", " ca ").rules] == ["California", "State"]  # case and spaces ignored
    assert [r.name for r in _applied("US", "NY").rules] == ["US", "State"]  # id 2 beats the later id 4
    assert [r.name for r in _applied("FR", "").rules] == ["Everywhere", "State"]
    assert (_applied("US", "CA").rate1, _applied("US", "CA").rate2) == (D("7.25"), D(2))


def test_tax_off_or_exempt_charges_nothing_but_keeps_the_place_rules() -> None:
    for applied in (_applied("US", "CA", enabled=False), _applied("US", "CA", exempt=True)):
        assert applied.rules == () and not applied.enabled
        assert (applied.rate1, applied.rate2) == (0, 0)
        assert [r.name for r in applied.place_rules] == ["California", "State"]  # for the tax names of old invoices


def test_no_rule_for_a_level_is_a_zero_rate() -> None:
    applied = applicable_rates(RULES[4:], country="DE", state="", tax_enabled=True, exempt=False,
                               compound=False, inclusive=True)
    assert (applied.rate1, applied.rate2, applied.inclusive, applied.compound) == (0, D(2), True, False)


@given(amount=money, r1=tax_rates, r2=tax_rates, compound=st.booleans(), inclusive=st.booleans(),
       decimals=st.sampled_from([0, 2, 3]))
def test_line_money_adds_up_to_the_cent(amount: Decimal, r1: Decimal, r2: Decimal, compound: bool,
                                        inclusive: bool, decimals: int) -> None:
    line = line_tax(amount, [r1, r2], compound, inclusive, decimals)
    for part in (line.amount, line.tax, line.tax2):
        assert part == _q(part, decimals)
    if inclusive:
        assert line.total == line.charged == _q(amount, decimals)
    else:
        assert line.amount == line.charged == _q(amount, decimals)
        assert line.tax == _q(line.amount * r1 / 100, decimals)
        base2 = line.amount + line.tax if compound else line.amount
        assert line.tax2 == _q(base2 * r2 / 100, decimals)


@given(amount=money, r1=tax_rates, r2=tax_rates, compound=st.booleans(), decimals=st.sampled_from([0, 2]))
def test_inclusive_split_of_an_exclusive_total_gives_back_its_net_and_taxes(
        amount: Decimal, r1: Decimal, r2: Decimal, compound: bool, decimals: int) -> None:
    """Charging net N tax-exclusive gives gross G; splitting G tax-inclusive gives back N and the
    same taxes, up to the per-line rounding (a unit of the last decimal per tax, two on level 2,
    whose base carries level 1's rounding too), and exactly G as the line's total."""
    unit = D(1).scaleb(-decimals)
    exclusive = line_tax(amount, [r1, r2], compound, False, decimals)
    inclusive = line_tax(exclusive.total, [r1, r2], compound, True, decimals)
    assert inclusive.total == exclusive.total
    assert abs(inclusive.tax - exclusive.tax) <= unit
    assert abs(inclusive.tax2 - exclusive.tax2) <= 2 * unit
    assert abs(inclusive.amount - exclusive.amount) <= 3 * unit
    # the net taken out is the gross over the tax factor, rounded like a line
    assert abs(inclusive.amount - exclusive.total / tax_factor([r1, r2], compound)) <= 3 * unit


def test_compound_examples_both_ways() -> None:
    line = line_tax(D("100.00"), [D(10), D(20)], True, False, 2)
    assert (line.amount, line.tax, line.tax2) == (D("100.00"), D("10.00"), D("22.00"))
    # 132.00 tax included at 10 % then 20 % compound: factor 1.32, net 100, level 2 on 110
    back = line_tax(D("132.00"), [D(10), D(20)], True, True, 2)
    assert (back.amount, back.tax, back.tax2, back.charged) == (D("100.00"), D("10.00"), D("22.00"), D("132.00"))
    flat = line_tax(D("130.00"), [D(10), D(20)], False, True, 2)  # not compound: factor 1.30
    assert (flat.amount, flat.tax, flat.tax2) == (D("100.00"), D("10.00"), D("20.00"))


def test_untaxed_line_is_its_rounded_amount() -> None:
    line = line_tax(D("2.345"), [], True, False, 2)
    assert (line.amount, line.tax, line.tax2, line.charged) == (D("2.35"), 0, 0, D("2.35"))
