"""Rendered API pages kept per namespace and state version, answered again without Flask.

Paging through a listing asks for the same few hundred pages again and again; rendering one
through Flask (routing, hooks, the marshmallow dump, JSON) cost about three times what the
server spends on the bytes (docs/performance.md, "The mock"). ``PageCache`` wraps the app's
WSGI callable: a GET that Flask rendered is kept when the view declared its page cacheable
(``cacheable`` below) and nothing could make a second answer differ; the same request again
is answered from the bytes, with everything the mock does per request still done:

- authenticated: only admin Bearer tokens take this path (compared like the API's own check,
  in constant time); user tokens (a one-time token burns on use), no token, cookies (the
  browser's namespace lives in the session), a request body or a namespace in the query
  string all go through Flask;
- journaled: the same record ``_record`` writes, with a fresh ``at`` from the namespace's clock;
- faults: a namespace with any rule that can still fire is answered by Flask;
- state: a page is kept with the namespace's state version (``VersionLock``: every API
  write, control write, seed, restore and clock move moves it) and answered only while the
  version is unchanged; a page whose content follows the clock (``clock=True``) is kept only
  while the clock is frozen, with the instant it was rendered at.

The key holds what the page is rendered from besides the state: path, query string, host,
scheme and script root (the links are absolute).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from werkzeug.datastructures import EnvironHeaders

from .clock import format_instant
from .journal import request_entry
from .state import Backend, Namespaces
from .wire import NAMESPACE_HEADER, drain

F = TypeVar("F", bound=Callable[..., Any])

#: Where a rendered request tells the middleware that its page may be kept (a ``Keep``).
KEEP = "mock_solusvm.keep_page"
#: Only API pages are kept (the control API and the user area are never cached).
PREFIX = "/api/v1/"
NAMESPACE_ENVIRON = "HTTP_" + NAMESPACE_HEADER.upper().replace("-", "_")  # the header, as WSGI names it
#: Pages kept per namespace; past it the cache starts again (10,000 users are 667 pages of 15).
MAX_PAGES = 4096


@dataclass(frozen=True)
class Keep:
    """What a rendered request leaves for the middleware: the version and journal fields it was rendered at."""

    backend: Backend
    version: int
    path: str
    #: The frozen clock's instant the page was rendered at; None for pages that ignore the clock.
    instant: datetime | None


@dataclass(frozen=True)
class Page:
    """A kept answer."""

    version: int
    instant: datetime | None
    path: str
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class PageCache:
    """WSGI middleware in front of the mock's Flask app (see the module's docstring)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], registry: Namespaces, config: dict[str, Any]) -> None:
        self.app, self.registry, self.config = app, registry, config

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer from a kept page when one is valid; otherwise let Flask render (and maybe keep) it."""
        found = self._eligible(environ)
        if found is None:
            return self.app(environ, start_response)
        backend, key = found
        with backend.lock.held_quietly():
            page = backend.page_cache.get(key)
            if page is not None and page.version == backend.lock.version and (
                    page.instant is None or backend.clock.frozen and backend.clock.now() == page.instant):
                backend.journal.record(request_entry(
                    format_instant(backend.clock.now()), "GET", page.path, key[1], EnvironHeaders(environ),
                    None, int(page.status[:3]), None))
                start_response(page.status, list(page.headers))
                return [page.body]
        return self._render(environ, start_response, backend, key)

    def _eligible(self, environ: dict[str, Any]) -> tuple[Backend, tuple[str, ...]] | None:
        """The namespace and the key of a request this path may answer, or None (Flask answers)."""
        path = environ.get("PATH_INFO", "")
        if (environ.get("REQUEST_METHOD") != "GET" or not path.startswith(PREFIX) or "HTTP_COOKIE" in environ
                or environ.get("CONTENT_LENGTH") not in (None, "", "0") or "HTTP_TRANSFER_ENCODING" in environ):
            return None
        query = environ.get("QUERY_STRING", "")
        if "mock_namespace" in query:
            return None
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or not is_admin_token(self.config["API_TOKENS"], token):
            return None
        backend = self.registry.existing(environ.get(NAMESPACE_ENVIRON) or "default")
        if backend is None or backend.faults.armed():
            return None
        key = (path, query, environ.get("HTTP_HOST", ""), environ.get("SERVER_NAME", ""),
               environ.get("SERVER_PORT", ""), environ.get("wsgi.url_scheme", ""), environ.get("SCRIPT_NAME", ""))
        return backend, key

    def _render(self, environ: dict[str, Any], start_response: Callable[..., Any], backend: Backend,
                key: tuple[str, ...]) -> Iterable[bytes]:
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        chunks = self.app(environ, capture)
        keep: Keep | None = environ.get(KEEP)
        if keep is None or keep.backend is not backend:
            return chunks
        body = drain(chunks)
        status, headers = captured
        with backend.lock.held_quietly():
            if len(backend.page_cache) >= MAX_PAGES:
                backend.page_cache.clear()
            backend.page_cache[key] = Page(keep.version, keep.instant, keep.path, status,
                                           list(headers), body)
        return [body]


def is_admin_token(tokens: Iterable[str], token: str) -> bool:
    """Whether ``token`` is one of the admin ``tokens``: every one compared in constant time, no early exit."""
    found = False
    raw = token.encode("utf-8", "surrogateescape")
    for candidate in tokens:
        found |= hmac.compare_digest(candidate.encode(), raw)
    return found


def cacheable(clock: bool = False) -> Callable[[F], F]:
    """Mark a GET view's page as one ``PageCache`` may keep; ``clock``: its content follows the clock."""

    def mark(view: F) -> F:
        view.keep_page = "clock" if clock else "state"  # type: ignore[attr-defined]
        return view

    return mark
