"""GetTokenPricing on /includes/api.php: the same answer and errors as the addon URL.

It authenticates with SolusVM's shared ``token`` (not API credentials), like the addon.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Response

from bridge.api import pricing
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import BridgeError


def token_pricing(params: Callable[[], Mapping[str, Any]]) -> Response:
    """GetTokenPricing through ``/includes/api.php``: the addon URL's code and statuses.

    ``params`` reads the merged query string and form with PHP arrays decoded (so a
    ``token[]`` is a malformed token, 403); ``action`` is matched in any case, as for every
    action here. A form that cannot be decoded is bad input: 400, as on the addon URL.
    """
    try:
        form = {**params(), "action": "GetTokenPricing"}
        return pricing.pricing_response(form)
    except BridgeError as exc:
        return pricing.error_response(exc)


@action("GetTokenPricing", auth=False)
def get_token_pricing(ctx: ActionContext) -> Any:
    """Registered so the name is known; the dispatcher answers it with :func:`token_pricing`."""
    return token_pricing(lambda: ctx.params)
