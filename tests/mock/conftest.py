"""Fixtures for the mock's tests: every API test runs in-process and against the live server."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mock_solusvm.client import ControlClient
from mock_solusvm.inprocess import InProcessMock, mock_solusvm
from mock_solusvm.server import MockServer

ADMIN = "admin-token"

SEED: dict[str, Any] = {
    "clock": "2026-10-01T00:00:00Z",
    "settings": {"features": {"allow_registration": False}},
    "roles": [{"id": 1, "name": "ADMIN"}, {"id": 2, "name": "CLIENT", "is_default": True}],
    "limit_groups": [{"id": 1, "name": "Default", "vms": {"limit": 5, "is_enabled": True},
                      "running_vms": {"limit": 3, "is_enabled": True},
                      "additional_ips": {"limit": 2, "is_enabled": True}}],
    "locations": [{"id": 1, "name": "Amsterdam"}],
    "os_images": [{"id": 1, "name": "Debian", "versions": [{"id": 1, "version": "12"}]}],
    "plans": [
        {"id": 1, "name": "1 Core, 1 GB RAM", "tokens_per_hour": 7, "tokens_per_month": 5000,
         "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500, "backup_price": 0,
         "params": {"vcpu": 1, "ram": 1073741824, "disk": 10}},
        {"id": 2, "name": "Hourly only", "tokens_per_hour": 3, "tokens_per_month": 0,
         "ip_tokens_per_hour": 0, "ip_tokens_per_month": 0},
        {"id": 3, "name": "Monthly fixed", "tokens_per_hour": 0, "tokens_per_month": 4000,
         "ip_tokens_per_hour": 0, "ip_tokens_per_month": 0},
    ],
    "users": [
        {"id": 1, "email": "ann@example.com", "status": "active", "billing_user_id": 1, "roles": [2],
         "limit_group_id": 1},
        {"id": 2, "email": "bob@example.com", "status": "active", "billing_user_id": 2, "roles": [2],
         "limit_group_id": 1},
    ],
    "servers": [],
}


def seed_doc(**overrides: Any) -> dict[str, Any]:
    """A deep copy of SEED with top-level keys replaced."""
    doc = copy.deepcopy(SEED)
    doc.update(overrides)
    return doc


class Harness:
    """One way of talking to the mock: ``http`` (admin token + namespace) and ``ctl`` (control)."""

    def __init__(self, mode: str, base: str, ctl: ControlClient | InProcessMock, namespace: str) -> None:
        self.mode, self.base, self.ctl, self.namespace = mode, base, ctl, namespace
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {ADMIN}", "X-Mock-Namespace": namespace,
                                  "Accept": "application/json"})

    def url(self, path: str) -> str:
        return f"{self.base}/api/v1{path}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url(path), timeout=10, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.url(path), timeout=10, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.http.put(self.url(path), timeout=10, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.http.patch(self.url(path), timeout=10, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.http.delete(self.url(path), timeout=10, **kw)

    def as_token(self, token: str | None) -> requests.Session:
        """A session with another Bearer token (or none)."""
        s = requests.Session()
        s.headers["X-Mock-Namespace"] = self.namespace
        if token is not None:
            s.headers["Authorization"] = f"Bearer {token}"
        return s

    def user_token(self, user_id: int, one_time: bool = False) -> str:
        r = self.post(f"/users/{user_id}/tokens", json={"is_one_time": one_time})
        assert r.status_code == 201, r.text
        return r.json()["data"]["access_token"]


@pytest.fixture(scope="session")
def live_server() -> Iterator[MockServer]:
    with MockServer(port=0, api_tokens=[ADMIN], config={"VALIDATE_RESPONSES": True}) as srv:
        yield srv


@pytest.fixture(params=["inprocess", "live"])
def mock(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """A freshly seeded namespace, in-process or on the live server."""
    namespace = f"t-{uuid.uuid4().hex[:12]}"
    if request.param == "inprocess":
        with mock_solusvm(base_url="https://solusvm.test", api_token=ADMIN, namespace=namespace,
                          config={"VALIDATE_RESPONSES": True}, seed=seed_doc()) as m:
            yield Harness("inprocess", m.url, m, namespace)
    else:
        srv: MockServer = request.getfixturevalue("live_server")
        ctl = srv.control(namespace)
        ctl.seed(seed_doc())
        yield Harness("live", srv.url, ctl, namespace)
