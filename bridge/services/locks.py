"""One run at a time: ``run_lock(engine, name)``.

PostgreSQL: a session-level ``pg_try_advisory_lock`` held on a dedicated connection, so it
works across processes and machines and is released by the server if the process dies.
SQLite: an exclusive ``fcntl.flock`` on ``<database file>.<name>.lock`` next to the
database; the kernel releases it when the process dies (even on ``kill -9``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text


class LockHeld(Exception):
    """Another run holds the lock."""

    def __init__(self, name: str, where: str) -> None:
        super().__init__(f"another {name} run holds the lock ({where}); try again later")
        self.name = name


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` (hash of the lock name)."""
    digest = hashlib.sha256(f"solus-bridge:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_path(engine: Engine, name: str) -> str | None:
    """The lock file of a file-based SQLite database (``None`` for in-memory databases)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return f"{os.path.abspath(database)}.{name}.lock"


@contextmanager
def run_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the named lock for the ``with`` block, or raise :class:`LockHeld` at once."""
    if engine.dialect.name == "postgresql":
        key = advisory_key(name)
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()  # end the implicit transaction; the session-level lock stays
            if not got:
                raise LockHeld(name, "PostgreSQL advisory lock")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    path = lock_path(engine, name)
    if path is None:  # an in-memory database lives in one process only: nothing to share
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(name, path) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())  # for the operator: who holds it
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
