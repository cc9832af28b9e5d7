"""How SolusVM usage becomes invoice lines: the client's line price and the lines of one
usage item (server, extra IPs, backups). The invoicing run and the month preview of the
client area (``invoice_document.month_preview``) both use these, so amounts and rounding agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from bridge.billing import token_amount, user_token_unit_cost
from bridge.models import Client
from bridge.services import pricing
from bridge.services.usage import UsageItem
from contracts.solusvm_usage import capped_tokens


@dataclass(frozen=True)
class LinePrice:
    """What one unit costs on a client's invoice lines."""

    net_unit: Decimal  # base × discounts: what a line amount is made of (before tax in Exclusive mode)
    decimals: int
    code: str
    taxed: bool


def line_price(session: Session, client: Client) -> LinePrice:
    """The client's line price (base token price with its discounts; taxed iff tax rates apply)."""
    tp = pricing.token_pricing(session, client.id)
    multipliers = [Decimal(d["multiplier"]) for d in tp.discounts]
    net_unit = user_token_unit_cost(tp.base_token_unit_cost, multipliers, [], False)
    # GetTokenPricing lists rates exactly when tax is on and the client is not exempt
    # (the same rule as invoices.tax_context), so lines are taxed iff there are rates.
    return LinePrice(net_unit, int(tp.currency["decimals"]), str(tp.currency["code"]), bool(tp.rates))


def _amount(tokens: int, price: LinePrice) -> Decimal:
    """Design §3: tokens × base × discounts, rounded half-up to the currency's decimals."""
    return token_amount(tokens, price.net_unit, price.decimals)


def item_lines(item: UsageItem, period: str, price: LinePrice) -> list[dict[str, Any]]:
    """Invoice lines of one usage item: the server, then extra IPs and backups when present.

    Tokens are SolusVM's figures (the caller holds back items that disagree with the rule).
    """
    deleted = " (deleted)" if item.server_deleted else ""
    tokens = item.tokens
    mode = item.price_mode
    if mode == "monthly":
        how = f"{item.hours} h, monthly price {tokens} tokens"
    else:
        how = f"{item.hours} h × {item.tokens_per_hour} tokens/h = {tokens} tokens"
    common = {"type": "SolusVM", "relid": item.server_id, "server_id": item.server_id,
              "server_name": item.server_name[:255], "plan_name": item.plan_name[:255], "taxed": price.taxed}
    lines = [{**common, "description": f"{item.server_name}{deleted}, {item.plan_name}, {period}: {how}",
              "amount": _amount(tokens, price), "hours": item.hours, "tokens": tokens, "price_mode": mode,
              "kind": "server"}]
    if item.ip_tokens or item.ip_count:
        ip_mode = capped_tokens(item.ip_hours, item.ip_tokens_per_hour, item.ip_tokens_per_month)
        lines.append({**common, "description": f"{item.server_name}{deleted}: {item.ip_count} additional IP"
                      f"{'s' if item.ip_count != 1 else ''}, {period}: {item.ip_hours} h, {item.ip_tokens} tokens",
                      "amount": _amount(item.ip_tokens, price), "hours": item.ip_hours, "tokens": item.ip_tokens,
                      "price_mode": "monthly" if ip_mode.monthly_cap_applied else "hourly", "kind": "ip"})
    if item.backup_tokens:
        lines.append({**common, "description": f"{item.server_name}{deleted}: backups, {period}: "
                      f"{item.backup_tokens} tokens", "amount": _amount(item.backup_tokens, price),
                      "hours": 0, "tokens": item.backup_tokens, "price_mode": "", "kind": "backup"})
    return lines
