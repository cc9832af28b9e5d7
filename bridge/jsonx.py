"""A Flask JSON provider that writes ``Decimal`` as an exact JSON number.

Flask's default provider turns ``Decimal`` into a string; GetTokenPricing must send numbers
with their exact digits (``1.0812``, ``0.00091``), and a float would lose them. The
standard library cannot emit a raw number for a custom type, so this small encoder does.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask.json.provider import DefaultJSONProvider

_str = json.JSONEncoder(ensure_ascii=False).encode  # escapes a str correctly


def decimal_text(value: Decimal) -> str:
    """Plain decimal notation without exponent (Decimal('1E-7') -> '0.0000001')."""
    if not value.is_finite():
        raise ValueError("NaN/Infinity cannot be written as JSON")
    return format(value, "f")


def encode(obj: Any) -> str:
    """Encode to compact JSON; Decimals become numbers, dates ISO strings."""
    parts: list[str] = []
    _enc(obj, parts.append)
    return "".join(parts)


def _enc(obj: Any, out: Any) -> None:
    if obj is None:
        out("null")
    elif obj is True:
        out("true")
    elif obj is False:
        out("false")
    elif isinstance(obj, str):
        out(_str(obj))
    elif isinstance(obj, Decimal):
        out(decimal_text(obj))
    elif isinstance(obj, int):
        out(int.__repr__(obj))
    elif isinstance(obj, float):
        out(json.dumps(obj))  # raises on NaN only with allow_nan=False; keep stdlib behaviour
    elif isinstance(obj, dict):
        out("{")
        first = True
        for k, v in obj.items():
            if not first:
                out(",")
            first = False
            out(_str(str(k)))
            out(":")
            _enc(v, out)
        out("}")
    elif isinstance(obj, list | tuple):
        out("[")
        for i, v in enumerate(obj):
            if i:
                out(",")
            _enc(v, out)
        out("]")
    elif isinstance(obj, datetime | date):
        out(_str(obj.isoformat()))
    else:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class DecimalJSONProvider(DefaultJSONProvider):
    """Default provider, except that ``dumps`` keeps Decimals as numbers."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return encode(obj)
