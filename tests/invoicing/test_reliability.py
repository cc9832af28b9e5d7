"""Nothing lost when the cron or SolusVM fails: missed months, untrustworthy usage pages, the fallback.

Live mock (a MockServer per test, faults through its control API), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select, update

from bridge.flask_glue import settings_of
from bridge.models import Client, InvoiceRun
from bridge.services import cron, invoicing
from bridge.services.solusvm_client import SolusVMClient
from bridge.settings import InvoicingSettings, Settings
from tests.invoicing.conftest import TOKEN
from tests.invoicing.test_processes import CLI, env_for, invoice_facts, prepare


def backdate(factory: Any, day: date = date(2026, 10, 1)) -> None:
    """The clients were added on ``day`` (tests create them at the real date): October 1st by default."""
    with factory() as s, s.begin():
        s.execute(update(Client).values(datecreated=day))


def statuses(factory: Any) -> list[tuple[str, str]]:
    with factory() as s:
        return [(r.period, r.status) for r in s.scalars(select(InvoiceRun).order_by(InvoiceRun.id))]


def solus_for(mock: Any, **kw: Any) -> SolusVMClient:
    kw.setdefault("retries", 1)
    return SolusVMClient(mock.url, TOKEN, sleep=lambda _s: None, **kw)


def run(factory: Any, solus: SolusVMClient, per_page: int = 2) -> invoicing.RunSummary:
    return invoicing.generate_period(factory, solus, 2026, 10, settings=Settings(invoicing=InvoicingSettings(usage_per_page=per_page)))


# --- 1. a month with no recorded run ------------------------------------------------------


def test_a_month_whose_cron_never_ran_is_invoiced_by_a_later_cron(backend_url, live_mock, tmp_path):
    """The machine was down on the 1st: the cron of the 3rd invoices October, exit 0; the 4th skips."""
    factory, ids = prepare(backend_url, live_mock, 5)
    backdate(factory)
    env = env_for(backend_url, live_mock, tmp_path)
    late = subprocess.run([*CLI, "cron", "--date", "2026-11-03", "--no-mail"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert late.returncode == 0, late.stdout + late.stderr
    assert "invoicing 2026-10: 5 clients, 5 invoices created" in late.stdout
    assert invoice_facts(factory) == (5, 5, {D("4.90")})
    assert statuses(factory) == [("2026-10", "done")]
    next_day = subprocess.run([*CLI, "cron", "--date", "2026-11-04", "--no-mail"], env=env, capture_output=True,
                              text=True, timeout=120)
    assert next_day.returncode == 0 and "invoicing: skipped (every month is invoiced)" in next_day.stdout
    factory.kw["bind"].dispose()


def test_a_cron_killed_in_its_first_moments_on_the_first_is_made_good_the_next_day(backend_url, live_mock,
                                                                                    tmp_path):
    """kill -9 right after start on the 1st (whether or not it recorded its run): the 2nd finishes the month."""
    factory, ids = prepare(backend_url, live_mock, 5)
    backdate(factory)
    env = env_for(backend_url, live_mock, tmp_path)
    proc = subprocess.Popen([*CLI, "cron", "--date", "2026-11-01", "--no-mail"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # the interpreter is still importing: the run is not recorded yet
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert invoice_facts(factory)[0] == 0
    with factory() as s:
        assert s.scalar(select(InvoiceRun.status).where(InvoiceRun.status == "done")) is None
    nxt = subprocess.run([*CLI, "cron", "--date", "2026-11-02", "--no-mail"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert nxt.returncode == 0, nxt.stdout + nxt.stderr
    assert invoice_facts(factory) == (5, 5, {D("4.90")})
    assert statuses(factory)[-1] == ("2026-10", "done")
    factory.kw["bind"].dispose()


def test_the_cron_catches_up_several_months_oldest_first_within_the_horizon(world):
    with world.factory() as s, s.begin():
        s.add(InvoiceRun(period="2026-08", status="done", summary={}))
        s.add(InvoiceRun(period="2026-09", status="partial", summary={}))
    world.client("early@example.com")
    backdate(world.factory, date(2026, 5, 10))
    with world.factory() as s:
        # looking back 4 months from 2026-11-15: July, (August done), September, October
        assert cron.due_periods(s, date(2026, 11, 15), 4) == [(2026, 7), (2026, 9), (2026, 10)]
        assert cron.due_periods(s, date(2026, 11, 15), 1) == [(2026, 10)]
        assert cron.due_periods(s, date(2026, 11, 15)) == [(2026, 9), (2026, 10)]  # default: 3 months
    backdate(world.factory, date(2026, 10, 20))
    with world.factory() as s:  # July ended before the first client: nothing to bill, never looked at
        assert cron.due_periods(s, date(2026, 11, 15), 4) == [(2026, 9), (2026, 10)]  # September has a run


def test_a_fresh_install_does_not_invoice_history(world):
    world.client("new@example.com")  # created today (the real date), after every month of 2026-10 and before
    with world.factory() as s:
        assert cron.due_periods(s, date(2026, 11, 15), 12) == []
        assert cron.due_periods(s, date(2026, 11, 1), 12) == [(2026, 10)]  # the 1st: last month, as always


def test_the_cron_invoices_each_missed_month(world):
    from tests.invoicing.conftest import server, user

    cid = world.client("two@example.com")
    backdate(world.factory, date(2026, 8, 1))
    world.seed([user(1, cid)], [server(1, 1, "2026-09-01T00:00:00Z", "2026-10-30T04:00:00Z")],
               clock="2026-11-01T00:00:00Z")
    summary = cron.run_daily(settings_of(world.app), today=date(2026, 11, 20), session_factory=world.factory,
                             solus=world.solus)
    assert summary.ok, summary.render()
    assert [r.period for r in summary.runs] == ["2026-08", "2026-09", "2026-10"]
    assert {i.period: i.total for i in world.invoices()} == {"2026-09": D("5.00"), "2026-10": D("4.90")}


# --- 2. usage pages that are not the whole listing ----------------------------------------


EMPTY_PAGE = {"data": [], "links": {"next": None},
              "meta": {"current_page": 1, "last_page": 3, "per_page": 2, "total": 6}}


def test_an_empty_usage_page_that_claims_more_follow_invoices_nobody(backend_url, live_mock):
    factory, ids = prepare(backend_url, live_mock, 6)
    ctl = live_mock.control("default")
    ctl.faults.add(method="GET", path="/api/v1/usage", status=200, body=EMPTY_PAGE)
    summary = run(factory, solus_for(live_mock))
    assert not summary.ok and invoice_facts(factory)[0] == 0
    assert statuses(factory) == [("2026-10", "partial")]  # open: the cron finishes it later
    assert any("not invoiced, the next run will retry" in f for f in summary.failures)
    ctl.faults.clear()
    again = run(factory, solus_for(live_mock))
    assert again.ok and invoice_facts(factory) == (6, 6, {D("4.90")})
    assert statuses(factory)[-1] == ("2026-10", "done")
    factory.kw["bind"].dispose()


def test_a_transient_empty_page_is_asked_again_and_nothing_is_missing(backend_url, live_mock):
    """Once, page 1 of the usage answers 200 with no items while meta says 3 pages: the page is read again."""
    factory, ids = prepare(backend_url, live_mock, 6)
    ctl = live_mock.control("default")
    ctl.faults.add(method="GET", path="/api/v1/usage", status=200, body=EMPTY_PAGE, times=1)
    summary = run(factory, solus_for(live_mock))
    assert summary.ok, summary.render()
    assert summary.fetch_mode == "bulk" and invoice_facts(factory) == (6, 6, {D("4.90")})
    factory.kw["bind"].dispose()


def test_a_listing_whose_total_disagrees_never_makes_an_invoice_from_partial_usage(backend_url, live_mock):
    """One real item, but meta.total says 6: not even that item's client is invoiced from it."""
    factory, ids = prepare(backend_url, live_mock, 6)
    ctl = live_mock.control("default")
    first = solus_for(live_mock).request("GET", "usage", params={"date_from": "2026-10-01",
                                                                 "date_to": "2026-10-31", "per_page": 100})
    body = {"data": first["data"][:1], "links": {"next": None},
            "meta": {"current_page": 1, "last_page": 1, "per_page": 100, "total": 6}}
    ctl.faults.add(method="GET", path="/api/v1/usage", status=200, body=body)
    summary = run(factory, solus_for(live_mock), per_page=100)
    assert not summary.ok and invoice_facts(factory)[0] == 0
    assert "1 items where 6 were due" in summary.notes[0]
    assert statuses(factory) == [("2026-10", "partial")]
    factory.kw["bind"].dispose()


# --- the per-user fallback -----------------------------------------------------------------


def test_a_fallback_that_read_every_client_is_done_and_pages_at_the_configured_size(backend_url, live_mock):
    factory, ids = prepare(backend_url, live_mock, 5)
    ctl = live_mock.control("default")
    solus = solus_for(live_mock, retries=1)
    # The bulk listing's first page fails both tries; every later request succeeds.
    ctl.faults.add(method="GET", path="/api/v1/usage", status=503, times=2)
    # And one page of the user list fails once: it is retried, not the end of the run.
    ctl.faults.add(method="GET", path="/api/v1/users", status=503, times=1)
    summary = run(factory, solus, per_page=2)
    assert summary.fetch_mode == "per-user"
    assert summary.ok and summary.failure_count == 0, summary.render()
    assert statuses(factory) == [("2026-10", "done")]
    assert invoice_facts(factory) == (5, 5, {D("4.90")})
    pages = [r["query"] for r in ctl.journal.requests(method="GET", path="/api/v1/users")]
    assert pages and all("per_page=2" in q.split("&") for q in pages)
    factory.kw["bind"].dispose()


def test_the_cron_exits_0_after_a_complete_fallback(backend_url, live_mock, tmp_path):
    factory, ids = prepare(backend_url, live_mock, 3)
    ctl = live_mock.control("default")
    ctl.faults.add(method="GET", path="/api/v1/usage", status=503, times=2)  # 1 try + 1 retry of the bulk page
    env = env_for(backend_url, live_mock, tmp_path, BRIDGE_SOLUSVM_TIMEOUT="2", BRIDGE_USAGE_PER_PAGE="2",
                  BRIDGE_SOLUSVM_RETRIES="1")
    done = subprocess.run([*CLI, "cron", "--date", "2026-11-01", "--no-mail"], env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "usage fetched per-user" in done.stdout
    assert statuses(factory) == [("2026-10", "done")]
    factory.kw["bind"].dispose()


@pytest.mark.parametrize("body", [
    {"data": [], "meta": {"current_page": 1, "last_page": 2, "per_page": 2, "total": 3}},
    {"data": [], "links": {"next": "http://127.0.0.1/api/v1/users?page=2"}},
])
def test_an_empty_user_list_page_is_not_the_end_of_the_list(world, body):
    """The fallback's user list gets the same checks: an empty page while more follow fails the run."""
    from tests.invoicing.conftest import server, user

    cid = world.client("u@example.com")
    world.seed([user(1, cid)], [server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z")])
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=503, times=4)
    world.mock.faults.add(method="GET", path="/api/v1/users", status=200, body=body)
    summary = world.run()
    assert not summary.ok and world.invoices() == []
    with world.factory() as s:
        assert s.scalar(select(InvoiceRun.status)) == "failed"
