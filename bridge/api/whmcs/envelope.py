"""WHMCS envelopes in JSON or XML, and the one place errors become WHMCS responses."""

from __future__ import annotations

import re
from typing import Any, cast
from xml.etree import ElementTree as ET

from flask import Response, current_app

from bridge.errors import BridgeError
from bridge.flask_glue import current_settings

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    if isinstance(value, list):
        # Lists are double-wrapped in JSON (clients.client[]); in XML they repeat the tag.
        for item in value:
            _xml_value(parent, key, item)
        return
    el = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(el, str(k), v)
    elif isinstance(value, bool):
        # PHP prints true as "1" and false as nothing.
        el.text = "1" if value else None
    elif value is not None:
        # Input refuses control characters; rows written before that (or by other tools)
        # must still give well-formed XML, so characters XML 1.0 forbids become U+FFFD.
        el.text = _NOT_XML.sub("\ufffd", str(value))


def to_xml(body: dict[str, Any], version: str) -> bytes:
    """``<whmcsapi version="...">`` with one element per field."""
    root = ET.Element("whmcsapi", version=version)
    for k, v in body.items():
        _xml_value(root, k, v)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def render(body: dict[str, Any], responsetype: str, status: int = 200) -> Response:
    """Serialise a WHMCS body in the requested response type."""
    if responsetype == "xml":
        return Response(to_xml(body, current_settings().whmcs_version), status=status,
                        mimetype="text/xml")
    resp = cast("Response", current_app.json.response(body))
    resp.status_code = status
    return resp


def success(fields: dict[str, Any], responsetype: str, action: str | None = None) -> Response:
    """``result=success`` plus the action's fields; XML answers lead with ``<action>`` (lower case)."""
    if responsetype == "xml" and action:
        return render({"action": action.lower(), "result": "success", **fields}, responsetype)
    return render({"result": "success", **fields}, responsetype)


def error(exc: BridgeError, responsetype: str) -> Response:
    """The single mapping of the exception tree to WHMCS errors (HTTP 200, or 403 for auth)."""
    return render({"result": "error", "message": exc.message}, responsetype, exc.http_status)
