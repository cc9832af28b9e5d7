"""The GetTokenPricing exchange (seed 001, step 6): SolusVM → billing system.

SolusVM POSTs a form (``token``, ``action=GetTokenPricing``, ``userid``) to the billing
URL configured under Settings > Billing Integration and expects a JSON object back.
These schemas are the single definition of both halves: the bridge validates requests
and serialises responses with them, the mock validates the answers it gets, and the
verifier checks any billing system against them.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema


class FiniteNonNegativeNumber(fields.Number):
    """A JSON number (not a string, not a bool) that is finite and >= 0; loads as ``Decimal``."""

    num_type = Decimal
    default_error_messages = {
        "invalid": "Not a JSON number.",
        "special": "Must be finite.",
        "negative": "Must not be negative.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        # A string "1.0" or a bool would pass a lenient Number; the wire needs a real number.
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise self.make_error("invalid")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.make_error("special")
        result = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not result.is_finite():
            raise self.make_error("special")
        if result < 0:
            raise self.make_error("negative")
        return result

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        # Keep Decimal: the JSON encoder writes it as an exact JSON number.
        return None if value is None else Decimal(value)


class AsciiInt(fields.Integer):
    """An integer written in ASCII decimal digits only (an optional leading minus): ``int()``
    would also take "١", "１", "+1", " 1 " and "1_0" (as 10). ``pattern`` narrows it further."""

    def __init__(self, *, pattern: re.Pattern[str] = re.compile(r"^-?[0-9]+\Z"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern = pattern

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, str) and not self.pattern.match(value)):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class TokenPricingRequestSchema(Schema):
    """The form SolusVM sends. ``token`` is optional on the wire; the billing side decides."""

    class Meta:
        unknown = EXCLUDE  # SolusVM may add fields later; they must not break pricing.

    token = fields.String(load_default=None, metadata={"description": "Authorization token configured in SolusVM"})
    action = fields.String(required=True, validate=validate.Equal("GetTokenPricing"),
                           metadata={"description": "GetTokenPricing (matched in any case)"})
    userid = AsciiInt(  # ASCII digits only: int() would also read "١", "+1", " 1 ", "1_0"
        required=True,
        strict=False,
        validate=validate.Range(min=1),
        metadata={"description": "The user's id in the billing system (SolusVM billing_user_id)"},
    )

    @pre_load
    def _action_in_any_case(self, data: Any, **_kwargs: Any) -> Any:
        # Action names are case-insensitive, as on /includes/api.php.
        action = data.get("action") if isinstance(data, dict) else None
        if isinstance(action, str) and action.lower() == "gettokenpricing":
            data = {**data, "action": "GetTokenPricing"}
        return data


class CurrencySchema(Schema):
    """Currency display parameters (seed 001 names, plus ``decimals``)."""

    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Length(equal=3))
    display_prefix = fields.String(required=True)
    display_suffix = fields.String(required=True)
    thousands_separator = fields.String(required=True)
    decimals_separator = fields.String(required=True)
    # The seed names "number of decimals" without its key; we send ``decimals`` and accept
    # its absence from other billing systems (the verifier warns instead of failing).
    decimals = fields.Integer(
        load_default=None, strict=True, validate=validate.Range(min=0, max=8),
        metadata={"description": "Number of decimals the currency is shown and invoiced with"},
    )


class DiscountSchema(Schema):
    """One applied discount. ``multipler`` is the seed's spelling; ``multiplier`` is sent too."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    description = fields.String(required=True)
    multipler = FiniteNonNegativeNumber(required=True)
    multiplier = FiniteNonNegativeNumber(load_default=None)

    @validates_schema
    def _same_multiplier(self, data: dict[str, Any], **kwargs: Any) -> None:
        other = data.get("multiplier")
        if other is not None and other != data["multipler"]:
            raise ValidationError("multiplier and multipler differ", "multiplier")


class TaxRateSchema(Schema):
    """One tax level: a label and a rate in percent (6 means 6 %)."""

    class Meta:
        unknown = RAISE

    label = fields.String(required=True)
    rate = FiniteNonNegativeNumber(required=True)


class TaxesSchema(Schema):
    """The taxes that apply to the user: compound or not, and the rates in order."""

    class Meta:
        unknown = RAISE

    # Only real JSON booleans: "yes" or "1" would be a lenient client's guess.
    compound = fields.Boolean(required=True, truthy={True}, falsy={False})
    rates = fields.List(fields.Nested(TaxRateSchema), required=True)


class TokenPricingResponseSchema(Schema):
    """The JSON object a billing system answers GetTokenPricing with."""

    class Meta:
        unknown = EXCLUDE  # extra keys (e.g. "result": "success") are allowed

    base_token_unit_cost = FiniteNonNegativeNumber(required=True)
    user_token_unit_cost = FiniteNonNegativeNumber(required=True)
    currency = fields.Nested(CurrencySchema, required=True)
    discounts = fields.List(fields.Nested(DiscountSchema), required=True)
    taxes = fields.Nested(TaxesSchema, required=True)
    # Optional: seed 001 does not name it, so other billing systems may leave it out.
    taxes_inclusive = fields.Boolean(truthy={True}, falsy={False}, metadata={
        "description": "True when user_token_unit_cost already includes the taxes (the catalogue's prices "
                       "are tax-inclusive); the bridge always sends it"})


class BillingErrorSchema(Schema):
    """The error body of the billing endpoint (WHMCS style)."""

    result = fields.String(required=True, validate=validate.Equal("error"))
    message = fields.String(required=True)
