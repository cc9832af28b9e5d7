"""The request journal: what reached the mock's API, per namespace."""

from __future__ import annotations

import fnmatch
import threading
from typing import Any
from urllib.parse import unquote_plus

#: Headers never recorded (tokens must not leak into journals or logs).
REDACTED = {"authorization", "cookie"}
#: Query parameters whose values are masked (``/auth/by_token?token=`` carries a login token).
REDACTED_QUERY = {"token", "access_token", "api_token", "password", "secret", "key"}


class Journal:
    """An append-only, bounded list of request records."""

    def __init__(self, limit: int = 10_000) -> None:
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._next = 1
        self.limit = limit

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append ``entry`` (gets an ``id``); the oldest entries drop beyond ``limit``."""
        with self._lock:
            entry["id"] = self._next
            self._next += 1
            self._items.append(entry)
            if len(self._items) > self.limit:
                del self._items[: len(self._items) - self.limit]
        return entry

    def find(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Entries matching ``method`` (any case) and ``path`` (exact or fnmatch glob)."""
        with self._lock:
            items = list(self._items)
        return [e for e in items if matches(e["method"], e["path"], method, path)]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


def request_entry(at: str, method: str, path: str, query_string: str, headers: Any, body: Any, status: int,
                  fault: int | None) -> dict[str, Any]:
    """The journal record of one API request, credentials redacted (the app and ``PageCache`` write it)."""
    return {"at": at, "method": method, "path": path, "query": redact_query(query_string),
            "headers": redact_headers(headers), "body": body, "status": status, "fault": fault}


def matches(method: str, path: str, want_method: str | None, want_path: str | None) -> bool:
    """Shared matching rule for journal queries and fault rules."""
    if want_method and want_method not in ("*", "ANY") and want_method.upper() != method.upper():
        return False
    if want_path and want_path != path and not fnmatch.fnmatchcase(path, want_path):
        return False
    return True


def redact_headers(headers: Any) -> dict[str, str]:
    """Request headers without credentials."""
    return {k: ("<redacted>" if k.lower() in REDACTED else v) for k, v in headers.items()}


def redact_query(query: str) -> str:
    """The raw query string with the values of credential parameters replaced by ``<redacted>``."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, sep, _ = part.partition("=")
        if sep and unquote_plus(name).lower() in REDACTED_QUERY:
            part = f"{name}=<redacted>"
        parts.append(part)
    return "&".join(parts)
