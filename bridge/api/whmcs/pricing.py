"""GetTokenPricing on /includes/api.php: the same answer and errors as the addon URL.

It authenticates with SolusVM's shared ``token`` (not API credentials), like the addon.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from bridge.api import pricing
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import BridgeError


@action("GetTokenPricing", auth=False)
def get_token_pricing(ctx: ActionContext) -> Any:
    """Seed 001 step 6, with GetTokenPricing's 400/403/404 statuses."""
    try:
        return pricing.pricing_response(ctx.params)
    except BridgeError as exc:
        resp: Response = pricing.error_response(exc)
        return resp
