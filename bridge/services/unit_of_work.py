"""The unit of work: one transaction, the one lock-conflict retry policy, then SolusVM.

Every entry point that changes data through the services (the WHMCS API, the web pages that
take payments, the ``users`` CLI commands, invoicing) runs its transaction through a
``UnitOfWork``:

1. the work runs in one transaction; the client and invoice services note on its ``Work``
   (``bridge.services.hooks``) the clients whose SolusVM state changed and the clients with a
   newly paid invoice;
2. before commit, a paid client's overdue hold is re-evaluated (a payment may lift it);
3. on SQLite's "database is locked" (a deferred transaction lost the race for the write
   lock; nothing of it was written) the whole transaction is run again, after a jittered
   backoff, at most ``LOCK_RETRIES`` times; the last conflict propagates;
4. after commit, the queued SolusVM changes of the touched clients are tried once, best effort
   and within the request's SolusVM budget; what does not fit stays pending and the daily cron
   applies it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bridge.db import is_lock_conflict
from bridge.models import Client
from bridge.services import outbox, overdue
from bridge.services.catalogue import auto_bump
from bridge.services.hooks import WORK_KEY, Work
from bridge.services.ports import SolusVM
from bridge.services.solusvm_client import connect
from bridge.settings import OverdueSettings, Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Attempts of a transaction that loses SQLite's write lock, and the longest pause between two:
#: 0.02 s doubling per attempt, at most 0.5 s, jittered (about 3.5 s in all before giving up).
LOCK_RETRIES = 12
MAX_LOCK_BACKOFF = 0.5


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory; objects stay usable after commit (expire_on_commit=False).

    Its sessions bump the catalogue version whenever the catalogue changes (see
    ``bridge.services.catalogue.auto_bump``), so GetTokenPricing's cache stays correct.
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False, future=True)
    event.listen(factory, "before_flush", auto_bump)
    return factory


def lock_backoff(attempt: int) -> float:
    """Seconds to wait before running a transaction again after its ``attempt``-th (0-based) lock conflict."""
    return min(MAX_LOCK_BACKOFF, 0.02 * 2 ** attempt) * random.uniform(0.5, 1.5)


def _today() -> date:
    return datetime.now(UTC).date()


class UnitOfWork:
    """Runs transactions (``run`` with a new session, ``run_in`` with the caller's) and applies
    what they touched in SolusVM after commit."""

    def __init__(self, session_factory: sessionmaker[Session], *,
                 solus: Callable[[], SolusVM | None] = lambda: None,
                 overdue_settings: OverdueSettings | None = None, today: Callable[[], date] = _today) -> None:
        self.session_factory = session_factory
        #: Makes a SolusVM client for a waiting caller (None: SolusVM is not configured).
        self.solus = solus
        self.overdue = overdue_settings or OverdueSettings()
        self.today = today

    @classmethod
    def for_settings(cls, session_factory: sessionmaker[Session], settings: Settings) -> UnitOfWork:
        """A unit of work with the bridge's SolusVM (within the request budget, carrying the
        outbox retry policy) and overdue settings."""
        solusvm, policy = settings.solusvm, settings.outbox

        def solus() -> SolusVM | None:
            return connect(solusvm, policy, request_budget=True) if solusvm.configured else None

        return cls(session_factory, solus=solus, overdue_settings=settings.overdue)

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in a new session's transaction and commit (see the module doc)."""
        with self.session_factory() as session:
            return self.run_in(session, work)

    def run_in(self, session: Session, work: Callable[[Session], T]) -> T:
        """Like ``run`` in the caller's ``session`` (a request's), which is committed, or rolled
        back before each new attempt and when ``work`` raises."""
        for attempt in range(LOCK_RETRIES):
            record = Work(solus=self.solus)
            session.info[WORK_KEY] = record
            try:
                result = work(session)
                self._before_commit(session, record)
                session.commit()
            except OperationalError as exc:
                session.rollback()
                if not is_lock_conflict(exc) or attempt == LOCK_RETRIES - 1:
                    raise
                time.sleep(lock_backoff(attempt))
                continue
            except BaseException:
                session.rollback()
                raise
            finally:
                session.info.pop(WORK_KEY, None)
            self._after_commit(record)
            return result
        raise AssertionError("unreachable")

    def _before_commit(self, session: Session, record: Work) -> None:
        """A payment that leaves nothing overdue lifts the overdue hold (only lowers it)."""
        for client_id, actor in sorted(record.paid.items()):
            client = session.get(Client, client_id)
            if client is None or client.enrolled_at is None:
                continue
            overdue.refresh_client(session, client, today=self.today(), settings=self.overdue, actor=actor,
                                   only_release=True)
            record.clients.add(client_id)

    def _after_commit(self, record: Work) -> None:
        """Try the touched clients' queued changes, then queued user deletions (best effort)."""
        if record.clients:
            ids = sorted(record.clients)
            try:
                # Within the request's budget: the caller is waiting; what does not fit stays
                # pending in the outbox and the cron applies it.
                solus = record.solus()
                if solus is not None:
                    for cid in ids:
                        outbox.apply_pending(self.session_factory, solus, client_id=cid)
            except Exception:  # noqa: BLE001 - the commit has happened; never fail it, the cron retries
                log.exception("applying SolusVM changes of clients %s after commit failed", ids)
        for row_id in record.deletions:
            try:
                # The client row is gone: this very change is applied, not the client's.
                solus = record.solus()
                if solus is not None:
                    outbox.apply_pending(self.session_factory, solus, ids=[row_id])
            except Exception:  # noqa: BLE001 - the commit has happened; never fail it, the cron retries
                log.exception("deleting the SolusVM user of outbox change %s after commit failed", row_id)
