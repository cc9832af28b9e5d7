"""``ControlClient``: the control API from Python, over ``requests`` (live or in-process)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from .clock import format_instant, parse_instant


class ControlError(Exception):
    """The control API refused a call (e.g. a bad seed); carries the status and body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"control API answered {status}: {body}")
        self.status, self.body = status, body


class _Part:
    def __init__(self, client: ControlClient) -> None:
        self._c = client


class ClockControl(_Part):
    """``/__mock/clock``."""

    def now(self) -> datetime:
        """The namespace's virtual now."""
        return parse_instant(self._c._call("GET", "/clock")["now"])

    def set(self, when: str | datetime) -> dict[str, Any]:
        """Jump to an instant (ISO string or aware datetime)."""
        value = format_instant(when) if isinstance(when, datetime) else when
        return self._c._call("PUT", "/clock", {"now": value})

    def advance(self, **delta: float) -> dict[str, Any]:
        """Move forward by ``timedelta`` keyword arguments (days=, hours=, minutes=, ...)."""
        return self._c._call("POST", "/clock/advance", delta)

    def freeze(self) -> dict[str, Any]:
        """Stop the clock."""
        return self._c._call("POST", "/clock/freeze")

    def unfreeze(self) -> dict[str, Any]:
        """Let the clock run with real time."""
        return self._c._call("POST", "/clock/unfreeze")


class FaultControl(_Part):
    """``/__mock/faults``."""

    def add(self, method: str | None = None, path: str | None = None, status: int | None = None,
            body: Any = None, delay: float | None = None, drop: bool = False, malformed: bool = False,
            times: int | None = None, probability: float | None = None, seed: int | None = None,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Add a rule; the first matching rule fires. Returns the stored rule."""
        spec = {"method": method, "path": path, "status": status, "body": body, "delay": delay, "drop": drop,
                "malformed": malformed, "times": times, "probability": probability, "seed": seed,
                "headers": headers}
        return self._c._call("POST", "/faults", spec)["data"]

    def list(self) -> list[dict[str, Any]]:
        """All rules with their hit counts."""
        return self._c._call("GET", "/faults")["data"]

    def clear(self) -> None:
        """Remove every rule."""
        self._c._call("DELETE", "/faults")


class JournalControl(_Part):
    """``/__mock/journal``."""

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Recorded requests, oldest first (``path`` may be a glob)."""
        return self._c._call("GET", "/journal", params=_q(method, path))["data"]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many recorded requests match."""
        return self._c._call("GET", "/journal/count", params=_q(method, path))["count"]

    def clear(self) -> None:
        """Forget all recorded requests."""
        self._c._call("DELETE", "/journal")


def _q(method: str | None, path: str | None) -> dict[str, str]:
    return {k: v for k, v in (("method", method), ("path", path)) if v}


class ControlClient:
    """Speaks ``/__mock/`` for one namespace. Pass ``session`` to reuse or inject a ``requests.Session``."""

    def __init__(self, base_url: str, namespace: str = "default", session: requests.Session | None = None,
                 timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.namespace = namespace
        self.session = session or requests.Session()
        self.timeout = timeout
        self.clock = ClockControl(self)
        self.faults = FaultControl(self)
        self.journal = JournalControl(self)

    def _call(self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None) -> Any:
        resp = self.session.request(method, f"{self.base_url}/__mock{path}", json=json, params=params,
                                    headers={"X-Mock-Namespace": self.namespace}, timeout=self.timeout)
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = resp.text
            raise ControlError(resp.status_code, body)
        return resp.json() if resp.content else None

    def seed(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Reset the namespace and load a seed document."""
        return self._call("POST", "/seed", doc)

    def reset(self) -> None:
        """Back to the default fixture; clears faults and journal."""
        self._call("POST", "/reset")

    def state(self, password_hashes: bool = False) -> dict[str, Any]:
        """A versioned JSON dump of the namespace (users' password hashes only when asked for)."""
        return self._call("GET", "/state", params={"password_hashes": "1"} if password_hashes else None)

    def restore(self, dump: dict[str, Any]) -> None:
        """Replace the namespace with a dump."""
        self._call("POST", "/state", dump)

    def drop(self) -> None:
        """Forget the namespace (frees its room under MAX_NAMESPACES); its next use starts afresh."""
        self._call("DELETE", "/namespace")
