"""Fixtures for the SolusVM user lifecycle: a bridge app on SQLite wired to an in-process mock.

The bridge fixtures (migrated database template, cheap password hashing, app builder) are
reused from ``tests/bridge/conftest.py``; the mock runs in-process (``responses``) in a
fresh namespace per test, or live (one ``MockServer`` per module, a namespace per test).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bridge.services import credentials
from bridge.services.solusvm_client import SolusVMClient
from mock_solusvm.inprocess import mock_solusvm
from tests.bridge.conftest import (  # noqa: F401 - fixtures re-exported for this folder
    CLIENT,
    _cheap_password_hashing,
    build_app,
    session_of,
    sqlite_catalogue_template,
    sqlite_template,
    sqlite_url,
)

BASE = "https://solusvm.test"
ADMIN = "users-admin-token"


def fast_client(base: str = BASE, **kw: Any) -> SolusVMClient:
    """A SolusVM client that does not sleep between retries."""
    kw.setdefault("retries", 2)
    client = SolusVMClient(base, ADMIN, backoff=0, sleep=lambda _s: None, **kw)
    client.options = {"limit_group_id": None, "roles": [], "outbox_max_attempts": 3, "outbox_retry_seconds": 60}
    return client


@pytest.fixture
def mock() -> Iterator[Any]:
    """The in-process mock (fresh namespace, default fixture, responses validated)."""
    with mock_solusvm(base_url=BASE, api_token=ADMIN, namespace=f"u-{uuid.uuid4().hex[:10]}",
                      config={"VALIDATE_RESPONSES": True}) as m:
        yield m


@pytest.fixture
def solus(mock: Any) -> SolusVMClient:
    return fast_client()


@pytest.fixture
def app(sqlite_url: str, tmp_path: Any, mock: Any) -> Iterator[Any]:  # noqa: F811
    application = build_app(sqlite_url, tmp_path, SOLUSVM_URL=BASE, SOLUSVM_API_TOKEN=ADMIN, SOLUSVM_RETRIES=0,
                            OUTBOX_MAX_ATTEMPTS=3)
    yield application
    application.extensions["bridge_db"]["engine"].dispose()


@pytest.fixture
def factory(app: Any) -> Any:
    return app.extensions["bridge_db"]["session_factory"]


@pytest.fixture
def api(app: Any) -> Callable[..., Any]:
    """POST an action to /includes/api.php with valid credentials; returns the JSON body."""
    with session_of(app) as s, s.begin():
        cred = credentials.create(s, "tests", actor="test")
    http = app.test_client()

    def call(action: str, **params: Any) -> dict[str, Any]:
        data = {"action": action, "identifier": cred.identifier, "secret": cred.secret, "responsetype": "json",
                **params}
        resp = http.post("/includes/api.php", data=data)
        assert resp.status_code in (200, 403), resp.get_data(as_text=True)
        return resp.get_json()

    return call


@pytest.fixture
def make_client(api: Callable[..., Any]) -> Callable[..., int]:
    """AddClient through the API; returns the new client id."""
    counter = {"n": 0}

    def make(**overrides: Any) -> int:
        counter["n"] += 1
        body = api("AddClient", **{**CLIENT, "email": f"user{counter['n']}-{uuid.uuid4().hex[:6]}@example.com",
                                   **overrides})
        assert body["result"] == "success", body
        return int(body["clientid"])

    return make
