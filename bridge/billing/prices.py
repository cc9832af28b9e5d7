"""Tokens priced in money: what a number of tokens costs at a unit cost."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from contracts.solusvm_usage import quantize_money


def token_amount(tokens: int | Decimal, unit_cost: Decimal, decimals: int) -> Decimal:
    """Design §3: tokens × unit cost, rounded half-up to the currency's decimals."""
    return quantize_money(Decimal(tokens) * Decimal(unit_cost), decimals)


def plan_prices(plans: Iterable[Mapping[str, Any]], user_cost: Decimal, decimals: int) -> list[dict[str, Any]]:
    """What SolusVM would show per plan: its hourly and monthly tokens at ``user_cost``.

    Each row: ``name``, ``tokens_per_hour``, ``tokens_per_month``, ``per_hour`` and
    ``per_month`` (``None`` for a plan without a monthly price).
    """
    rows = []
    for plan in plans:
        per_hour = int(plan.get("tokens_per_hour") or 0)
        per_month = int(plan.get("tokens_per_month") or 0)
        rows.append({"name": plan.get("name", ""), "tokens_per_hour": per_hour, "tokens_per_month": per_month,
                     "per_hour": token_amount(per_hour, user_cost, decimals),
                     "per_month": token_amount(per_month, user_cost, decimals) if per_month else None})
    return rows
