"""Request and response helpers shared by the app and its route modules (API, control API, SSO).

``mock_solusvm.app`` assembles the app from these and the blueprints; the route modules take
them from here, so no route module imports the app factory's module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, current_app, g, request
from marshmallow import Schema

from contracts.solusvm import ErrorSchema

from .errors import Invalid, ResponseContractError
from .state import Namespaces

NAMESPACE_HEADER = "X-Mock-Namespace"
NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
#: Marks a response whose connection must be dropped (the in-process mode raises ConnectionError).
DROP_HEADER = "X-Mock-Drop-Connection"
#: Where ``create_app`` keeps the namespace registry in ``app.extensions``.
EXTENSION = "mock_solusvm"


def namespaces(app: Flask) -> Namespaces:
    """The namespace registry of an app."""
    registry: Namespaces = app.extensions[EXTENSION]
    return registry


def request_json() -> Any:
    """The JSON request body (``{}`` when empty); 422 for anything that is not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise Invalid({"body": ["The request body is not valid JSON."]}) from None


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response."""
    return Response(json.dumps(body, separators=(",", ":")), status=status, headers=headers,
                    mimetype="application/json")


def validate_response(schema: type[Schema], body: Any) -> None:
    """With ``VALIDATE_RESPONSES``, check an answer against its contracts schema (a mismatch is a mock bug)."""
    if current_app.config.get("VALIDATE_RESPONSES"):
        problems = schema().validate(body)
        if problems:
            raise ResponseContractError(f"{schema.__name__}: {problems}")


def error_response(message: str, status: int, errors: dict[str, list[str]] | None = None) -> Response:
    """SolusVM's error envelope ``{message, errors}``; ``errors`` only when there are field errors."""
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    validate_response(ErrorSchema, body)
    return json_response(body, status)


@contextmanager
def outside_namespace_lock() -> Iterator[None]:
    """Release the namespace lock around slow outbound calls (GetTokenPricing to the billing side)."""
    held = getattr(g, "holding_lock", False)
    if held:
        g.backend.lock.release()
    try:
        yield
    finally:
        if held:
            g.backend.lock.acquire()


def drain(chunks: Iterable[bytes]) -> bytes:
    """The whole body of a WSGI answer, closing the iterable as PEP 3333 asks of its caller."""
    try:
        return b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
