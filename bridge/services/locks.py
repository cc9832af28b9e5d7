"""Run locks: ``run_lock(engine, name)`` (one run at a time) and
``shared_run_lock(engine, name)`` (runs may overlap, and a run can tell whether it is alone).

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``, ``..._shared``) held on
a dedicated connection, so it works across processes and machines and is released by the
server if the process dies. SQLite: ``fcntl.flock`` on ``<database file>.<name>.lock`` next
to the database; the kernel releases it when the process dies (even on ``kill -9``). An
in-memory SQLite database lives in one process: ``run_lock`` does nothing there and
``shared_run_lock`` counts the holders in the process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
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


SHARED_WAIT_SECONDS = 30.0
_POLL = 0.05
_local_lock = threading.Lock()
_local_holders: dict[tuple[str, str], int] = {}


@contextmanager
def shared_run_lock(engine: Engine, name: str, *, when_alone: Callable[[], None] | None = None,
                    wait: float = SHARED_WAIT_SECONDS) -> Iterator[bool]:
    """Hold the named lock *shared* for the ``with`` block (other holders may run at once);
    yield whether this holder was alone when it arrived.

    It first tries the lock exclusively. Success proves that no other holder is alive (a
    holder's lock dies with its process, even on ``kill -9``): ``when_alone()`` then runs
    while the lock is still exclusive, typically to clean up after holders that died, and
    only then is the lock turned into a shared one. Record your own presence (a "running"
    row) *inside* the block, so a later ``when_alone`` can only ever see dead holders' rows.
    Raises :class:`LockHeld` if the shared lock cannot be had within ``wait`` seconds (only
    while someone holds it exclusively, which ``when_alone`` phases do briefly).
    """
    if engine.dialect.name == "postgresql":
        with _pg_shared(engine, name, when_alone, wait) as alone:
            yield alone
        return
    path = lock_path(engine, name)
    if path is None:
        with _local_shared(str(engine.url), name, when_alone) as alone:
            yield alone
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except BlockingIOError:
            alone = False
        if alone and when_alone is not None:
            try:
                when_alone()
            except BaseException:
                fcntl.flock(fd, fcntl.LOCK_UN)
                raise
        # From exclusive to shared: flock drops the exclusive lock first (not atomic), so for
        # a moment another process may clean up; it only sees rows of dead holders, because
        # this one records itself after the lock is shared.
        _wait_for(lambda: _try_flock(fd, fcntl.LOCK_SH), name, path, wait)
        try:
            yield alone
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _wait_for(attempt: Callable[[], bool], name: str, where: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while not attempt():
        if time.monotonic() >= deadline:
            raise LockHeld(name, where)
        time.sleep(_POLL)


@contextmanager
def _pg_shared(engine: Engine, name: str, when_alone: Callable[[], None] | None, wait: float) -> Iterator[bool]:
    key = advisory_key(name)
    with engine.connect() as conn:
        def ask(sql: str) -> bool:
            got = conn.execute(text(sql), {"k": key}).scalar()
            conn.commit()  # end the implicit transaction; session-level locks stay
            return bool(got)

        alone = ask("SELECT pg_try_advisory_lock(:k)")
        if alone:
            try:
                if when_alone is not None:
                    when_alone()
                # The same session already holds it exclusively: granted at once, so the
                # switch from exclusive to shared leaves no gap.
                if not ask("SELECT pg_try_advisory_lock_shared(:k)"):
                    raise LockHeld(name, "PostgreSQL advisory lock (shared lock refused)")
            finally:
                ask("SELECT pg_advisory_unlock(:k)")
        else:
            _wait_for(lambda: ask("SELECT pg_try_advisory_lock_shared(:k)"), name,
                      "PostgreSQL advisory lock, held exclusively", wait)
        try:
            yield alone
        finally:
            ask("SELECT pg_advisory_unlock_shared(:k)")


@contextmanager
def _local_shared(url: str, name: str, when_alone: Callable[[], None] | None) -> Iterator[bool]:
    key = (url, name)
    with _local_lock:
        alone = _local_holders.get(key, 0) == 0
        if alone and when_alone is not None:
            when_alone()
        _local_holders[key] = _local_holders.get(key, 0) + 1
    try:
        yield alone
    finally:
        with _local_lock:
            _local_holders[key] -= 1
            if not _local_holders[key]:
                del _local_holders[key]
