"""The CLI in real processes against the live mock: concurrent runs, kill -9, the cron lock.

Each test starts its own MockServer (port 0) and uses its ``default`` namespace, so the
subprocesses need no namespace header.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from typing import Any

from sqlalchemy import func, select

from bridge import db
from bridge.models import Client, Currency, Invoice
from bridge.services import catalogue, locks
from bridge.services.unit_of_work import make_session_factory
from bridge.settings import InvoicingSettings, Settings
from tests.invoicing.conftest import TOKEN, server, user

OCT, DEL_700 = "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z"
CLI = [sys.executable, "-c", "from bridge.cli import main; main()"]


def prepare(url: str, mock: Any, n: int) -> tuple[Any, list[int]]:
    """n clients, each with one 700 h server (4900 tokens = 4.90 USD) in October 2026."""
    engine = db.make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="test")
        usd = s.scalar(select(Currency.id).where(Currency.code == "USD"))
        clients = [Client(email=f"p{i}@example.com", email_normalized=f"p{i}@example.com", currency_id=usd,
                          firstname=f"P{i}", lastname="Test") for i in range(n)]
        s.add_all(clients)
        s.flush()
        ids = [c.id for c in clients]
    mock.control("default").seed({"clock": "2026-11-01T00:00:00Z",
                                  "users": [user(i + 1, cid) for i, cid in enumerate(ids)],
                                  "servers": [server(i + 1, i + 1, OCT, DEL_700) for i in range(n)]})
    return factory, ids


def env_for(url: str, mock: Any, tmp_path: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update({"BRIDGE_DATABASE_URL": url, "BRIDGE_SOLUSVM_URL": mock.url, "BRIDGE_SOLUSVM_API_TOKEN": TOKEN,
                "BRIDGE_SECRET_KEY": "x" * 32, "BRIDGE_MAIL_OUTBOX_DIR": str(tmp_path / "outbox"), **extra})
    return env


def invoice_facts(factory: Any) -> tuple[int, int, set[D]]:
    with factory() as s:
        n = s.scalar(select(func.count(Invoice.id)))
        distinct = s.scalar(select(func.count(func.distinct(Invoice.client_id))))
        totals = set(s.scalars(select(Invoice.total)))
    return n, distinct, totals


def test_two_concurrent_runs_make_one_invoice_per_client(backend_url, live_mock, tmp_path):
    factory, ids = prepare(backend_url, live_mock, 20)
    env = env_for(backend_url, live_mock, tmp_path, BRIDGE_INVOICE_PAUSE="0.01")
    procs = [subprocess.Popen([*CLI, "invoices", "generate", "--period", "2026-10", "--no-mail"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out + err
    assert invoice_facts(factory) == (20, 20, {D("4.90")})
    created = sum(int(out.split(" invoices created")[0].rsplit(" ", 1)[1]) for out, _ in outs)
    assert created == 20  # between them; neither made a duplicate
    factory.kw["bind"].dispose()


def test_a_run_killed_halfway_is_completed_by_the_rerun(backend_url, live_mock, tmp_path):
    factory, ids = prepare(backend_url, live_mock, 30)
    env = env_for(backend_url, live_mock, tmp_path, BRIDGE_INVOICE_PAUSE="0.03")
    cmd = [*CLI, "invoices", "generate", "--period", "2026-10", "--no-mail"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while invoice_facts(factory)[0] < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = invoice_facts(factory)[0]
    assert 3 <= partial < 30, "the run was not killed halfway"
    rerun = subprocess.run(cmd, env={**env, "BRIDGE_INVOICE_PAUSE": "0"}, capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{30 - partial} invoices created ({partial} already existed" in rerun.stdout
    assert invoice_facts(factory) == (30, 30, {D("4.90")})
    with factory() as s:  # every invoice is whole: one line each, totals from the line
        lines = s.scalars(select(Invoice)).all()
        assert all(len(i.items) == 1 and i.items[0].amount == i.total for i in lines)
    factory.kw["bind"].dispose()


def test_a_second_cron_is_refused_while_the_lock_is_held(backend_url, live_mock, tmp_path):
    factory, _ = prepare(backend_url, live_mock, 1)
    env = env_for(backend_url, live_mock, tmp_path)
    engine = factory.kw["bind"]
    with locks.run_lock(engine, "cron"):
        busy = subprocess.run([*CLI, "cron", "--date", "2026-11-01", "--no-mail"], env=env, capture_output=True,
                              text=True, timeout=60)
    assert busy.returncode == 75, busy.stdout + busy.stderr
    assert "another cron run holds the lock" in busy.stderr
    assert invoice_facts(factory)[0] == 0
    done = subprocess.run([*CLI, "cron", "--date", "2026-11-01", "--no-mail"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert "invoicing 2026-10: 1 clients, 1 invoices created" in done.stdout, done.stdout + done.stderr
    assert invoice_facts(factory) == (1, 1, {D("4.90")})
    engine.dispose()


def test_live_faults_drops_and_slow_answers_end_complete_without_duplicates(sqlite_template, live_mock, tmp_path):
    """5xx, dropped connections and answers slower than the client's timeout on a share of
    requests (fixed seeds): runs report what failed, later runs complete it."""
    from bridge.services import invoicing
    from bridge.services.solusvm_client import SolusVMClient

    path = tmp_path / "bridge.sqlite3"
    shutil.copy(sqlite_template, path)
    factory, ids = prepare(f"sqlite:///{path}", live_mock, 12)
    ctl = live_mock.control("default")
    rules = [ctl.faults.add(method="GET", path="/api/v1/*", status=503, probability=0.25, seed=11),
             ctl.faults.add(method="GET", path="/api/v1/*", drop=True, probability=0.25, seed=12),
             ctl.faults.add(method="GET", path="/api/v1/*", delay=1.0, probability=0.1, seed=13)]
    solus = SolusVMClient(live_mock.url, TOKEN, retries=1, timeout=0.5, sleep=lambda _s: None)
    reports = []
    for _ in range(12):
        summary = invoicing.generate_period(factory, solus, 2026, 10,
                                            settings=Settings(invoicing=InvoicingSettings(due_days=14, usage_per_page=2)))
        reports.append(summary)
        if summary.ok:
            break
    assert reports[0].failure_count > 0, "the faults should have hurt the first run"
    assert reports[-1].ok, reports[-1].render()
    assert sum(r.invoices for r in reports) == 12  # each client invoiced exactly once overall
    assert invoice_facts(factory) == (12, 12, {D("4.90")})
    hits = {r["id"]: r for r in ctl.faults.list()}
    assert all(hits[r["id"]]["hits"] > 0 for r in rules)  # every kind of fault happened
    factory.kw["bind"].dispose()
