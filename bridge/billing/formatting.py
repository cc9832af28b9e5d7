"""Money in a client's currency, the WHMCS way (prefix, number, suffix; format codes 1-4).

The one formatter: the pages, the PDF, the invoice e-mails, ``invoices show``, the WHMCS
answers that carry formatted amounts and GetTokenPricing's separators all use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from contracts.solusvm_usage import quantize_money

#: WHMCS currency format code -> (thousands separator, decimal separator):
#: 1 = 1234.56, 2 = 1,234.56, 3 = 1.234,56, 4 = 1,234 (whole units: no decimal separator).
SEPARATORS: dict[int, tuple[str, str]] = {1: ("", "."), 2: (",", "."), 3: (".", ","), 4: (",", "")}
#: The format whose amounts are written in whole units.
WHOLE_UNITS_FORMAT = 4


def separators(fmt: int) -> tuple[str, str]:
    """(thousands, decimal) separators of a WHMCS format code; an unknown code writes like format 1."""
    return SEPARATORS.get(fmt, SEPARATORS[1])


def format_number(amount: Decimal, fmt: int, decimals: int) -> str:
    """The amount rounded half-up and written with the format's separators."""
    if fmt == WHOLE_UNITS_FORMAT:
        decimals = 0
    thousands, point = separators(fmt)
    value = quantize_money(Decimal(amount), decimals)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.{decimals}f}"
    whole, _, frac = text.partition(".")
    whole = whole.replace(",", thousands)
    return sign + whole + (point + frac if frac else "")


def format_money(amount: Decimal | int | str | None, currency: Any, *, currency_once: bool = True) -> str:
    """``amount`` in ``currency`` (a model, object or mapping with prefix, suffix, format, decimals), e.g.
    ``1,234.50 USD``; with only a prefix, ``$1,234.50``. ``currency_once=False`` keeps both
    prefix and suffix (``$1,234.50 USD``), as WHMCS writes amounts in its API answers."""
    if amount is None:
        return ""

    def attr(name: str, default: Any) -> Any:
        value = currency.get(name) if isinstance(currency, Mapping) else getattr(currency, name, None)
        return default if value is None else value

    fmt = int(attr("format", 1) or 1)
    decimals = int(attr("decimals", 2))
    number = format_number(Decimal(str(amount)), fmt, decimals)
    prefix = str(attr("prefix", ""))
    suffix = str(attr("suffix", ""))
    if currency_once and prefix.strip() and suffix.strip():
        # The currency once: "5,76 EUR", not "€5,76 EUR" (the suffix is the code WHMCS
        # catalogues carry; a symbol alone would not tell $ USD from $ CAD).
        prefix = ""
    sign, number = ("-", number[1:]) if number.startswith("-") else ("", number)
    return f"{sign}{prefix}{number}{suffix}".strip()
