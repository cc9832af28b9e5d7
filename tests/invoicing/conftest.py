"""Fixtures for invoicing: a migrated bridge database, the in-process SolusVM mock, helpers.

The database fixtures come from tests/bridge/conftest.py (one fresh database per test on
SQLite and, where reachable, PostgreSQL).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from bridge.flask_glue import settings_of
from bridge.models import ClientGroup, Currency
from bridge.services import catalogue, clients
from bridge.services.solusvm_client import SolusVMClient
from mock_solusvm.inprocess import mock_solusvm
from mock_solusvm.server import MockServer
from tests.bridge.conftest import (  # noqa: F401 - fixtures re-exported for this folder
    _cheap_password_hashing,
    build_app,
    db_url,
    pg_database,
    pg_reset_engine,
    session_of,
    sqlite_catalogue_template,
    sqlite_template,
    sqlite_url,
)
from tests.smtp_fixture import smtp_server  # noqa: F401

MOCK_URL = "https://solusvm.test"
TOKEN = "admin-token"
PLAN = {"id": 1, "name": "1 Core, 1 GB RAM", "tokens_per_hour": 7, "tokens_per_month": 5000,
        "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500, "backup_price": 0,
        "params": {"vcpu": 1, "ram": 1073741824, "disk": 10}}


def plan(pid: int, tph: int, tpm: int, ip_h: int = 0, ip_m: int = 0, name: str | None = None) -> dict[str, Any]:
    return {**PLAN, "id": pid, "name": name or f"plan {pid}", "tokens_per_hour": tph, "tokens_per_month": tpm,
            "ip_tokens_per_hour": ip_h, "ip_tokens_per_month": ip_m}


def server(sid: int, user_id: int, created: str, deleted: str | None = None, plan_id: int = 1,
           ips: int = 0, name: str | None = None) -> dict[str, Any]:
    return {"id": sid, "name": name or f"vm-{sid}", "user_id": user_id, "plan_id": plan_id, "location_id": 1,
            "created_at": created, "deleted_at": deleted, "additional_ip_count": ips}


def user(uid: int, billing: int | None, email: str | None = None) -> dict[str, Any]:
    return {"id": uid, "email": email or f"u{uid}@example.com", "status": "active", "billing_user_id": billing,
            "roles": [2], "limit_group_id": 1}


@dataclass
class World:
    """A bridge database plus an in-process SolusVM mock for one test."""

    app: Any
    mock: Any
    solus: SolusVMClient
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def factory(self) -> Any:
        return self.app.extensions["bridge_db"]["session_factory"]

    def catalogue(self, doc: dict[str, Any]) -> None:
        with self.factory() as s, s.begin():
            catalogue.load_catalogue(s, doc, actor="test")

    def client(self, email: str, *, currency: str = "USD", group: str | None = None, **fields: Any) -> int:
        with self.factory() as s, s.begin():
            cur = s.scalar(select(Currency).where(Currency.code == currency))
            data: dict[str, Any] = {"email": email, "firstname": email.split("@")[0], "lastname": "Test",
                                    "currency": cur.id, **fields}
            if group:
                data["groupid"] = s.scalar(select(ClientGroup.id).where(ClientGroup.name == group))
            return clients.create(s, data, actor="test").id

    def seed(self, users: list[dict[str, Any]], servers: list[dict[str, Any]],
             plans: list[dict[str, Any]] | None = None, clock: str = "2026-11-01T00:00:00Z") -> None:
        self.mock.seed({"clock": clock, "plans": plans or [PLAN], "users": users, "servers": servers})

    def run(self, year: int = 2026, month: int = 10, mailer: Any = None, **config: Any) -> Any:
        from bridge.services import invoicing

        settings = settings_of(self.app).with_values({**self.config, **config})
        return invoicing.generate_period(self.factory, self.solus, year, month, settings=settings, mailer=mailer)

    def invoices(self) -> list[Any]:
        from bridge.models import Invoice

        with self.factory() as s:
            rows = list(s.scalars(select(Invoice).order_by(Invoice.client_id)))
            for inv in rows:
                _ = inv.items, inv.currency, inv.client
            return rows


def make_world(url: str, tmp_path: Any) -> Iterator[World]:
    app = build_app(url, tmp_path, SOLUSVM_URL=MOCK_URL, SOLUSVM_API_TOKEN=TOKEN)
    with mock_solusvm(base_url=MOCK_URL, api_token=TOKEN) as m:
        solus = SolusVMClient(MOCK_URL, TOKEN, retries=3, sleep=lambda _s: None)
        yield World(app, m, solus)
    app.extensions["bridge_db"]["engine"].dispose()


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[World]:
    """SQLite only: the money tests (the arithmetic does not depend on the backend)."""
    yield from make_world(request.getfixturevalue("sqlite_url"), tmp_path)


@pytest.fixture
def any_world(db_url: str, tmp_path: Any) -> Iterator[World]:  # noqa: F811 - the imported fixture
    """On SQLite and on PostgreSQL (when reachable): ``db_url`` is parametrised over both."""
    yield from make_world(db_url, tmp_path)


# --- live-mock fixtures (real processes and sockets) --------------------------------------


@pytest.fixture
def live_mock() -> Iterator[Any]:
    """A MockServer of its own (port 0); tests use its ``default`` namespace."""
    with MockServer(port=0, api_tokens=[TOKEN]) as srv:
        yield srv


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        path = tmp_path / "bridge.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    from tests.bridge.conftest import _empty_postgres

    url = request.getfixturevalue("pg_database")
    _empty_postgres(request.getfixturevalue("pg_reset_engine"))
    catalogue.clear_cache()
    return url
