"""``POST /modules/addons/solusio/api/``: the URL SolusVM calls for GetTokenPricing.

Errors: 400 bad or missing userid/action, 403 bad token, 404 unknown or closed client,
429 too many wrong tokens from one address, 413 a body over ``MAX_CONTENT_LENGTH``,
500 when no price can be given (never a price of 0) - always ``{"result":"error","message"}``.
"""

from __future__ import annotations

import hmac
import io
import logging
import re
from collections.abc import Mapping
from typing import Any, cast

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError
from sqlalchemy import Engine

from bridge.errors import AuthFailed, BridgeError, NotFound, ValidationFailed
from bridge.flask_glue import DB_KEY, SETTINGS_KEY, current_settings, get_engine
from bridge.services.pricing import TokenPricing, token_pricing_fast
from bridge.services.ratelimit import FailureThrottle, RateLimited
from bridge.settings import Settings
from contracts.billing import TokenPricingRequestSchema, TokenPricingResponseSchema

bp = Blueprint("pricing", __name__)
log = logging.getLogger(__name__)
_request_schema = TokenPricingRequestSchema()
_response_schema = TokenPricingResponseSchema()


def check_token(given: Any, remote: str, settings: Settings, engine: Engine) -> None:
    """Constant-time check of the shared SolusVM token when one is configured.

    A token that is not a string (``token[]=x`` decoded into a list or dict by the WHMCS
    endpoint's PHP-array parsing) is refused like a wrong one, even when no token is
    configured: it is malformed input, never a 500.

    Wrong tokens are throttled per source address (``remote``) on both URLs (they share this
    path): see ``bridge.services.ratelimit.FailureThrottle``. A throttled address is refused
    (429) even with the right token, so guessing on learns nothing.
    """
    retry_after = _token_throttle.blocked_for(engine, remote)
    if retry_after:
        raise TokenThrottled(retry_after)
    if given is not None and not isinstance(given, str):
        _wrong_token(remote, settings, engine)
    expected = settings.pricing_token
    if expected and not hmac.compare_digest((given or "").encode(), expected.encode()):
        _wrong_token(remote, settings, engine)


class TokenThrottled(BridgeError):
    """Too many wrong tokens from one address (HTTP 429 with Retry-After, on both URLs)."""

    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many invalid tokens, try again later")
        self.retry_after = retry_after


_token_throttle = FailureThrottle("pricing_token")


def _wrong_token(remote: str, settings: Settings, engine: Engine) -> None:
    """Count a wrong token for ``remote``, then refuse it (TokenThrottled once over the limit)."""
    try:
        _token_throttle.fail(engine, remote, settings.rate_limit_pricing_token)
    except RateLimited as exc:
        raise TokenThrottled(exc.retry_after) from None
    raise AuthFailed("Invalid token")


# A userid the request schema would load as this very integer; anything else goes through
# the schema (and its error messages). Skipping marshmallow here halves the endpoint's own cost.
_PLAIN_USERID = re.compile(r"[1-9][0-9]{0,9}")


def _priced(form: Mapping[str, Any], remote: str, settings: Settings, engine: Engine) -> TokenPricing:
    check_token(form.get("token"), remote, settings, engine)
    userid = form.get("userid")
    if form.get("action") == "GetTokenPricing" and isinstance(userid, str) and _PLAIN_USERID.fullmatch(userid):
        return token_pricing_fast(engine, int(userid))
    try:
        data = _request_schema.load(dict(form.items()))
    except ValidationError as exc:
        if "userid" in exc.messages:
            raise ValidationFailed("A valid userid is required") from None
        raise ValidationFailed("action must be GetTokenPricing") from None
    return token_pricing_fast(engine, data["userid"])


def _answer(pricing: TokenPricing) -> Response:
    """The JSON response; the serialised bytes are cached on the (shared) pricing result."""
    raw = pricing.wire_cache.get("json")
    if raw is None:
        raw = current_app.json.dumps(_response_schema.dump(pricing.as_dict())).encode()
        pricing.wire_cache["json"] = raw
    return Response(raw, mimetype="application/json")


def pricing_response(form: Mapping[str, Any]) -> Response:
    """GetTokenPricing for an already-decoded ``form`` (the WHMCS URL): the addon URL's answer."""
    return _answer(_priced(form, request.remote_addr or "-", current_settings(), get_engine()))


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


FORM_TYPE = "application/x-www-form-urlencoded"
PLAIN_FORM_MAX = 4096  # bytes; SolusVM's form is under 100


def plain_form(environ: dict[str, Any]) -> dict[str, str] | None:
    """The fields of a small urlencoded body with nothing to unescape, as werkzeug would
    decode them (the first value of each name); None for anything else.

    SolusVM posts three plain fields, and werkzeug's form machinery (content-type parsing,
    a limited stream, ``parse_qsl``, a MultiDict) was the largest part of what this
    endpoint cost above a trivial route. The body is put back as a fresh stream, so
    ``request.form`` still reads it; a body with ``%``, ``+`` or non-ASCII bytes, another
    content type (or parameters), a missing or large length, or a short read: None, and
    ``request.form`` decodes it as before. ``body_limit`` has already refused a body over
    ``MAX_CONTENT_LENGTH`` and turned a chunked one into a body with a length.
    """
    if environ.get("CONTENT_TYPE") != FORM_TYPE:
        return None
    length = environ.get("CONTENT_LENGTH")
    if not length or len(length) > 4 or not length.isdigit():
        return None
    size = int(length)
    if not 0 < size <= PLAIN_FORM_MAX:
        return None
    raw = environ["wsgi.input"].read(size)
    environ["wsgi.input"] = io.BytesIO(raw)
    if len(raw) != size or not raw.isascii() or b"%" in raw or b"+" in raw:
        return None
    fields: dict[str, str] = {}
    for pair in raw.decode("ascii").split("&"):
        if pair:  # parse_qsl skips empty pairs and keeps blank values (a name without "=" too)
            name, _eq, value = pair.partition("=")
            fields.setdefault(name, value)
    return fields


@bp.post("/modules/addons/solusio/api/")
def addon_api() -> Response:
    """The SolusVM billing-integration endpoint (only GetTokenPricing today).

    The request, the app's settings and its engine are looked up once each here (every
    look-up through a Flask context proxy costs several Python calls on this hot path).
    """
    try:
        environ = request.environ
        form = plain_form(environ)
        if form is None:
            form = request.form
        ext = current_app.extensions
        return _answer(_priced(form, environ.get("REMOTE_ADDR") or "-", ext[SETTINGS_KEY], ext[DB_KEY]["engine"]))
    except BridgeError as exc:
        return error_response(exc)
    except Exception:
        log.exception("GetTokenPricing failed")
        return json_response({"result": "error", "message": "An unexpected error occurred"}, 500)
