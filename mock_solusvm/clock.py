"""The per-namespace virtual clock.

It runs with real time unless frozen; ``set`` and ``advance`` move it. Seeding a clock
freezes it so usage numbers in tests are exact.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

MIN_YEAR, MAX_YEAR = 1970, 9000


def parse_instant(value: str) -> datetime:
    """Parse an ISO 8601 instant; naive values are taken as UTC. Raises ``ValueError``."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    # far-away instants would overflow date arithmetic later (a running clock, month loops)
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        raise ValueError(f"instants must fall in the years {MIN_YEAR}-{MAX_YEAR}")
    return dt


def format_instant(dt: datetime) -> str:
    """``2026-10-01T00:00:00Z`` (microseconds only when present)."""
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Clock:
    """A virtual UTC clock: ``now = anchor + (real time since anchor unless frozen)``."""

    def __init__(self, now: datetime | None = None, frozen: bool = False) -> None:
        self._anchor = now or datetime.now(UTC)
        self._real = time.monotonic()
        self._frozen = frozen

    @property
    def frozen(self) -> bool:
        """True when the clock does not move on its own."""
        return self._frozen

    def now(self) -> datetime:
        """The current virtual instant."""
        if self._frozen:
            return self._anchor
        return self._anchor + timedelta(seconds=time.monotonic() - self._real)

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (keeps frozen/running)."""
        self._anchor, self._real = when.astimezone(UTC), time.monotonic()

    def advance(self, delta: timedelta) -> None:
        """Move forward (or back, with a negative delta); ``ValueError`` outside the supported years."""
        target = self.now() + delta
        if not MIN_YEAR <= target.year <= MAX_YEAR:
            raise ValueError(f"the clock must stay in the years {MIN_YEAR}-{MAX_YEAR}")
        self.set(target)

    def freeze(self) -> None:
        """Stop the clock at its current instant."""
        self._anchor, self._real, self._frozen = self.now(), time.monotonic(), True

    def unfreeze(self) -> None:
        """Let the clock run with real time again from its current instant."""
        self._anchor, self._real, self._frozen = self.now(), time.monotonic(), False

    def to_json(self) -> dict[str, object]:
        """``{now, frozen}``."""
        return {"now": format_instant(self.now()), "frozen": self._frozen}


#: Seconds of virtual time for a task (and a backup or snapshot) to go pending → running → done.
TASK_RUNNING_AFTER = 1
TASK_DONE_AFTER = 3


def time_stage(elapsed: float) -> int:
    """0 pending, 1 running, 2 done after ``elapsed`` seconds of virtual time (tasks, backups, snapshots)."""
    return 2 if elapsed >= TASK_DONE_AFTER else 1 if elapsed >= TASK_RUNNING_AFTER else 0
