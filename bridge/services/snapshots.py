"""Last-known SolusVM data for pages, so a slow SolusVM never holds a worker for long.

Pages that show SolusVM data (the client's usage so far, the admin's plan list) read it
through a :class:`SnapshotCache`: a snapshot younger than ``fresh_seconds`` is served without
asking SolusVM; an older one is refreshed by one call bounded by the request's budget
(``SOLUSVM_REQUEST_BUDGET``), and when that call fails the page shows the last snapshot with
its age (up to ``keep_seconds`` old) instead of nothing. Only one request per key refreshes
at a time: the others are served the snapshot they have, so a SolusVM that answers late ties
up one worker at most, never all of them. The cache lives in the worker process's memory
(nothing is written; each worker keeps its own), one set per app (``cache``).

Pages pass ``wait=``: the refresh then runs in a background thread and the page waits for it
at most ``PAGE_WAIT`` seconds, and not at all while SolusVM is known to be slow (a refresh
failed or outlived a page's wait, and none has succeeded since). A worker runs one request
at a time, so a page that waited on SolusVM for the whole budget would hold GetTokenPricing
requests behind it for as long (measured by bench/pricing_under_slow_solusvm.py); now a
slowdown costs each worker one short wait, and the refresh goes on without a visitor.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: A snapshot this young is served as it is.
FRESH_SECONDS = 60
#: A snapshot older than this is never shown (the page says the data is unavailable).
KEEP_SECONDS = 24 * 3600
#: Seconds a page waits for a background refresh (while SolusVM is not known to be slow).
PAGE_WAIT = 0.5
#: After a failed background refresh, the same key is not asked again for this long.
RETRY_SECONDS = 10
#: Background refreshes one cache runs at once (each is a thread waiting on SolusVM).
MAX_REFRESHING = 16

log = logging.getLogger(__name__)


class StillLoading(Exception):
    """A background refresh has not finished: the page shows what it has (and says so)."""

    def __init__(self) -> None:
        super().__init__("SolusVM has not answered yet")


class Health:
    """Whether SolusVM is known to be slow, shared by a worker's caches (one flag per app)."""

    def __init__(self) -> None:
        self.slow = False


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
                 max_entries: int = 10_000, health: Health | None = None, page_wait: float = PAGE_WAIT,
                 retry_seconds: float = RETRY_SECONDS, max_refreshing: int = MAX_REFRESHING) -> None:
        self.fresh_seconds = fresh_seconds
        self.keep_seconds = keep_seconds
        self.max_entries = max_entries
        self.health = health or Health()
        self.page_wait = page_wait
        self.retry_seconds = retry_seconds
        self.max_refreshing = max_refreshing
        self._entries: OrderedDict[Hashable, Snapshot] = OrderedDict()
        self._refreshing: set[Hashable] = set()
        self._pending: dict[Hashable, threading.Event] = {}
        self._failed: dict[Hashable, tuple[float, BaseException]] = {}  # key -> (monotonic time, error)
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], Any], *, errors: tuple[type[BaseException], ...] = (Exception,),
            now: datetime | None = None, background: bool = False) -> tuple[Snapshot | None, BaseException | None]:
        """``(snapshot or None, the refresh's error or None)``.

        A fresh snapshot is returned without calling ``load``. Otherwise ``load()`` (which must
        be bounded, e.g. by the request budget) refreshes it, unless another thread is already
        doing so; a failed refresh (one of ``errors``) returns the kept snapshot, if any, with the error.

        ``background=True`` (pages): ``load`` runs in a thread of its own, which the caller
        waits for at most ``page_wait`` seconds, or not at all while SolusVM is known to be
        slow; until it finishes the error is :class:`StillLoading`. ``load`` must then not
        need the request (build the SolusVM client before).
        """
        if background:
            return self._get_background(key, load, errors, now or datetime.now(UTC))
        now = now or datetime.now(UTC)
        with self._lock:
            snap = self._kept(key, now)
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
            self._store(key, fresh)
        return fresh, None

    def _store(self, key: Hashable, snap: Snapshot) -> None:
        """Keep ``snap`` as the newest entry, dropping the least recently used (under the lock)."""
        self._entries[key] = snap
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def _kept(self, key: Hashable, now: datetime) -> Snapshot | None:
        """The snapshot of ``key`` if it is not too old to show (under the lock)."""
        snap = self._entries.get(key)
        if snap is not None and snap.age_seconds(now) > self.keep_seconds:
            del self._entries[key]
            return None
        return snap

    def _get_background(self, key: Hashable, load: Callable[[], Any], errors: tuple[type[BaseException], ...],
                        now: datetime) -> tuple[Snapshot | None, BaseException | None]:
        with self._lock:
            snap = self._kept(key, now)
            if snap is not None and snap.age_seconds(now) < self.fresh_seconds:
                self._entries.move_to_end(key)
                return snap, None
            pending = self._pending.get(key)
            failed = self._failed.get(key)
            if pending is None and failed is not None and time.monotonic() - failed[0] < self.retry_seconds:
                return snap, failed[1]  # failed a moment ago: SolusVM is not asked again yet
            if pending is None and len(self._pending) >= self.max_refreshing:
                return snap, StillLoading()  # many visitors while SolusVM is late: no thread each
            if pending is None:
                pending = self._pending[key] = threading.Event()
                # In a copy of the caller's context (as asyncio.to_thread does): the SolusVM calls
                # carry the request's id (X-Request-ID) into the logs.
                context = contextvars.copy_context()
                threading.Thread(target=context.run, args=(self._refresh, key, load, errors, pending, now),
                                 name=f"snapshot-refresh-{key!r}", daemon=True).start()
        if not self.health.slow and not pending.wait(self.page_wait):
            self.health.slow = True  # it outlived a page's wait: the next pages do not wait
        with self._lock:
            if not pending.is_set():
                return self._kept(key, now), StillLoading()
            fresh = self._kept(key, now)
            failed = self._failed.get(key)
            if failed is not None:
                return fresh, failed[1]
            return fresh, None

    def _refresh(self, key: Hashable, load: Callable[[], Any], errors: tuple[type[BaseException], ...],
                 pending: threading.Event, now: datetime) -> None:
        """One background refresh of ``key`` (its own thread); the outcome is kept for the pages."""
        try:
            value = load()
        except errors as exc:
            self._record_failure(key, exc)
            self.health.slow = True
        except Exception as exc:  # a bug must not kill the thread silently, nor leave the key pending
            log.exception("snapshot refresh of %r failed", key)
            self._record_failure(key, exc)
        else:
            with self._lock:
                self._failed.pop(key, None)
                self._store(key, Snapshot(value, now))  # as of when SolusVM was asked
            self.health.slow = False
        finally:
            with self._lock:
                self._pending.pop(key, None)
                pending.set()

    def _record_failure(self, key: Hashable, exc: BaseException) -> None:
        with self._lock:
            self._failed.pop(key, None)
            self._failed[key] = (time.monotonic(), exc)  # newest last
            while len(self._failed) > self.max_entries:  # a long outage seen by many users
                del self._failed[next(iter(self._failed))]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._failed.clear()


def cache(registry: dict[str, Any], name: str) -> SnapshotCache:
    """The snapshot cache ``name`` kept in ``registry`` (an app's ``extensions``: one set per app,
    so two apps in one process, e.g. tests, never see each other's data)."""
    caches: dict[str, SnapshotCache] = registry.setdefault("bridge_snapshots", {})
    if name not in caches:
        # One health flag for all of an app's caches: SolusVM being slow is not a page's affair.
        health = registry.setdefault("bridge_solusvm_health", Health())
        caches[name] = SnapshotCache(health=health)
    return caches[name]
