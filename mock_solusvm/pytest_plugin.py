"""pytest plugin ``solusvm`` (entry point ``pytest11``): test against the SolusVM 2 mock.

Installed with the package, so an integrator gets these fixtures with no conftest:

- ``solusvm_server`` (session): one live mock on ``127.0.0.1`` and a free port, or the
  server given by ``--solusvm-url``;
- ``solusvm`` (per test): a handle on a fresh namespace of that server, unique per xdist
  worker and test, with seeding, clock, faults, state and journal assertions;
- ``solusvm_inprocess`` (per test): the same handle on the ``responses``-based in-process mock
  (no socket; ``requests`` calls to ``https://solusvm.test`` are answered in-process);
- ``solusvm_seed``: a small seed document to change and pass to ``handle.seed(...)``; the
  ``@pytest.mark.solusvm_seed(doc)`` marker seeds ``solusvm``/``solusvm_inprocess`` for you.

Importing this module must stay cheap and must never break pytest: the mock is imported
only when a fixture is used, and a missing piece skips that test with the reason.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

# journal matching is pure (no Flask): importing it keeps this plugin cheap to load
from .journal import matches

DEFAULT_API_TOKEN = "plugin-admin-token"
INPROCESS_URL = "https://solusvm.test"
NAMESPACE_HEADER = "X-Mock-Namespace"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]")

#: A small, complete world: roles, one limit group, a location, an image, one plan, one user.
EXAMPLE_SEED: dict[str, Any] = {
    "clock": "2026-10-01T00:00:00Z",
    "roles": [{"id": 1, "name": "ADMIN"}, {"id": 2, "name": "CLIENT", "is_default": True}],
    "limit_groups": [{"id": 1, "name": "Default", "vms": {"limit": 5, "is_enabled": True},
                      "running_vms": {"limit": 3, "is_enabled": True},
                      "additional_ips": {"limit": 2, "is_enabled": True}}],
    "locations": [{"id": 1, "name": "Amsterdam"}],
    "os_images": [{"id": 1, "name": "Debian", "versions": [{"id": 1, "version": "12"}]}],
    "plans": [{"id": 1, "name": "1 Core, 1 GB RAM", "tokens_per_hour": 7, "tokens_per_month": 5000,
               "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500, "backup_price": 0,
               "params": {"vcpu": 1, "ram": 1073741824, "disk": 10}}],
    "users": [{"id": 1, "email": "ann@example.com", "status": "active", "billing_user_id": 1,
               "roles": [2], "limit_group_id": 1}],
}


# --- journal matching (pure functions, also used by the handle) ----------------------------


def contains(actual: Any, expected: Any) -> bool:
    """True when ``expected`` is a subset of ``actual``: dict keys recursively, lists item by item."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(contains(a, e) for a, e in zip(actual, expected, strict=True)))
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected  # True must not match 1
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected  # 1 matches 1.0
    return type(actual) is type(expected) and actual == expected  # "42" must not match 42


def api_path(path: str) -> str:
    """``users`` → ``/api/v1/users``; absolute paths are kept."""
    return path if path.startswith("/") else "/api/v1/" + path


def describe(entries: list[dict[str, Any]], limit: int = 20) -> str:
    """One line per journal entry, for assertion messages."""
    if not entries:
        return "  (the journal is empty)"
    lines = [f"  {e.get('method')} {e.get('path')}{'?' + e['query'] if e.get('query') else ''} "
             f"-> {e.get('status')} body={e.get('body')!r}"[:300] for e in entries[-limit:]]
    if len(entries) > limit:
        lines.insert(0, f"  ... {len(entries) - limit} earlier request(s)")
    return "\n".join(lines)


def namespace_for(session_key: str, worker: str, nodeid: str) -> str:
    """A namespace name unique per pytest session, xdist worker and test, within the mock's rules."""
    raw = _UNSAFE.sub("_", f"{session_key}.{worker}.{nodeid}")
    if len(raw) <= 128:
        return raw
    digest = hashlib.sha1(raw.encode()).hexdigest()[:16]
    return f"{raw[:100]}.{digest}"


class SolusVMHandle:
    """One namespace of the mock, with assertions. Unknown attributes go to the mock's handle.

    So ``seed``, ``reset``, ``state``, ``restore``, ``clock``, ``faults`` and ``journal`` are the
    mock's own (``ControlClient`` for the live server, the in-process handle otherwise).
    """

    def __init__(self, control: Any, url: str, api_token: str, namespace: str | None) -> None:
        self._control = control
        self.url = url.rstrip("/")
        self.api_url = self.url + "/api/v1"
        self.api_token = api_token
        self.namespace = namespace
        self._sessions: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._control, name)

    @property
    def headers(self) -> dict[str, str]:
        """The headers a client needs: Bearer token and (live server) the namespace."""
        out = {"Authorization": f"Bearer {self.api_token}", "Accept": "application/json"}
        if self.namespace:
            out[NAMESPACE_HEADER] = self.namespace
        return out

    def session(self) -> Any:
        """A ``requests.Session`` that sends :attr:`headers` on every request (closed after the test)."""
        # here, not at the top: loading the plugin (every pytest run of an integrator) stays free of requests
        import requests

        sess = requests.Session()
        sess.headers.update(self.headers)
        self._sessions.append(sess)
        return sess

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Journal entries of this namespace, oldest first, filtered by method and path (glob)."""
        return list(self._control.journal.requests(method=method, path=api_path(path) if path else None))

    def assert_called(self, method: str, path: str, *, times: int | None = None,
                      json_contains: dict[str, Any] | None = None, query_contains: str | None = None,
                      status: int | None = None) -> list[dict[str, Any]]:
        """Assert ``method path`` reached the mock (exactly ``times`` times when given).

        ``json_contains`` keeps only requests whose JSON body contains those keys and values;
        ``status`` only those answered with it. Returns the matching journal entries.
        """
        __tracebackhide__ = True  # pytest shows the test's line, not this helper
        wanted = api_path(path)
        candidates = self.requests(method, wanted)
        hits = [e for e in candidates
                if (json_contains is None or contains(e.get("body"), json_contains))
                and (query_contains is None or query_contains in (e.get("query") or ""))
                and (status is None or e.get("status") == status)]
        ok = len(hits) == times if times is not None else bool(hits)
        if not ok:
            filters = ", ".join(f"{k}={v!r}" for k, v in (("json_contains", json_contains),
                                                            ("query_contains", query_contains),
                                                            ("status", status)) if v is not None)
            expected = f"exactly {times}" if times is not None else "at least 1"
            raise AssertionError(
                f"expected {expected} {method.upper()} {wanted}{' with ' + filters if filters else ''}, "
                f"got {len(hits)} ({len(candidates)} {method.upper()} {wanted} in all). Journal:\n"
                + describe(self.requests()))
        return hits

    def assert_not_called(self, method: str, path: str) -> None:
        """Assert no ``method path`` request reached the mock."""
        __tracebackhide__ = True
        self.assert_called(method, path, times=0)

    def assert_order(self, *calls: tuple[str, str]) -> None:
        """Assert the ``(method, path)`` calls reached the mock in this order (others may come between)."""
        __tracebackhide__ = True
        entries = self.requests()
        position = 0
        for method, path in calls:
            wanted = api_path(path)
            while position < len(entries) and not matches(entries[position]["method"], entries[position]["path"],
                                                          method, wanted):
                position += 1
            if position == len(entries):
                order = " then ".join(f"{m.upper()} {api_path(p)}" for m, p in calls)
                raise AssertionError(f"expected {order}; {method.upper()} {wanted} is missing at that point. "
                                     f"Journal:\n{describe(entries)}")
            position += 1

    def close(self) -> None:
        """Close the sessions made by :meth:`session`."""
        for sess in self._sessions:
            sess.close()


# --- hooks and fixtures ---------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--solusvm-url`` and ``--solusvm-api-token``."""
    group = parser.getgroup("solusvm", "SolusVM 2 mock (mock_solusvm.pytest_plugin)")
    group.addoption("--solusvm-url", default=None,
                    help="Use the mock already running at this URL instead of starting one.")
    group.addoption("--solusvm-api-token", default=None,
                    help=f"Admin API token of that mock (default {DEFAULT_API_TOKEN!r}).")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``solusvm_seed`` marker."""
    config.addinivalue_line("markers", "solusvm_seed(doc): seed the solusvm/solusvm_inprocess namespace "
                                       "with this seed document before the test")


def _need(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pytest.skip(f"{module} is not available ({exc}); the SolusVM mock fixtures need it")


def _seed_from_marker(request: pytest.FixtureRequest, handle: SolusVMHandle) -> None:
    marker = request.node.get_closest_marker("solusvm_seed")
    if marker is not None:
        doc = marker.args[0] if marker.args else marker.kwargs.get("doc")
        handle.seed(copy.deepcopy(doc))


@pytest.fixture(scope="session")
def solusvm_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The live mock for the whole session (``.url``, ``.api_token``, ``.control(namespace)``)."""
    url = request.config.getoption("--solusvm-url")
    token = request.config.getoption("--solusvm-api-token") or DEFAULT_API_TOKEN
    if url:
        yield _External(url.rstrip("/"), token, _need("mock_solusvm.client"))
        return
    server_mod = _need("mock_solusvm.server")
    # The mock checks each of its own answers against contracts.solusvm: a 500 then means a mock bug.
    with server_mod.MockServer(port=0, api_tokens=[token], config={"VALIDATE_RESPONSES": True}) as server:
        server.api_token = token
        yield server


class _External:
    """A mock someone else started: same face as ``MockServer`` for the fixtures."""

    def __init__(self, url: str, api_token: str, server_mod: Any) -> None:
        self.url, self.api_token, self._mod = url, api_token, server_mod

    def control(self, namespace: str) -> Any:
        return self._mod.ControlClient(self.url, namespace=namespace)


@pytest.fixture(scope="session")
def _solusvm_session_key() -> str:
    # Two pytest sessions sharing one external mock must not share namespaces either.
    return secrets.token_hex(3)


@pytest.fixture
def solusvm(request: pytest.FixtureRequest, solusvm_server: Any, _solusvm_session_key: str
            ) -> Iterator[SolusVMHandle]:
    """A fresh namespace on the live mock for this test; reset again afterwards."""
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    namespace = namespace_for(_solusvm_session_key, worker, request.node.nodeid)
    control = solusvm_server.control(namespace)
    handle = SolusVMHandle(control, solusvm_server.url, solusvm_server.api_token, namespace)
    handle.reset()
    _seed_from_marker(request, handle)
    try:
        yield handle
    finally:
        handle.close()
        handle.reset()


@pytest.fixture
def solusvm_inprocess(request: pytest.FixtureRequest) -> Iterator[SolusVMHandle]:
    """The in-process mock (``responses``) answering ``requests`` calls to ``https://solusvm.test``."""
    inprocess = _need("mock_solusvm.inprocess")
    with inprocess.mock_solusvm(base_url=INPROCESS_URL, api_token=DEFAULT_API_TOKEN,
                                config={"VALIDATE_RESPONSES": True}) as mock:
        handle = SolusVMHandle(mock, INPROCESS_URL, DEFAULT_API_TOKEN, mock.namespace)
        _seed_from_marker(request, handle)
        try:
            yield handle
        finally:
            handle.close()


@pytest.fixture
def solusvm_seed() -> dict[str, Any]:
    """A fresh copy of a small seed document (one plan, one user with billing_user_id 1)."""
    return copy.deepcopy(EXAMPLE_SEED)
