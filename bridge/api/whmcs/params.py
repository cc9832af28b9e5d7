"""Request parsing and WHMCS value formatting shared by the action modules.

- ``php_form``: PHP-style form arrays (``a[]=1&a[]=2``, ``b[3]=x``) into lists and dicts.
- ``bridged``/``WhmcsSchema``: the request schemas of ``contracts.whmcs_requests`` (the one
  definition, also in the OpenAPI document) whose ``load_params`` turns the first bad field
  into its WHMCS message (``WHMCS_ERRORS``) as ValidationFailed, never a 500.
- ``money``/``rate``/``sid``/``wdate``: WHMCS's string-typed scalars.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar, cast

from bridge.billing import quantize_money
from bridge.errors import ValidationFailed
from bridge.models import MONEY_SCALE
from contracts.whmcs_requests import (  # noqa: F401 - re-exported for the action modules
    FALSY,
    MAX_INT,
    MAX_MONEY,
    TRUTHY,
    InvalidParams,
    WBool,
    WDate,
    WhmcsRequestSchema,
    WId,
    WInt,
    WMoney,
)

S = TypeVar("S", bound=WhmcsRequestSchema)

_BRACKET = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def php_form(items: Any) -> dict[str, Any]:
    """Turn ``(key, value)`` pairs into a dict, decoding PHP bracket arrays.

    ``x[]`` appends to a list, ``x[k]`` sets a key of a dict; a malformed mix raises
    ValidationFailed rather than guessing.
    """
    out: dict[str, Any] = {}
    for key, value in items:
        if _CONTROL.search(key) or _CONTROL.search(value):
            # No field may hold NUL (PostgreSQL text cannot store it) nor other C0 controls
            # (no XML answer could carry them); refuse them up front. Tab, CR, LF are text.
            raise ValidationFailed(f"Invalid characters in parameter {_CONTROL.sub('', key)}")
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


class WhmcsSchema(WhmcsRequestSchema):
    """A request schema whose ``load_params`` raises ValidationFailed (the WHMCS error).

    Subclass it for a bridge-only action; schemas from :mod:`contracts.whmcs_requests` go
    through :func:`bridged` instead, so they stay the single definition.
    """

    @classmethod
    def load_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params``; the first bad field raises ValidationFailed with its WHMCS text."""
        try:
            return super().load_params(params)
        except InvalidParams as exc:
            raise ValidationFailed(exc.message) from None


def bridged(schema: type[S]) -> type[S]:
    """The contract schema ``schema`` with the bridge's ``load_params`` (same fields and texts)."""
    return cast("type[S]", type(schema.__name__, (WhmcsSchema, schema), {"__doc__": schema.__doc__}))


def sid(value: Any) -> str:
    """Ids and counters as strings ("0" for None)."""
    return "0" if value is None else str(int(value))


def money(value: Any) -> str:
    """Money as a 2-dp string (the stored scale), rounded by ``billing.quantize_money``."""
    return str(quantize_money(Decimal(value or 0), MONEY_SCALE))


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
