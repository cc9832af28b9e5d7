"""Invoice arithmetic at the currency's own decimals, stored the same on SQLite and PostgreSQL.

0-decimal currencies (JPY) are invoiced in whole units with subtotal + tax + tax2 = total;
currencies finer than the stored scale (KWD's 3 decimals) are refused with a clear error and
nothing is written (the catalogue may refuse them earlier, when it is loaded).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from bridge.errors import ValidationFailed
from bridge.models import MONEY_SCALE, Currency, Invoice
from bridge.services import catalogue
from tests.bridge.conftest import err, ok, session_of


def _catalogue(app: Any, code: str, decimals: int) -> int:
    with session_of(app) as s, s.begin():
        catalogue.load_catalogue(s, {
            "currencies": [{"code": code, "prefix": "", "suffix": f" {code}", "format": 1, "rate": "1",
                            "decimals": decimals, "token_price": "1"}],
            "tax_rules": [{"level": 1, "name": "VAT", "rate": "10.000"}, {"level": 2, "name": "L2", "rate": "2.500"}],
            "settings": {"TaxEnabled": True, "TaxL2Compound": True}}, actor="test")
        return int(s.scalar(select(Currency.id).where(Currency.code == code)))


def test_zero_decimal_currency_adds_up(app: Any, api: Any, make_client: Any) -> None:
    cur = _catalogue(app, "JPY", 0)
    cid = make_client(currency=cur)
    body = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="1234.4", itemtaxed1="1",
                  itemdescription2="b", itemamount2="99.5", itemtaxed2="1"))
    with session_of(app) as s:
        inv = s.get(Invoice, int(body["invoiceid"]))
        values = [Decimal(inv.subtotal), Decimal(inv.tax), Decimal(inv.tax2), Decimal(inv.total)]
        assert all(v == v.to_integral_value() for v in values), values  # whole yen, every amount
        assert values[0] + values[1] + values[2] == values[3]
        # 1234 + 100 = 1334; tax 123 + 10; compound level 2 on (amount + tax): 34 + 3
        assert values == [Decimal(1334), Decimal(133), Decimal(37), Decimal(1504)]


def test_currency_finer_than_the_stored_scale_is_refused_when_the_catalogue_loads(app: Any) -> None:
    with pytest.raises(ValidationFailed, match="KWD decimals must be 0-2"):
        _catalogue(app, "KWD", MONEY_SCALE + 1)
    with session_of(app) as s:
        assert s.scalar(select(Currency.id).where(Currency.code == "KWD")) is None  # nothing written


def test_a_stored_currency_finer_than_the_scale_is_refused_by_invoicing(app: Any, api: Any,
                                                                        make_client: Any) -> None:
    # A row written before the catalogue checked decimals (or by hand): invoicing still refuses.
    cur = _catalogue(app, "KWD", MONEY_SCALE)
    with session_of(app) as s, s.begin():
        s.execute(update(Currency).where(Currency.id == cur).values(decimals=MONEY_SCALE + 1))
    cid = make_client(currency=cur)
    assert err(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="1.005")) == \
        "Currency KWD has 3 decimal places; invoices are stored with at most 2"
    assert ok(api("GetInvoices", userid=cid))["totalresults"] == 0
