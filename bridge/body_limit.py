"""One request-body limit for every surface of the bridge (``MAX_CONTENT_LENGTH``, bytes).

A body over the limit is refused with 413 before any view reads it (the declared
``Content-Length`` is enough; a chunked body is cut off as soon as it passes the limit), and
the refusal is in the surface's own format: JSON ``{"result": "error", ...}`` on the
GetTokenPricing addon URL, the WHMCS ``result=error`` envelope on ``/includes/api.php``
(``responsetype`` taken from the query string, since the body is not read), an HTML page on
the web pages, plain text elsewhere.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Flask, Response, abort, current_app, request

from bridge.api.whmcs import envelope
from bridge.web.common import error_page

MESSAGE = "Request body too large"


def _check_size() -> None:
    environ = request.environ  # read once: this runs before every request, GetTokenPricing's included
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
        return
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return
    length = environ.get("CONTENT_LENGTH")
    if length and "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", ""):
        try:
            too_big = int(length) > limit
        except ValueError:
            return  # werkzeug treats a malformed length as no body
        if too_big:
            abort(413)
        return
    if "wsgi.input_terminated" not in environ:
        return  # no length and no terminated stream: werkzeug reads no body at all
    # A chunked body: read at most one byte past the limit here, so an oversized one is refused
    # (werkzeug alone would silently cut it at the limit and parse the rest); a body within the
    # limit is handed on as if it had come with its length.
    raw = environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        abort(413)
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    request.__dict__.pop("content_length", None)  # werkzeug caches it; computed again from the environ


def too_large(_exc: Exception) -> Any:
    """The 413 answer in the format of the surface that was called."""
    path = request.path
    if path.startswith("/modules/addons/solusio/api"):
        resp = current_app.json.response({"result": "error", "message": MESSAGE})
        resp.status_code = 413
        return resp
    if path == "/includes/api.php":

        rt = request.args.get("responsetype", "")
        return envelope.render({"result": "error", "message": MESSAGE}, "xml" if rt.lower() == "xml" else "json",
                               413)
    if "web_signup" in current_app.blueprints:

        limit_kb = int(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // 1024
        return error_page("Too much data", f"The form sent more than {limit_kb} kB. Please send less.", 413)
    return Response(f"413 {MESSAGE}\n", status=413, mimetype="text/plain")


def init_app(app: Flask) -> None:
    """Apply ``MAX_CONTENT_LENGTH`` (the settings put it in ``app.config``, where Flask reads it
    too; 1 MiB by default) to every request."""
    app.before_request(_check_size)
    app.register_error_handler(413, too_large)
