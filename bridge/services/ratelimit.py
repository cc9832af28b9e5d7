"""A database-backed fixed-window rate limiter.

Counters live in the ``rate_limits`` table and are bumped with one atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement (SQLite >= 3.35 and
PostgreSQL), in a transaction of their own. So the limit holds across worker processes and
machines sharing the database, and a request that fails later still counts.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from bridge.models import RateLimitCounter


@dataclass(frozen=True)
class Limit:
    """At most ``count`` hits per ``seconds`` for one key."""

    count: int
    seconds: int


class RateLimited(Exception):
    """Too many attempts; ``retry_after`` seconds until the window ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


def parse_limit(text: str) -> Limit:
    """``"5/60"`` (hits/seconds) -> Limit(5, 60)."""
    try:
        count, seconds = (int(part) for part in str(text).split("/", 1))
    except ValueError:
        raise ValueError(f"rate limit {text!r} must look like HITS/SECONDS, e.g. 5/60") from None
    if count < 1 or seconds < 1:
        raise ValueError(f"rate limit {text!r} must have positive numbers")
    return Limit(count, seconds)


def hit(engine: Engine, key: str, limit: Limit, *, now: float | None = None) -> int:
    """Count one hit for ``key``; raise RateLimited when it goes over the limit.

    Returns the number of hits in the current window (including this one).
    """
    now = time.time() if now is None else now
    window = int(now // limit.seconds) * limit.seconds
    key = key[:200]
    dialect = engine.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(RateLimitCounter).values(key=key, window_start=window, count=1).on_conflict_do_update(
        index_elements=[RateLimitCounter.key, RateLimitCounter.window_start],
        set_={"count": RateLimitCounter.count + 1},
    ).returning(RateLimitCounter.count)
    with engine.begin() as conn:
        count = int(conn.execute(stmt).scalar_one())
        # Old windows are useless; drop this key's stale rows while we hold the row anyway.
        if count == 1:
            conn.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key,
                                                        RateLimitCounter.window_start < window))
    if count > limit.count:
        raise RateLimited(max(1, int(window + limit.seconds - now)))
    return count


def peek(engine: Engine, key: str, limit: Limit, *, now: float | None = None) -> None:
    """Raise RateLimited when ``key`` already used up ``limit`` in the current window (counts nothing)."""
    now = time.time() if now is None else now
    window = int(now // limit.seconds) * limit.seconds
    with engine.connect() as conn:
        count = conn.execute(select(RateLimitCounter.count).where(
            RateLimitCounter.key == key[:200], RateLimitCounter.window_start == window)).scalar()
    if count is not None and count >= limit.count:
        raise RateLimited(max(1, int(window + limit.seconds - now)))


def parse_limits(text: str) -> list[Limit]:
    """``"20/900,50/3600"`` -> several limits that all apply (longer windows allow more)."""
    return [parse_limit(part) for part in str(text).split(",") if part.strip()]


def purge(engine: Engine, *, older_than: float) -> int:
    """Delete windows that started before ``older_than`` (epoch seconds); returns rows removed."""
    with engine.begin() as conn:
        result = conn.execute(delete(RateLimitCounter).where(RateLimitCounter.window_start < int(older_than)))
    return int(result.rowcount or 0)


def identity_key(name: str) -> str:
    """The one form of a log-in name (e-mail, admin name, API identifier) every limit is keyed on:
    Unicode NFKC, surrounding white space removed, case-folded. ``" Root\t"``, ``"ROOT"`` and
    ``"ｒｏｏｔ"`` (full-width) are one identity, so variants cannot buy extra guesses."""
    return unicodedata.normalize("NFKC", name or "").strip().casefold()


class FailureThrottle:
    """Failures per key (e.g. a source address sending wrong tokens), counted in the shared
    ``rate_limits`` table; a key over its limit is refused until its window ends, whatever it sends.

    Only failures touch the database, so the success path of a hot endpoint costs no query: the
    process that sees a key go over the limit remembers it in memory (bounded), and any other
    worker learns it at that key's next failure (which the database counts for all of them).
    """

    MAX_KEYS = 10_000

    def __init__(self, name: str) -> None:
        self.name = name
        self._blocked: dict[str, float] = {}
        self._lock = threading.Lock()

    def blocked_for(self, engine: Engine, key: str, *, now: float | None = None) -> int:
        """Seconds ``key`` is still refused by this process (0: not refused)."""
        key = f"{id(engine)}|{key}"  # one process may serve several apps and databases (tests, tools)
        until = self._blocked.get(key)
        if until is None:
            return 0
        now = time.time() if now is None else now
        if until <= now:
            with self._lock:
                self._blocked.pop(key, None)
            return 0
        return max(1, int(until - now))

    def fail(self, engine: Engine, key: str, limit_text: str, *, now: float | None = None) -> None:
        """Count one failure; raise RateLimited (and remember the key) once over the limit."""
        now = time.time() if now is None else now
        try:
            hit(engine, f"{self.name}:{key}", parse_limit(limit_text), now=now)
        except RateLimited as exc:
            key = f"{id(engine)}|{key}"
            with self._lock:
                if len(self._blocked) >= self.MAX_KEYS:
                    self._blocked = {k: v for k, v in self._blocked.items() if v > now}
                    if len(self._blocked) >= self.MAX_KEYS:
                        self._blocked.clear()
                self._blocked[key] = now + exc.retry_after
            raise

    def reset(self) -> None:
        """Forget what this process remembers (tests)."""
        with self._lock:
            self._blocked.clear()
