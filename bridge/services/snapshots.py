"""Last-known SolusVM data for pages, so a slow SolusVM never holds a worker for long.

Pages that show SolusVM data (the client's usage so far, the admin's plan list) read it
through a :class:`SnapshotCache`: a snapshot younger than ``fresh_seconds`` is served without
asking SolusVM; an older one is refreshed by one call bounded by the request's budget
(``SOLUSVM_REQUEST_BUDGET``), and when that call fails the page shows the last snapshot with
its age (up to ``keep_seconds`` old) instead of nothing. Only one request per key refreshes
at a time: the others are served the snapshot they have, so a SolusVM that answers late ties
up one worker at most, never all of them. The cache lives in the worker process's memory
(nothing is written; each worker keeps its own), one set per app (``cache``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: A snapshot this young is served as it is.
FRESH_SECONDS = 60
#: A snapshot older than this is never shown (the page says the data is unavailable).
KEEP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Snapshot:
    """A value read from SolusVM and when it was read (UTC)."""

    value: Any
    taken_at: datetime

    def age_seconds(self, now: datetime | None = None) -> float:
        return max(0.0, ((now or datetime.now(UTC)) - self.taken_at).total_seconds())

    def age_text(self, now: datetime | None = None) -> str:
        """``just now``, ``5 minutes ago``, ``2 hours ago``: for a page."""
        age = int(self.age_seconds(now))
        if age < 60:
            return "just now"
        if age < 3600:
            minutes = age // 60
            return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
        hours = age // 3600
        return f"{hours} hour{'s' if hours != 1 else ''} ago"


class SnapshotCache:
    """Snapshots by key (thread-safe, at most ``max_entries``, least recently used dropped)."""

    def __init__(self, *, fresh_seconds: float = FRESH_SECONDS, keep_seconds: float = KEEP_SECONDS,
                 max_entries: int = 10_000) -> None:
        self.fresh_seconds = fresh_seconds
        self.keep_seconds = keep_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Snapshot] = OrderedDict()
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Any], *, errors: tuple[type[BaseException], ...] = (Exception,),
            now: datetime | None = None) -> tuple[Snapshot | None, BaseException | None]:
        """``(snapshot or None, the refresh's error or None)``.

        A fresh snapshot is returned without calling ``load``. Otherwise ``load()`` (which must
        be bounded, e.g. by the request budget) refreshes it, unless another thread is already
        doing so; a failed refresh (one of ``errors``) returns the kept snapshot, if any, with the error.
        """
        now = now or datetime.now(UTC)
        with self._lock:
            snap = self._entries.get(key)
            if snap is not None and snap.age_seconds(now) > self.keep_seconds:
                del self._entries[key]
                snap = None
            if snap is not None and snap.age_seconds(now) < self.fresh_seconds:
                self._entries.move_to_end(key)
                return snap, None
            if key in self._refreshing and snap is not None:
                return snap, None  # someone is asking SolusVM already: do not pile up behind it
            self._refreshing.add(key)
        try:
            value = load()
        except errors as exc:
            return snap, exc
        finally:
            with self._lock:
                self._refreshing.discard(key)
        fresh = Snapshot(value, now)  # as of when SolusVM was asked
        with self._lock:
            self._entries[key] = fresh
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return fresh, None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def cache(registry: dict[str, Any], name: str) -> SnapshotCache:
    """The snapshot cache ``name`` kept in ``registry`` (an app's ``extensions``: one set per app,
    so two apps in one process, e.g. tests, never see each other's data)."""
    caches: dict[str, SnapshotCache] = registry.setdefault("bridge_snapshots", {})
    if name not in caches:
        caches[name] = SnapshotCache()
    return caches[name]
