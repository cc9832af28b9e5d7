"""Property tests: GetTokenPricing's user_token_unit_cost follows design §3 for random catalogues."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.db import make_engine
from bridge.models import Base, Client, ClientGroup, Currency, Setting, TaxRule, TokenPrice
from bridge.services import catalogue
from bridge.services.pricing import token_pricing
from bridge.services.unit_of_work import make_session_factory

prices = st.decimals(min_value=Decimal("0.0000001"), max_value=Decimal("100"), places=7)
percents = st.decimals(min_value=Decimal("0"), max_value=Decimal("99.99"), places=2)
tax_rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("50"), places=3)


@st.composite
def catalogues(draw: Any) -> dict[str, Any]:
    n_cur = draw(st.integers(1, 3))
    return {
        "prices": [draw(prices) for _ in range(n_cur)],
        "discount": draw(st.one_of(st.none(), percents)),
        "l1": draw(st.one_of(st.none(), tax_rates)),
        "l2": draw(st.one_of(st.none(), tax_rates)),
        "l1_country": draw(st.sampled_from(["", "US", "DE"])),
        "client_country": draw(st.sampled_from(["US", "DE", "FR"])),
        "currency_index": draw(st.integers(0, n_cur - 1)),
        "compound": draw(st.booleans()),
        "inclusive": draw(st.booleans()),
        "enabled": draw(st.booleans()),
        "exempt": draw(st.booleans()),
    }


def expected(cat: dict[str, Any]) -> tuple[Decimal, list[Decimal]]:
    base = cat["prices"][cat["currency_index"]]
    cost = base
    if cat["discount"]:
        cost *= 1 - cat["discount"] / 100
    rates: list[Decimal] = []
    if cat["enabled"] and not cat["exempt"]:
        if cat["l1"] is not None and cat["l1_country"] in ("", cat["client_country"]):
            rates.append(cat["l1"])
        if cat["l2"] is not None:
            rates.append(cat["l2"])
    if not cat["inclusive"]:
        if cat["compound"]:
            for r in rates:
                cost *= 1 + r / 100
        else:
            cost *= 1 + sum(rates, Decimal(0)) / 100
    return cost, rates


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cat=catalogues())
def test_user_token_unit_cost_matches_the_rule(cat: dict[str, Any]) -> None:
    engine = make_engine("sqlite://")  # in-memory: each example gets a fresh database
    Base.metadata.create_all(engine)
    try:
        with make_session_factory(engine)() as s, s.begin():
            currencies = [Currency(code=f"C{i}A", prefix="", suffix="", format=1, decimals=2) for i in range(len(cat["prices"]))]
            s.add_all(currencies)
            s.flush()
            s.add_all(TokenPrice(currency_id=c.id, price_per_token=p) for c, p in zip(currencies, cat["prices"], strict=True))
            group_id = None
            if cat["discount"] is not None:
                g = ClientGroup(name="G", discount_percent=cat["discount"])
                s.add(g)
                s.flush()
                group_id = g.id
            if cat["l1"] is not None:
                s.add(TaxRule(level=1, name="L1", country=cat["l1_country"], state="", rate=cat["l1"]))
            if cat["l2"] is not None:
                s.add(TaxRule(level=2, name="L2", country="", state="", rate=cat["l2"]))
            s.add_all([Setting(key="TaxEnabled", value="on" if cat["enabled"] else ""),
                       Setting(key="TaxType", value="Inclusive" if cat["inclusive"] else "Exclusive"),
                       Setting(key="TaxL2Compound", value="on" if cat["compound"] else "")])
            c = Client(firstname="a", lastname="b", email="a@b.c", email_normalized="a@b.c",
                       currency_id=currencies[cat["currency_index"]].id, group_id=group_id,
                       tax_exempt=cat["exempt"], country=cat["client_country"])
            s.add(c)
            s.flush()
            cid = c.id
        with make_session_factory(engine)() as s:
            result = token_pricing(s, cid)
        cost, rates = expected(cat)
        assert result.user_token_unit_cost == cost
        assert result.base_token_unit_cost == cat["prices"][cat["currency_index"]]
        assert [r["rate"] for r in result.rates] == rates
        assert result.compound is cat["compound"]
        assert result.taxes_inclusive is cat["inclusive"]
        assert result.user_token_unit_cost > 0  # never a price of zero
        assert all(d["multipler"] == d["multiplier"] for d in result.discounts)
    finally:
        catalogue.clear_cache()
        engine.dispose()


def test_compound_example() -> None:
    from contracts.solusvm_usage import user_token_unit_cost

    assert user_token_unit_cost(Decimal(1), [], [Decimal(6), Decimal(2)], True) == Decimal("1.0812")
