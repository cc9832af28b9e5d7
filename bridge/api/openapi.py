"""``GET /openapi.json``: the bridge's OpenAPI document, generated from the contracts' schemas."""

from __future__ import annotations

from flask import Blueprint, Response, json

from contracts.openapi import bridge_spec

bp = Blueprint("openapi", __name__)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The document committed as ``contracts/openapi/bridge.json`` (a test keeps them equal)."""
    return Response(json.dumps(bridge_spec()), mimetype="application/json")
