"""bridge.billing.formatting: one table of separators for WHMCS's currency formats 1-4."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bridge.billing import SEPARATORS, format_money, format_number, separators
from bridge.web import formatting as web_formatting


@pytest.mark.parametrize(("fmt", "expected"), [(1, "1234.56"), (2, "1,234.56"), (3, "1.234,56"), (4, "1,235")])
def test_whmcs_formats_write_1234_56(fmt: int, expected: str) -> None:
    assert format_number(Decimal("1234.56"), fmt, 2) == expected


def test_format_4_has_no_decimal_separator_in_the_one_table() -> None:
    # Regression: catalogue.SEPARATORS said (",", "") and the web formatter (",", ".") for
    # format 4. WHMCS writes format 4 as 1,234: whole units, so there is no decimal separator.
    assert SEPARATORS == {1: ("", "."), 2: (",", "."), 3: (".", ","), 4: (",", "")}
    assert separators(4) == (",", "") and separators(99) == separators(1)
    # the pages' filter is the same function, not a copy
    assert web_formatting.format_money is format_money and web_formatting.format_number is format_number


def test_format_3_euro() -> None:
    eur = {"prefix": "€", "suffix": " EUR", "format": 3, "decimals": 2}
    assert format_money(Decimal("1234.56"), eur) == "1.234,56 EUR"
    assert format_money(Decimal("1234.56"), eur, currency_once=False) == "€1.234,56 EUR"
    assert format_money(Decimal("1234.56"), {**eur, "suffix": ""}) == "€1.234,56"
