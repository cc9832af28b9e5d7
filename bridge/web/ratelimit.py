"""A database-backed fixed-window rate limiter.

Counters live in the ``rate_limits`` table and are bumped with one atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement (SQLite >= 3.35 and
PostgreSQL), in a transaction of their own. So the limit holds across gunicorn workers and
machines sharing the database, and a request that fails later still counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite

from bridge.web.models import RateLimitCounter


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
    stmt = insert(RateLimitCounter).values(key=key, window_start=window, count=1)
    stmt = stmt.on_conflict_do_update(
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


def purge(engine: Engine, *, older_than: float) -> int:
    """Delete windows that started before ``older_than`` (epoch seconds); returns rows removed."""
    with engine.begin() as conn:
        result = conn.execute(delete(RateLimitCounter).where(RateLimitCounter.window_start < int(older_than)))
    return int(result.rowcount or 0)
