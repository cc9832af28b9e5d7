"""Fixtures for the bridge: a migrated database per test on SQLite and, where reachable, PostgreSQL.

SQLite: the migrations run once per worker into a template file, which each test copies;
``build_app`` on an untouched copy takes a second template that also holds the default
catalogue (loaded once, by the same call as per test before) instead of loading it again.
PostgreSQL: each worker creates its own database (unique name, dropped at the end),
migrates it once and truncates every table between tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bridge import create_app, db
from bridge.models import Base
from bridge.services import catalogue, clients, credentials
from bridge.services.unit_of_work import make_session_factory
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
def sqlite_catalogue_template(sqlite_template: str) -> str:
    """``sqlite_template`` plus the default catalogue, loaded exactly as ``build_app`` loads it."""
    path = str(Path(sqlite_template).with_name("bridge-catalogue.sqlite3"))
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    with make_session_factory(engine)() as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="test")
    engine.dispose()
    return path


# Fresh copies of the migrated template: path -> (size and mtime right after the copy, the
# catalogue template). build_app swaps in the catalogue template only while the copy is untouched.
_FRESH_COPIES: dict[str, tuple[tuple[int, int], str]] = {}


def _signature(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _fresh_copy(template: str, path: Path, catalogue_template: str) -> str:
    """Copy the migrated template to ``path``; returns its URL."""
    shutil.copy(template, path)
    _FRESH_COPIES[str(path)] = (_signature(path), catalogue_template)
    return f"sqlite:///{path}"


def _preloaded_catalogue(url: str) -> bool:
    """If ``url`` is a still untouched fresh copy, replace it with the catalogue template; True if so."""
    path = Path(url.removeprefix("sqlite:///"))
    entry = _FRESH_COPIES.pop(str(path), None)
    if entry is None or not url.startswith("sqlite:///"):
        return False
    signature, catalogue_template = entry
    untouched = (path.exists() and _signature(path) == signature
                 and not any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm", "-journal")))
    if untouched:
        shutil.copy(catalogue_template, path)
    return untouched


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
        return _fresh_copy(sqlite_template, tmp_path / "bridge.sqlite3",
                           request.getfixturevalue("sqlite_catalogue_template"))
    url = request.getfixturevalue("pg_database")
    _empty_postgres(request.getfixturevalue("pg_reset_engine"))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Any, sqlite_template: str, sqlite_catalogue_template: str) -> str:
    """SQLite only (for the heavier property tests)."""
    catalogue.clear_cache()
    return _fresh_copy(sqlite_template, tmp_path / "bridge.sqlite3", sqlite_catalogue_template)


def build_app(url: str, tmp_path: Any, **extra: Any) -> Any:
    """A bridge app on ``url`` with the default catalogue loaded (actor ``test``)."""
    preloaded = _preloaded_catalogue(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test-secret", "PRICING_TOKEN": "s3cret",
                      "SYSTEM_URL": "https://billing.test", "MAIL_OUTBOX_DIR": str(tmp_path / "instance" / "outbox"),
                      **extra})
    app.instance_path = str(tmp_path / "instance")
    if not preloaded:
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
