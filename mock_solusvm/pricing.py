"""The GetTokenPricing client: SolusVM → billing system (reference §7.3), and plan prices.

When ``settings.billing_integration`` names a URL, the mock POSTs ``token``,
``action=GetTokenPricing``, ``userid=<billing_user_id>`` form-encoded to it, validates the
answer with ``contracts.billing.TokenPricingResponseSchema`` and prices plans with
``user_token_unit_cost``. Any failure yields ``price: null`` plus ``price_error``: never a
wrong price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from marshmallow import ValidationError

from contracts.billing import TokenPricingResponseSchema
from contracts.solusvm_usage import quantize_money


class BillingUnavailable(Exception):
    """The billing side could not give a usable price."""


@dataclass(frozen=True)
class UserPricing:
    """The validated GetTokenPricing answer for one user."""

    user_token_unit_cost: Decimal
    currency_code: str
    decimals: int
    taxes: list[dict[str, Any]]


def fetch_pricing(url: str, token: str, billing_user_id: int | None, timeout: float) -> UserPricing:
    """POST GetTokenPricing and validate the answer; raises ``BillingUnavailable``."""
    if billing_user_id is None:
        raise BillingUnavailable("the user has no billing_user_id")
    form = {"token": token, "action": "GetTokenPricing", "userid": str(billing_user_id)}
    try:
        resp = requests.post(url, data=form, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.RequestException as err:
        raise BillingUnavailable(f"billing system unreachable: {type(err).__name__}") from None
    if resp.status_code != 200:
        raise BillingUnavailable(f"billing system answered HTTP {resp.status_code}")
    try:
        body = resp.json()
    except ValueError:
        raise BillingUnavailable("billing system answered with invalid JSON") from None
    if not isinstance(body, dict):
        raise BillingUnavailable("billing system answer is not a JSON object")
    if body.get("result") == "error":
        raise BillingUnavailable(f"billing system error: {str(body.get('message', ''))[:200]}")
    try:
        data = TokenPricingResponseSchema().load(body)
    except ValidationError as err:
        raise BillingUnavailable(f"billing system answer is invalid: {err.messages}") from None
    currency = data["currency"]
    return UserPricing(
        user_token_unit_cost=data["user_token_unit_cost"],
        currency_code=currency["code"],
        decimals=currency["decimals"] if currency["decimals"] is not None else 2,
        taxes=[{"label": t["label"], "rate": str(t["rate"])} for t in data["taxes"]["rates"]],
    )


def plan_price(plan: dict[str, Any], pricing: UserPricing) -> dict[str, str | bool | list[Any]]:
    """A plan's ``price`` object: tokens × user cost, rounded to the currency's decimals."""

    def money(tokens: int) -> str:
        return str(quantize_money(Decimal(tokens) * pricing.user_token_unit_cost, pricing.decimals))

    per_month = money(plan["tokens_per_month"]) if plan["tokens_per_month"] else money(plan["tokens_per_hour"] * 730)
    return {
        "per_hour": money(plan["tokens_per_hour"]),
        "per_month": per_month,
        "currency_code": pricing.currency_code,
        # user_token_unit_cost already includes the taxes
        "taxes_inclusive": True,
        "taxes": pricing.taxes,
        "total_price": per_month,
        "total_price_without_backups": per_month,
        "backup_price": money(0),
        "additional_ips_per_hour": money(plan["ip_tokens_per_hour"]),
        "additional_ips_per_month": money(plan["ip_tokens_per_month"]),
    }
