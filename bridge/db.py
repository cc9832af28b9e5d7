"""Engine, sessions and migrations.

``make_engine`` tunes SQLite (WAL, foreign keys, busy timeout) and PostgreSQL (a small
pool with pre-ping); ``upgrade`` runs the Alembic migrations packaged in
``bridge/migrations`` without any ``alembic.ini``, so ``solus-bridge init-db`` works from
any directory and from an installed wheel. Flask-free: the request's session (``get_session``)
is ``bridge.flask_glue``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs."""
    parsed = make_url(url)
    # Statement parameters hold passwords' hashes, addresses and secrets: never in an error
    # message, so never in a log line (a failing statement is logged with its exception).
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # One shared connection, or every pooled connection would see its own empty DB.
            kwargs.setdefault("poolclass", StaticPool)
            kwargs.setdefault("connect_args", {"check_same_thread": False})
        else:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers (GetTokenPricing) run while a writer commits.
            if parsed.database not in (None, "", ":memory:"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Deferred BEGIN: readers never block (WAL). BEGIN IMMEDIATE was tried and rejected:
            # code that reads in one session and writes in another in the same thread would
            # wait on itself. The price: two overlapping read-then-write transactions can end
            # with "database is locked" for the later one (retry it); PostgreSQL has no such case.
            conn.exec_driver_sql("BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 5)
    return create_engine(url, **kwargs)


def url_problem(url: str) -> str | None:
    """What is wrong with a database URL before connecting (one line), or None.

    Catches the mistakes people make first: a Heroku-style ``postgres://`` URL, a
    ``postgresql://`` URL that would ask for psycopg2 (this package ships psycopg 3), text
    that is not a URL, and a driver that is not installed.
    """
    shown = url
    try:
        parsed = make_url(url)
        shown = parsed.render_as_string(hide_password=True)
    except ArgumentError:
        return (f"BRIDGE_DATABASE_URL {url!r} is not a database URL: use sqlite:////path/to/bridge.sqlite3 "
                "or postgresql+psycopg://user:password@host:5432/dbname")
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        fixed = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=True)
        return f"BRIDGE_DATABASE_URL {shown}: use the psycopg 3 driver this package installs: {fixed}"
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        return f"BRIDGE_DATABASE_URL {shown}: its driver is not installed ({exc})"
    except Exception as exc:  # noqa: BLE001 - NoSuchModuleError and friends: an unknown dialect
        return f"BRIDGE_DATABASE_URL {shown}: {exc}"
    return None


def error_line(exc: BaseException, url: str | None = None) -> str:
    """A one-line explanation of a failure to reach or use the database (no traceback)."""
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    where = f"{make_url(url).render_as_string(hide_password=True)}: " if url else ""
    return f"database {where}{first}"


NOT_INITIALISED = "database not initialised: run solus-bridge init-db"


def schema_problem(engine: Engine) -> str | None:
    """None when the database is at the newest migration; otherwise the line to show.

    ``NOT_INITIALISED`` when it has no tables yet or is behind the code; a connection
    failure is described by ``error_line``.
    """
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        return error_line(exc, engine.url.render_as_string(hide_password=False))
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if current is None:
        return NOT_INITIALISED
    if current != head:
        return f"database at revision {current}, the code needs {head}: run solus-bridge init-db"
    return None


def is_lock_conflict(exc: BaseException) -> bool:
    """SQLite's "database is locked": a deferred transaction lost the race for the write lock
    (the busy timeout does not apply to that upgrade). Retrying the whole transaction is safe."""
    text = str(getattr(exc, "orig", exc))
    return "database is locked" in text or "database table is locked" in text


def lock_row(session: Session, obj: Any) -> None:
    """Re-read ``obj`` under ``SELECT ... FOR UPDATE`` before a read-modify-write of it.

    On PostgreSQL two transactions that read a balance and write it back would otherwise
    both succeed and lose one update; the row lock makes the second wait and read the first
    one's result. SQLite has no row locks and needs none here: reads run inside the deferred
    transaction, so the later writer fails with "database is locked" instead of losing data.
    """
    if session.get_bind().dialect.name == "sqlite":
        return
    session.flush()  # refresh would otherwise drop changes made to obj earlier in the transaction
    session.refresh(obj, with_for_update=True)


def alembic_config(engine: Engine) -> Any:
    """A programmatic Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest)."""
    owned = isinstance(engine_or_url, str)
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    cfg = alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if owned:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
