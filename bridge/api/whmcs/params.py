"""Request parsing and answer writing shared by the action modules.

- ``php_form``: PHP-style form arrays (``a[]=1&a[]=2``, ``b[3]=x``) into lists and dicts.
- ``bridged``/``WhmcsSchema``: the request schemas of ``contracts.whmcs_requests`` (the one
  definition, also in the OpenAPI document) whose ``load_params`` turns the first bad field
  into its WHMCS message (``WHMCS_ERRORS``) as ValidationFailed, never a 500;
  ``whmcs_errors`` does the same around the schemas' own loaders (invoice lines).
- ``answer``: a row dumped with its answer schema from ``contracts.whmcs`` (which holds the
  wire's types: ids as text, empty dates, PHP flags), money written by ``money``.
- ``Row``: an object with computed values beside its attributes, for ``answer``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar, cast

from bridge.billing import format_money
from bridge.errors import ValidationFailed
from contracts.whmcs import AnswerSchema
from contracts.whmcs_requests import InvalidParams, WhmcsRequestSchema

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


@contextmanager
def whmcs_errors() -> Iterator[None]:
    """Turn a contract schema's InvalidParams (its WHMCS text) into the bridge's ValidationFailed."""
    try:
        yield
    except InvalidParams as exc:
        raise ValidationFailed(exc.message) from None


class WhmcsSchema(WhmcsRequestSchema):
    """A request schema whose ``load_params`` raises ValidationFailed (the WHMCS error).

    Subclass it for a bridge-only action; schemas from :mod:`contracts.whmcs_requests` go
    through :func:`bridged` instead, so they stay the single definition.
    """

    @classmethod
    def load_params(cls, params: Mapping[str, Any], *, only: tuple[str, ...] | None = None,
                    errors: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Validate ``params``; the first bad field raises ValidationFailed with its WHMCS text."""
        with whmcs_errors():
            return super().load_params(params, only=only, errors=errors)


def bridged(schema: type[S]) -> type[S]:
    """The contract schema ``schema`` with the bridge's ``load_params`` (same fields and texts)."""
    return cast("type[S]", type(schema.__name__, (WhmcsSchema, schema), {"__doc__": schema.__doc__}))


#: A plain WHMCS amount: no symbols, no thousands separator, 2 places ("1234.50").
PLAIN_AMOUNT = {"prefix": "", "suffix": "", "format": 1, "decimals": 2}


def money(amount: Decimal | int | str | None, currency: Any = None) -> str:
    """Money in WHMCS answers, through the one money formatter: a plain 2-dp amount, or with
    ``currency`` WHMCS's display layout with prefix and suffix both ("$7.00 USD")."""
    if currency is None:
        return format_money(amount or 0, PLAIN_AMOUNT)
    return format_money(amount or 0, currency, currency_once=False)


@functools.cache
def _answer_schema(schema: type[AnswerSchema]) -> AnswerSchema:
    return schema(money=money)


def answer(schema: type[AnswerSchema], row: Any) -> Any:
    """``row`` (an object or mapping) written as the wire shape ``schema``."""
    return _answer_schema(schema).dump(row)


class Row:
    """``base``'s attributes with computed ``values`` beside (and over) them, for :func:`answer`."""

    def __init__(self, base: Any, **values: Any) -> None:
        self._base = base
        self._values = values

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__["_values"]
        if name in values:
            return values[name]
        return getattr(self.__dict__["_base"], name)
