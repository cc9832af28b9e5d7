"""Tax: which rates apply to a client, and the tax of one invoice line (design §3).

Rates are in percent. Level 2 is charged on (amount + level 1) when taxes are compound.
Exclusive mode: a line's amount is net and its taxes come on top. Inclusive mode
(``TaxType = Inclusive``): the amount already contains the taxes, which are split out of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from contracts.solusvm_usage import quantize_money, tax_factor

ZERO = Decimal(0)


@dataclass(frozen=True)
class RuleInfo:
    """One tax rule of the catalogue: ``''`` as country or state matches every place."""

    id: int
    level: int
    name: str
    country: str
    state: str
    rate: Decimal


@dataclass(frozen=True)
class AppliedTax:
    """The taxes of one client: the rules for its place and whether they are charged."""

    place_rules: tuple[RuleInfo, ...]  # level-1 then level-2 rule for the place, charged or not
    enabled: bool  # tax is on and the client is not exempt
    compound: bool
    inclusive: bool

    @property
    def rules(self) -> tuple[RuleInfo, ...]:
        """The rules charged: the place's rules when ``enabled``, else none."""
        return self.place_rules if self.enabled else ()

    def _rate(self, level: int) -> Decimal:
        return next((r.rate for r in self.rules if r.level == level), ZERO)

    @property
    def rate1(self) -> Decimal:
        """The level-1 rate charged (0 when none)."""
        return self._rate(1)

    @property
    def rate2(self) -> Decimal:
        """The level-2 rate charged (0 when none)."""
        return self._rate(2)


def _most_specific(rules: Iterable[RuleInfo], country: str, state: str) -> tuple[RuleInfo, ...]:
    """Level-1 then level-2 rule for a place: the most specific match per level wins.

    '' matches every country/state; a rule naming the country beats one that does not,
    and one naming the state too beats both. Ties go to the older rule (lowest id).
    """
    country, state = country.upper(), state.strip().lower()
    chosen: list[RuleInfo] = []
    candidates = list(rules)
    for level in (1, 2):
        best: tuple[int, int, RuleInfo] | None = None
        for r in candidates:
            if r.level != level:
                continue
            if r.country and r.country != country:
                continue
            if r.state and r.state.strip().lower() != state:
                continue
            score = (2 if r.country else 0) + (1 if r.state else 0)
            if best is None or (score, -r.id) > (best[0], best[1]):
                best = (score, -r.id, r)
        if best is not None:
            chosen.append(best[2])
    return tuple(chosen)


def applicable_rates(rules: Iterable[RuleInfo], *, country: str, state: str, tax_enabled: bool, exempt: bool,
                     compound: bool, inclusive: bool) -> AppliedTax:
    """The taxes a client at ``country``/``state`` pays under the catalogue's ``rules`` and settings.

    The most specific level-1 and level-2 rule for the place (see ``_most_specific``); they
    are charged only when ``TaxEnabled`` is on and the client is not tax-exempt. Every
    caller (GetTokenPricing, invoices, the month preview, tax names) asks this function.
    """
    return AppliedTax(_most_specific(rules, country or "", state or ""), tax_enabled and not exempt,
                      compound, inclusive)


@dataclass(frozen=True)
class LineMoney:
    """One invoice line: the net amount, its level-1 and level-2 tax, and the gross total."""

    amount: Decimal
    tax: Decimal
    tax2: Decimal
    inclusive: bool = False  # the line was priced tax included

    @property
    def total(self) -> Decimal:
        """Net amount plus both taxes."""
        return self.amount + self.tax + self.tax2

    @property
    def charged(self) -> Decimal:
        """The line's amount as charged and stored: gross when tax-inclusive, net otherwise."""
        return self.total if self.inclusive else self.amount


def line_tax(amount_before_tax: Decimal, rates: Sequence[Decimal], compound: bool, inclusive: bool,
             decimals: int) -> LineMoney:
    """Money of one taxed line, each part rounded half-up to ``decimals``.

    ``rates`` is ``[level1, level2]`` in percent (missing levels are 0; pass ``[]`` for an
    untaxed line or an exempt client). Exclusive: the amount is net; tax1 = amount × r1,
    tax2 = (amount [+ tax1 when compound]) × r2. Inclusive: the amount already contains the
    tax; the net is gross / tax factor, both taxes are computed on it the same way, and the
    net amount is what is left, so the line's total equals the gross.
    """
    r1 = Decimal(rates[0]) if len(rates) > 0 else ZERO
    r2 = Decimal(rates[1]) if len(rates) > 1 else ZERO
    if not inclusive:
        amount = quantize_money(Decimal(amount_before_tax), decimals)
        tax = quantize_money(amount * r1 / 100, decimals)
        tax2 = quantize_money((amount + tax if compound else amount) * r2 / 100, decimals)
        return LineMoney(amount, tax, tax2)
    gross = quantize_money(Decimal(amount_before_tax), decimals)
    net = gross / tax_factor([r1, r2], compound)
    tax = quantize_money(net * r1 / 100, decimals)
    # Level 2's base: the net, times level 1's own factor when compound (net + unrounded tax1).
    base2 = net * tax_factor([r1], compound) if compound else net
    tax2 = quantize_money(base2 * r2 / 100, decimals)
    return LineMoney(gross - tax - tax2, tax, tax2, inclusive=True)
