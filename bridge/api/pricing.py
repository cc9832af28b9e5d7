"""``POST /modules/addons/solusio/api/``: the URL SolusVM calls for GetTokenPricing.

Errors: 400 bad or missing userid/action, 403 bad token, 404 unknown or closed client,
429 too many wrong tokens from one address, 413 a body over ``MAX_CONTENT_LENGTH``,
500 when no price can be given (never a price of 0) - always ``{"result":"error","message"}``.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any, cast

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError

from bridge.errors import AuthFailed, BridgeError, NotFound, ValidationFailed
from bridge.flask_glue import current_settings, get_engine
from bridge.services.pricing import token_pricing_fast
from bridge.services.ratelimit import FailureThrottle, RateLimited
from contracts.billing import TokenPricingRequestSchema, TokenPricingResponseSchema

bp = Blueprint("pricing", __name__)
log = logging.getLogger(__name__)
_request_schema = TokenPricingRequestSchema()
_response_schema = TokenPricingResponseSchema()


def check_token(given: Any) -> None:
    """Constant-time check of the shared SolusVM token when one is configured.

    A token that is not a string (``token[]=x`` decoded into a list or dict by the WHMCS
    endpoint's PHP-array parsing) is refused like a wrong one, even when no token is
    configured: it is malformed input, never a 500.

    Wrong tokens are throttled per source address on both URLs (they share this path):
    see ``bridge.services.ratelimit.FailureThrottle``. A throttled address is refused (429) even
    with the right token, so guessing on learns nothing.
    """
    remote = request.remote_addr or "-"
    retry_after = _token_throttle.blocked_for(get_engine(), remote)
    if retry_after:
        raise TokenThrottled(retry_after)
    if given is not None and not isinstance(given, str):
        _wrong_token(remote)
    expected = current_settings().pricing_token
    if expected and not hmac.compare_digest((given or "").encode(), expected.encode()):
        _wrong_token(remote)


class TokenThrottled(BridgeError):
    """Too many wrong tokens from one address (HTTP 429 with Retry-After, on both URLs)."""

    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many invalid tokens, try again later")
        self.retry_after = retry_after


_token_throttle = FailureThrottle("pricing_token")


def _wrong_token(remote: str) -> None:
    """Count a wrong token for ``remote``, then refuse it (TokenThrottled once over the limit)."""
    try:
        _token_throttle.fail(get_engine(), remote, current_settings().rate_limit_pricing_token)
    except RateLimited as exc:
        raise TokenThrottled(exc.retry_after) from None
    raise AuthFailed("Invalid token")


def get_token_pricing(form: Any) -> dict[str, Any]:
    """Parse the form, check the token, price the client; raises BridgeError subclasses."""
    return _wire_body(_priced(form))


# A userid the request schema would load as this very integer; anything else goes through
# the schema (and its error messages). Skipping marshmallow here halves the endpoint's own cost.
_PLAIN_USERID = re.compile(r"[1-9][0-9]{0,9}")


def _priced(form: Any) -> Any:
    check_token(form.get("token"))
    userid = form.get("userid")
    if form.get("action") == "GetTokenPricing" and isinstance(userid, str) and _PLAIN_USERID.fullmatch(userid):
        return token_pricing_fast(get_engine(), int(userid))
    try:
        data = _request_schema.load(dict(form.items()))
    except ValidationError as exc:
        if "userid" in exc.messages:
            raise ValidationFailed("A valid userid is required") from None
        raise ValidationFailed("action must be GetTokenPricing") from None
    return token_pricing_fast(get_engine(), data["userid"])


def _wire_body(pricing: Any) -> dict[str, Any]:
    return _response_schema.dump(pricing.as_dict())


def pricing_response(form: Any) -> Response:
    """The JSON response; the serialised bytes are cached on the (shared) pricing result."""
    pricing = _priced(form)
    raw = pricing.wire_cache.get("json")
    if raw is None:
        raw = current_app.json.dumps(_wire_body(pricing)).encode()
        pricing.wire_cache["json"] = raw
    return Response(raw, mimetype="application/json")


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    """``body`` as the app's JSON response (its provider writes Decimals as numbers)."""
    resp = cast("Response", current_app.json.response(body))
    resp.status_code = status
    return resp


def error_response(exc: BridgeError) -> Response:
    """GetTokenPricing's own status mapping: 400 bad input, 403 bad token, 404 unknown or closed client."""
    if isinstance(exc, TokenThrottled):
        status = 429
    elif isinstance(exc, AuthFailed):
        status = 403
    elif isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, ValidationFailed):
        status = 400
    else:
        status = 500
    resp = json_response({"result": "error", "message": exc.message}, status)
    if isinstance(exc, TokenThrottled):
        resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


@bp.post("/modules/addons/solusio/api/")
def addon_api() -> Response:
    """The SolusVM billing-integration endpoint (only GetTokenPricing today)."""
    try:
        return pricing_response(request.form)
    except BridgeError as exc:
        return error_response(exc)
    except Exception:
        log.exception("GetTokenPricing failed")
        return json_response({"result": "error", "message": "An unexpected error occurred"}, 500)
