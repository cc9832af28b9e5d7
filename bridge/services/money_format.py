"""Money in a client's currency, the WHMCS way (prefix, number, suffix; format codes 1-4).

One Flask-free home, so the pages, the PDF, the invoice e-mail, ``invoices show`` and the
WHMCS answers write money the same way (``bridge.web.formatting`` re-exports it for templates).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from contracts.solusvm_usage import quantize_money

# WHMCS currency format codes: 1 = 1234.56, 2 = 1,234.56, 3 = 1.234,56, 4 = 1,234 (no decimals).
_SEPARATORS = {1: ("", "."), 2: (",", "."), 3: (".", ","), 4: (",", ".")}


def format_number(amount: Decimal, fmt: int, decimals: int) -> str:
    """The amount rounded half-up and written with the format's separators."""
    if fmt == 4:
        decimals = 0
    thousands, point = _SEPARATORS.get(fmt, _SEPARATORS[1])
    value = quantize_money(Decimal(amount), decimals)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.{decimals}f}" if decimals else f"{abs(value):,.0f}"
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
