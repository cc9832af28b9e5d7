"""Request parsing and WHMCS value formatting shared by the action modules.

- ``php_form``: PHP-style form arrays (``a[]=1&a[]=2``, ``b[3]=x``) into lists and dicts.
- ``WhmcsSchema.load_params``: marshmallow validation whose first error becomes the WHMCS
  message for that field (``WHMCS_ERRORS``), never a 500.
- ``money``/``rate``/``sid``/``wdate``: WHMCS's string-typed scalars.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from bridge.errors import ValidationFailed

_BRACKET = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")


def php_form(items: Any) -> dict[str, Any]:
    """Turn ``(key, value)`` pairs into a dict, decoding PHP bracket arrays.

    ``x[]`` appends to a list, ``x[k]`` sets a key of a dict; a malformed mix raises
    ValidationFailed rather than guessing.
    """
    out: dict[str, Any] = {}
    for key, value in items:
        if "\x00" in key or "\x00" in value:
            # No field may hold NUL (PostgreSQL text cannot store it); refuse it up front.
            raise ValidationFailed(f"Invalid characters in parameter {key.replace(chr(0), '')}")
        m = _BRACKET.match(key)
        if not m:
            out[key] = value
            continue
        name, sub = m.groups()
        current = out.get(name)
        if sub == "":
            if current is None:
                current = out[name] = []
            if not isinstance(current, list):
                raise ValidationFailed(f"Malformed array parameter {name}")
            current.append(value)
        else:
            if current is None:
                current = out[name] = {}
            if not isinstance(current, dict):
                raise ValidationFailed(f"Malformed array parameter {name}")
            current[sub] = value
    return out


TRUTHY = {"1", "on", "true", "yes", True}
FALSY = {"0", "off", "false", "no", "", False}


def WBool(**kw: Any) -> fields.Boolean:  # noqa: N802 - reads like a field class
    """WHMCS booleans: "1"/"on"/"true" and "0"/""/"off"/"false"."""
    return fields.Boolean(truthy=TRUTHY, falsy=FALSY, **kw)


MAX_INT = 2**31 - 1  # INTEGER columns on SQLite and PostgreSQL; larger values would overflow


def WInt(**kw: Any) -> fields.Integer:  # noqa: N802
    extra = kw.pop("validate", None)
    checks = [validate.Range(min=-MAX_INT, max=MAX_INT)] + ([extra] if extra else [])
    return fields.Integer(strict=False, validate=checks, **kw)


def WId(**kw: Any) -> fields.Integer:  # noqa: N802
    return fields.Integer(strict=False, validate=validate.Range(min=1, max=MAX_INT), **kw)


MAX_MONEY = Decimal("99999999999999")  # 14 integer digits, WHMCS's DECIMAL(16,2)


def WMoney(**kw: Any) -> fields.Decimal:  # noqa: N802
    extra = kw.pop("validate", None)
    checks = [validate.Range(min=-MAX_MONEY, max=MAX_MONEY)] + ([extra] if extra else [])
    return fields.Decimal(allow_nan=False, validate=checks, **kw)


def WDate(**kw: Any) -> fields.Date:  # noqa: N802
    return fields.Date(format="%Y-%m-%d", **kw)


class WhmcsSchema(Schema):
    """Base schema: unknown parameters are ignored; errors map to WHMCS texts."""

    class Meta:
        unknown = EXCLUDE

    WHMCS_ERRORS: ClassVar[dict[str, str]] = {}

    @classmethod
    def load_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params``; the first bad field raises ValidationFailed with its WHMCS text."""
        # Arrays where a scalar is expected (or the reverse) are a client error, not a 500.
        schema = cls()
        data = {k: v for k, v in params.items() if k in schema.fields or k.split("[")[0] in schema.fields}
        try:
            return schema.load(data)
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            for name in schema.fields:  # declared order, so the message is deterministic
                if name in messages:
                    raise ValidationFailed(cls.WHMCS_ERRORS.get(name, f"Invalid value for {name}")) from None
            raise ValidationFailed(cls.WHMCS_ERRORS.get("_schema", "Invalid parameters")) from None


def sid(value: Any) -> str:
    """Ids and counters as strings ("0" for None)."""
    return "0" if value is None else str(int(value))


def money(value: Any) -> str:
    """Money as a 2-dp string."""
    return str(Decimal(value or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def rate(value: Any, places: int = 3) -> str:
    """Rates as fixed-place strings (tax 3 dp, currency rate 5 dp)."""
    return str(Decimal(value or 0).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def wdate(value: date | datetime | None) -> str:
    """Dates as YYYY-MM-DD; empty dates WHMCS-style."""
    if value is None:
        return "0000-00-00"
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat()


def wdatetime(value: datetime | None) -> str:
    """Datetimes as YYYY-MM-DD HH:MM:SS; empty as 0000-00-00 00:00:00."""
    if value is None:
        return "0000-00-00 00:00:00"
    return value.strftime("%Y-%m-%d %H:%M:%S")


def onoff(value: bool) -> str:
    return "on" if value else ""
