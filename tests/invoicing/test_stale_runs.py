"""Runs killed without finishing: a later run that is alone marks their rows ``abandoned``;
a run that is still alive is never touched (the shared ``invoicing`` lock tells them apart)."""

from __future__ import annotations

import logging
import select as selectmod
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from bridge import db, logs
from bridge.flask_glue import settings_of
from bridge.models import InvoiceRun
from bridge.services import cron, invoicing, locks
from tests.invoicing.conftest import server, user

OCT = "2026-10-01T00:00:00Z"
DEL_700 = "2026-10-30T04:00:00Z"

# A run in its own process that gets stuck reading usage (as if SolusVM hung) until killed.
STUCK_RUN = """
import sys, time
from bridge import db
from bridge.services import invoicing
from bridge.services.unit_of_work import make_session_factory
from bridge.settings import Settings

class StuckSolusVM:
    def iter_usage(self, *args, **kwargs):
        print("fetching", flush=True)
        time.sleep(600)
        return iter(())

factory = make_session_factory(db.make_engine(sys.argv[1]))
invoicing.generate_period(factory, StuckSolusVM(), 2026, 10, settings=Settings())
"""


STUCK_APP = "bridge-test-stuck-run"  # the stuck run's application_name on PostgreSQL


def stuck_run_url(db_url: str) -> str:
    """The stuck run's database URL: on PostgreSQL tagged so its sessions can be told apart."""
    if not db_url.startswith("postgresql"):
        return db_url
    return f"{db_url}{'&' if '?' in db_url else '?'}application_name={STUCK_APP}"


def stuck_sessions(db_url: str) -> int:
    """How many PostgreSQL sessions the stuck run has open (0 on SQLite, which has none)."""
    if not db_url.startswith("postgresql"):
        return 0
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"),
                                    {"a": STUCK_APP}).scalar_one())
    finally:
        engine.dispose()


def wait_for_killed_sessions(db_url: str) -> None:
    """PostgreSQL ends a killed client's backend (and its advisory locks) only once it sees the
    socket close; wait for that, so the next run finds the lock as production would a moment later.
    (SQLite: the kernel drops the dead process's flock at once.)"""
    for _ in range(300):
        if not stuck_sessions(db_url):
            return
        time.sleep(0.1)


def one_client(world: Any) -> int:
    cid = world.client("ann@example.com")
    world.seed([user(1, cid)], [server(1, 1, OCT, DEL_700)])
    return cid


def runs(world: Any) -> list[InvoiceRun]:
    with world.factory() as s:
        return list(s.scalars(select(InvoiceRun).order_by(InvoiceRun.id)))


def add_running_row(world: Any, period: str = "2026-10") -> int:
    """The row a run killed with SIGKILL leaves behind (no process holds the lock any more)."""
    with world.factory() as s, s.begin():
        row = InvoiceRun(period=period, status="running", summary={})
        s.add(row)
        s.flush()
        return row.id


def test_a_dead_runs_row_is_marked_abandoned(any_world: Any, caplog: pytest.LogCaptureFixture) -> None:
    one_client(any_world)
    dead = [add_running_row(any_world), add_running_row(any_world, "2026-09")]
    caplog.set_level(logging.WARNING, logger="bridge.services.invoicing")
    summary = any_world.run()
    assert summary.ok and summary.invoices == 1
    by_id = {r.id: r for r in runs(any_world)}
    for run_id in dead:  # every period: the lock is one for all invoicing runs
        assert by_id[run_id].status == "abandoned"
        assert by_id[run_id].finished_at is not None
        assert by_id[run_id].summary["abandoned_by"] == summary.request_id
    assert by_id[summary.run_id].status == "done"
    assert len(summary.abandoned_runs) == 2
    assert summary.abandoned_runs[0].startswith(f"run {dead[0]} (2026-10, started ")
    assert by_id[summary.run_id].summary["abandoned_runs"] == summary.abandoned_runs
    text = summary.render()
    assert "now marked abandoned: 2" in text and f"ABANDONED: run {dead[1]} (2026-09" in text
    assert "never finished and are now marked abandoned" in caplog.text
    # Nothing is left to mark the next time; finished rows are never touched.
    again = any_world.run()
    assert again.abandoned_runs == [] and "abandoned" not in again.render()
    assert [r.status for r in runs(any_world)] == ["abandoned", "abandoned", "done", "done"]


def test_a_live_run_is_left_alone_and_marked_once_killed(any_world: Any, db_url: str) -> None:
    one_client(any_world)
    proc = subprocess.Popen([sys.executable, "-c", STUCK_RUN, stuck_run_url(db_url)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = selectmod.select([proc.stdout], [], [], 60)
        assert ready and proc.stdout.readline().strip() == "fetching", proc.stderr.read() if proc.poll() else ""
        [live] = runs(any_world)
        assert live.status == "running"
        assert stuck_sessions(db_url) > 0 or not db_url.startswith("postgresql")  # the wait below can see it
        # The other run is alive (it holds the lock): its row must stay "running".
        during = any_world.run()
        assert during.ok and during.abandoned_runs == []
        assert {r.id: r.status for r in runs(any_world)}[live.id] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    wait_for_killed_sessions(db_url)
    after = any_world.run()
    assert after.abandoned_runs and after.abandoned_runs[0].startswith(f"run {live.id} (2026-10")
    statuses = {r.id: r.status for r in runs(any_world)}
    assert statuses == {live.id: "abandoned", during.run_id: "done", after.run_id: "done"}


def test_an_abandoned_run_still_counts_as_unfinished_for_the_cron(world: Any) -> None:
    add_running_row(world)
    with world.factory() as s, s.begin():
        s.scalars(select(InvoiceRun)).one().status = "abandoned"
    with world.factory() as s:
        assert cron.needs_invoicing(s, date(2026, 11, 5)) == (2026, 10)


def test_an_exception_marks_the_runs_own_row_failed(world: Any) -> None:
    one_client(world)

    class Broken:
        def iter_usage(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("bug in a SolusVM client")

    with pytest.raises(RuntimeError, match="bug in a SolusVM client"):
        invoicing.generate_period(world.factory, Broken(), 2026, 10, settings=settings_of(world.app))
    [row] = runs(world)
    assert row.status == "failed" and row.finished_at is not None
    assert "RuntimeError: bug in a SolusVM client" in row.summary["failures"][0]


def test_the_runs_request_id_is_sent_to_solusvm_and_kept(world: Any) -> None:
    one_client(world)
    with logs.run_context(run_id="cron-test-run-7"):
        summary = world.run()
    assert summary.request_id == "cron-test-run-7"
    assert runs(world)[0].summary["request_id"] == "cron-test-run-7"
    sent = {next(v for k, v in e["headers"].items() if k.lower() == "x-request-id")
            for e in world.mock.journal.requests(method="GET", path="/api/v1/usage")}
    assert sent == {"cron-test-run-7"}


# --- the lock itself ----------------------------------------------------------------------


def check_shared_lock(engine: Any) -> None:
    calls: list[str] = []
    with locks.shared_run_lock(engine, "test", when_alone=lambda: calls.append("a")) as a:
        with locks.shared_run_lock(engine, "test", when_alone=lambda: calls.append("b")) as b:
            assert (a, b) == (True, False)
    with locks.shared_run_lock(engine, "test", when_alone=lambda: calls.append("c")) as c:
        assert c is True
    assert calls == ["a", "c"]
    # An exclusive run lock of another name is independent.
    with locks.run_lock(engine, "other"), locks.shared_run_lock(engine, "test") as d:
        assert d is True


def test_shared_lock_tells_the_first_holder_it_is_alone(db_url: str) -> None:
    for engine in (db.make_engine(db_url), create_engine("sqlite://")):  # file or PostgreSQL; in-memory
        check_shared_lock(engine)
        engine.dispose()


def test_a_failing_cleanup_releases_the_lock(db_url: str, tmp_path: Any) -> None:
    engine = db.make_engine(db_url)

    def boom() -> None:
        raise ValueError("cleanup failed")

    with pytest.raises(ValueError), locks.shared_run_lock(engine, "test", when_alone=boom):
        pass
    with locks.shared_run_lock(engine, "test") as alone:
        assert alone
    engine.dispose()


def test_a_holder_waits_while_another_cleans_up(db_url: str, tmp_path: Any) -> None:
    """A run arriving during another's exclusive clean-up waits for it, then shares the lock."""
    engine = db.make_engine(db_url)
    cleaning, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow_cleanup() -> None:
        cleaning.set()
        release.wait(10)
        order.append("cleaned")

    def first() -> None:
        with locks.shared_run_lock(engine, "test", when_alone=slow_cleanup):
            order.append("first in")

    t = threading.Thread(target=first)
    t.start()
    try:
        assert cleaning.wait(10)
        with pytest.raises(locks.LockHeld), locks.shared_run_lock(engine, "test", wait=0.2):
            pass  # the clean-up outlasts a short wait
        threading.Timer(0.3, release.set).start()
        with locks.shared_run_lock(engine, "test", when_alone=lambda: order.append("second cleaned")) as alone:
            order.append("second in")
    finally:
        release.set()
        t.join(10)
    assert order.index("cleaned") < order.index("second in")
    assert ("second cleaned" in order) is alone
    engine.dispose()
