"""GetTokenPricing's separators come from the one WHMCS format table (``bridge.billing.SEPARATORS``),
the table the pages, mails and PDFs format with (regression: format 4 had two tables that disagreed)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.billing import format_money, separators
from bridge.services import catalogue
from tests.bridge.conftest import session_of


@pytest.mark.parametrize("fmt", [1, 2, 3, 4])
def test_pricing_separators_are_the_formatters(app: Any, client: Any, make_client: Any, fmt: int) -> None:
    decimals = 0 if fmt == 4 else 2
    with session_of(app) as s, s.begin():
        catalogue.load_catalogue(s, {"currencies": [{"code": "XTS", "prefix": "", "suffix": "", "format": fmt,
                                                     "decimals": decimals, "token_price": "0.5"}]}, actor="test")
    cid = make_client(currency="3")
    body = client.post("/includes/api.php", data={"action": "GetTokenPricing", "userid": cid,
                                                  "token": "s3cret"}).get_json()
    thousands, point = body["currency"]["thousands_separator"], body["currency"]["decimals_separator"]
    assert (thousands, point) == separators(fmt)
    # What SolusVM is told is how the bridge writes money: 1234567.5 with those separators.
    written = format_money("1234567.5", {"format": fmt, "decimals": decimals})
    whole = f"1{thousands}234{thousands}56" + ("8" if fmt == 4 else f"7{point}50")
    assert written == whole
