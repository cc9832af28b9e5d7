"""Fixtures for the bridge: a migrated database per test on SQLite and, where reachable, PostgreSQL.

SQLite: the migrations run once per worker into a template file, which each test copies.
PostgreSQL: each worker creates its own database (unique name, dropped at the end),
migrates it once and truncates every table between tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from bridge import create_app, db
from bridge.models import Base
from bridge.services import catalogue, clients, credentials
from tests.pg import PG_URL, scratch_postgres  # noqa: F401 - PG_URL for importers


@pytest.fixture(autouse=True)
def _cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt costs ~0.13 s per client; tests use a cheap pbkdf2 so the suite stays fast.

    Tests marked ``production_password_hashing`` keep the production method.
    """
    if request.node.get_closest_marker("production_password_hashing") is None:
        monkeypatch.setattr(clients, "PASSWORD_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("template") / "bridge.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file we copy
    return str(path)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this worker, or a skip with the reason."""
    with scratch_postgres("bridge_test") as url:
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def pg_reset_engine(pg_database: str) -> Iterator[Any]:
    engine = db.make_engine(pg_database, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _empty_postgres(engine: Any) -> None:
    """DELETE every row and restart the id sequences (much faster than TRUNCATE on tiny tables)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        for table in tables:
            conn.execute(table.delete())
        serials = [t.name for t in tables if "id" in t.c and t.c.id.autoincrement is not False
                   and t.c.id.primary_key]
        conn.execute(text("SELECT " + ", ".join(
            f"setval(pg_get_serial_sequence('{name}', 'id'), 1, false)" for name in serials)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any, sqlite_template: str) -> str:
    """A migrated, empty database URL on each backend."""
    catalogue.clear_cache()
    if request.param == "sqlite":
        path = tmp_path / "bridge.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _empty_postgres(request.getfixturevalue("pg_reset_engine"))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Any, sqlite_template: str) -> str:
    """SQLite only (for the heavier property tests)."""
    catalogue.clear_cache()
    path = tmp_path / "bridge.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def build_app(url: str, tmp_path: Any, **extra: Any) -> Any:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret", "PRICING_TOKEN": "s3cret",
                      "SYSTEM_URL": "https://billing.test", "MAIL_OUTBOX_DIR": str(tmp_path / "instance" / "outbox"),
                      **extra})
    app.instance_path = str(tmp_path / "instance")
    with session_of(app) as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="test")
    return app


def err(resp: Any) -> str:
    """The message of a WHMCS error answer (HTTP 200, ``result=error``); fails on anything else."""
    body = resp.get_json()
    assert resp.status_code == 200 and body["result"] == "error", body
    return str(body["message"])


def ok(resp: Any) -> dict[str, Any]:
    """The body of a WHMCS success answer; fails on anything else."""
    body = resp.get_json()
    assert resp.status_code == 200 and body["result"] == "success", body
    return dict(body)


def session_of(app: Any) -> Any:
    return app.extensions["bridge_db"]["session_factory"]()


@pytest.fixture
def app(db_url: str, tmp_path: Any) -> Iterator[Any]:
    application = build_app(db_url, tmp_path)
    yield application
    application.extensions["bridge_db"]["engine"].dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def session(app: Any) -> Iterator[Any]:
    with session_of(app) as s:
        yield s


@pytest.fixture
def cred(app: Any) -> credentials.NewCredential:
    with session_of(app) as s, s.begin():
        return credentials.create(s, "tests", actor="test")


@pytest.fixture
def api(client: Any, cred: credentials.NewCredential) -> Callable[..., Any]:
    """POST an action to /includes/api.php with valid credentials; returns the response."""

    def call(action: str, **params: Any) -> Any:
        data: dict[str, Any] = {"action": action, "identifier": cred.identifier, "secret": cred.secret,
                                "responsetype": "json"}
        data.update(params)
        return client.post("/includes/api.php", data=data)

    return call


CLIENT = {"firstname": "Ann", "lastname": "Lee", "email": "ann@example.com", "address1": "1 Main St",
          "city": "Springfield", "state": "IL", "postcode": "62701", "country": "US",
          "phonenumber": "+1.5551234", "password2": "hunter2!"}


@pytest.fixture
def make_client(api: Callable[..., Any]) -> Callable[..., int]:
    """Create a client through AddClient; returns its id."""
    counter = {"n": 0}

    def make(**overrides: Any) -> int:
        counter["n"] += 1
        data = {**CLIENT, "email": f"user{counter['n']}@example.com", **overrides}
        resp = api("AddClient", **data)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        assert body["result"] == "success", body
        return int(body["clientid"])

    return make
