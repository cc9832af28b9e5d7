"""The app factory and the cross-cutting request handling: namespaces, faults, journal, errors."""

from __future__ import annotations

import json
import secrets
import socket
import time
from http import HTTPStatus
from typing import Any

from flask import Flask, Request, Response, current_app, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from .api import api_bp
from .clock import format_instant
from .control import control_bp
from .errors import Invalid, MockError, ResponseContractError
from .journal import request_entry
from .pagecache import KEEP, Keep, PageCache
from .sso import sso_bp
from .state import Backend, Namespaces
from .wire import (
    DROP_HEADER,
    EXTENSION,
    NAMESPACE_HEADER,
    NAMESPACE_RE,
    error_response,
    json_response,
    namespaces,
)

MALFORMED_BODY = '{"data": [{"id": 1, "email": "trunc'

DEFAULTS: dict[str, Any] = {
    "API_TOKENS": ["mock-admin-token"],
    "VALIDATE_RESPONSES": False,
    "SEED": None,
    "BILLING_TIMEOUT": 5.0,
    "MAX_PER_PAGE": 100,
    "JOURNAL_LIMIT": 10_000,
    #: At most this many namespaces at once (0: unbounded); a new one past it is answered 507.
    "MAX_NAMESPACES": 1000,
    #: A namespace unused for this many seconds of real time is forgotten (0: never).
    "NAMESPACE_IDLE_SECONDS": 3600,
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the mock SolusVM 2 app. Config keys: see ``DEFAULTS`` and docs/internals.md."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config["SECRET_KEY"] = secrets.token_hex(16)
    app.config.update(config or {})
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = _CookieSessions()
    limit = int(app.config["JOURNAL_LIMIT"])
    registry = Namespaces(lambda name: Backend(name, journal_limit=limit),
                            max_namespaces=int(app.config["MAX_NAMESPACES"]),
                            idle_seconds=float(app.config["NAMESPACE_IDLE_SECONDS"]))
    app.extensions[EXTENSION] = registry
    if app.config["SEED"] is not None:
        registry.get("default").seed(app.config["SEED"])

    app.register_blueprint(api_bp)
    app.register_blueprint(control_bp)
    app.register_blueprint(sso_bp)
    app.add_url_rule("/openapi.json", "openapi", _openapi)
    # repeated GETs of cacheable API pages are answered from their bytes (mock_solusvm/pagecache.py)
    app.wsgi_app = PageCache(app.wsgi_app, registry, app.config)  # type: ignore[method-assign]

    app.before_request(_pick_namespace)
    app.before_request(_apply_faults)
    app.before_request(_lock_namespace)
    app.after_request(_record)
    app.after_request(_reason_phrase)
    app.teardown_request(_unlock_namespace)
    app.register_error_handler(MockError, _mock_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ResponseContractError, _contract_error)
    return app


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for a request with no cookie.

    API clients send none; Flask built an ``itsdangerous`` serializer per request only to find
    no cookie to read (8% of an uncached users page). The session it opens then is the same one.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def _openapi() -> Response:
    """The OpenAPI document of the mock's API, generated from the contracts' schemas."""
    # apispec and every contracts schema load only when someone asks for the document
    from contracts.openapi import solusvm_spec

    return json_response(solusvm_spec())


def _pick_namespace() -> Response | None:
    name = request.headers.get(NAMESPACE_HEADER) or request.args.get("mock_namespace")
    if not name:
        # only browsers (the user area) carry a session cookie; API clients skip the session cost
        name = (session.get("mock_namespace") if request.cookies else None) or "default"
    if not NAMESPACE_RE.match(name):
        g.backend = None
        raise Invalid({NAMESPACE_HEADER: ["A namespace is 1-128 letters, digits or _.:-"]})
    g.namespace = name
    g.backend = None  # until the registry has room for it
    g.backend = namespaces(current_app).get(name)
    g.started = time.perf_counter()
    return None


def _is_control(path: str) -> bool:
    return path.startswith("/__mock")


def _apply_faults() -> Response | None:
    if _is_control(request.path):
        return None
    rule = g.backend.faults.match(request.method, request.path)
    if rule is None:
        return None
    g.fault = rule.id
    if rule.delay:
        time.sleep(rule.delay)
    if rule.drop:
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            # Really drop the TCP connection on the live server: the client sees a reset/EOF.
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return Response(b"", status=599, headers={DROP_HEADER: "1"})
    if rule.malformed:
        return Response(MALFORMED_BODY, status=rule.status or 200, headers=rule.headers,
                        mimetype="application/json")
    if rule.status:
        body = rule.body
        if isinstance(body, str):
            return Response(body, status=rule.status, headers=rule.headers)
        if body is None:
            body = {"message": f"Injected fault {rule.id}."}
        return json_response(body, rule.status, rule.headers)
    return None  # delay only: answer normally


def _lock_namespace() -> None:
    # One request at a time per namespace on the threaded server: views iterate the
    # backend's dicts, which a concurrent create would otherwise change under them.
    # A request that may write moves the state version (caches of listings key on it); a
    # read does not, so paging through a listing reuses the listing.
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    if not _is_control(request.path):
        g.backend.lock.acquire(write=write)
        g.holding_lock = True
        g.version = g.backend.lock.version
    elif write:
        with g.backend.lock:  # the control API's own writes take the lock too; this is belt and braces
            pass


def _unlock_namespace(exc: BaseException | None) -> None:
    if getattr(g, "holding_lock", False):
        g.holding_lock = False
        g.backend.lock.release()


def _record(response: Response) -> Response:
    backend = getattr(g, "backend", None)
    if backend is None or _is_control(request.path) or request.path.startswith("/static"):
        return response
    raw = request.get_data(cache=True, as_text=False)[:65536]
    try:
        body: Any = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        body = raw.decode("utf-8", "replace")
    if isinstance(body, dict) and "password" in body:
        body = {**body, "password": "<redacted>"}
    entry = backend.journal.record(request_entry(
        format_instant(backend.clock.now()), request.method, request.path, request.query_string.decode("latin-1"),
        request.headers, body, response.status_code, getattr(g, "fault", None)))
    _offer_page(backend, response, entry)
    return response


def _offer_page(backend: Backend, response: Response, entry: dict[str, Any]) -> None:
    """Let ``PageCache`` keep this answer when its view is cacheable and nothing made it one-off."""
    view = current_app.view_functions.get(request.endpoint or "")
    kind = getattr(view, "keep_page", None)
    if (kind is None or request.method != "GET" or response.status_code != 200 or entry["fault"] is not None
            or not getattr(g, "holding_lock", False) or backend.lock.version != g.version
            or not getattr(g, "principal", None) or not g.principal.is_admin):
        return
    instant = None
    if kind == "clock":
        if not backend.clock.frozen:
            return  # a running clock changes the page between any two requests
        instant = backend.clock.now()
    request.environ[KEEP] = Keep(backend, g.version, entry["path"], instant)


def _reason_phrase(response: Response) -> Response:
    # werkzeug upper-cases reason phrases ("404 NOT FOUND"); PHP-FPM behind nginx, as SolusVM runs,
    # sends them as the RFC words them, and clients (Guzzle) show that text to people.
    try:
        response.status = f"{response.status_code} {HTTPStatus(response.status_code).phrase}"
    except ValueError:
        pass  # a code without a standard phrase (an injected 599) keeps werkzeug's text
    return response


def _mock_error(err: MockError) -> Response:
    return error_response(err.message, err.status, err.errors)


def _http_error(err: HTTPException) -> Response:
    messages = {404: "Not Found.", 405: "Method Not Allowed.", 400: "Bad Request."}
    return error_response(messages.get(err.code or 500, err.name), err.code or 500)


def _contract_error(err: ResponseContractError) -> Response:
    # Only this self-check may produce a 500: it means the mock itself is wrong.
    return json_response({"message": f"mock_solusvm response contract violation: {err}"}, 500)
