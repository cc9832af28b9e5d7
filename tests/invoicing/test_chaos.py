"""Chaos: the monthly cron under seeded faults on 20 % of SolusVM reads, then fault-free days.

Several seeds, each on a fresh database against the same live mock: 5xx, dropped
connections, answers around the client's timeout (just under and just over), truncated
JSON, and empty 200 pages that claim more pages follow. Whatever the faults did on the 1st,
once later crons have run without faults the invoices equal those of a fault-free run to the
minor unit, each client has one invoice, and the month's last run is ``done``.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bridge import db
from bridge.models import Client, Currency, Invoice, InvoiceRun
from bridge.services import catalogue, cron
from bridge.services.solusvm_client import SolusVMClient
from bridge.services.unit_of_work import make_session_factory
from bridge.settings import InvoicingSettings, Settings
from tests.invoicing.conftest import TOKEN, plan, server, user

CLIENTS = 18
PER_PAGE = 2
CONFIG = Settings(invoicing=InvoicingSettings(usage_per_page=PER_PAGE, due_days=14))
TIMEOUT = 0.3
ITEMS = CLIENTS + len(range(0, CLIENTS, 5))  # one usage item per server
# An empty page that otherwise looks like any page of the usage listing (a proxy that lost the body).
EMPTY_PAGE = {"data": [], "meta": {"last_page": -(-ITEMS // PER_PAGE), "per_page": PER_PAGE, "total": ITEMS}}


def world_doc() -> dict[str, Any]:
    """Clients with different plans, hours, deletions and extra IPs (and one SolusVM user with no client)."""
    plans = [plan(1, 7, 5000, 1, 500), plan(2, 3, 1500), plan(3, 0, 2000, name="monthly"), plan(4, 11, 0, 2, 0)]
    servers = []
    for i in range(CLIENTS):
        created = f"2026-10-{1 + i % 20:02d}T{i % 24:02d}:00:00Z"
        deleted = f"2026-10-{21 + i % 9:02d}T0{i % 10}:30:00Z" if i % 3 == 0 else None
        servers.append(server(i + 1, i + 1, created, deleted, plan_id=1 + i % 4, ips=i % 3))
        if i % 5 == 0:  # a second server for some
            servers.append(server(100 + i, i + 1, "2026-09-15T00:00:00Z", None, plan_id=1 + (i + 1) % 4))
    users = [user(i + 1, i + 1) for i in range(CLIENTS)] + [user(CLIENTS + 1, None)]
    return {"clock": "2026-11-01T00:00:00Z", "plans": plans, "users": users, "servers": servers}


def fresh_db(template: str, tmp_path: Any, name: str) -> Any:
    path = tmp_path / f"{name}.sqlite3"
    shutil.copy(template, path)
    factory = make_session_factory(db.make_engine(f"sqlite:///{path}"))
    with factory() as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="test")
        usd = s.scalar(select(Currency.id).where(Currency.code == "USD"))
        s.add_all([Client(email=f"c{i}@example.com", email_normalized=f"c{i}@example.com", currency_id=usd,
                          firstname=f"C{i}", lastname="Chaos", datecreated=date(2026, 10, 1))
                   for i in range(CLIENTS)])
    return factory


def invoices(factory: Any) -> dict[tuple[int, str], tuple[Decimal, tuple[tuple[str, Decimal], ...]]]:
    """Every invoice by (client, period): its total and its lines, to the minor unit."""
    with factory() as s:
        rows = s.scalars(select(Invoice).order_by(Invoice.id)).all()
        out = {(i.client_id, i.period): (i.total, tuple((it.description, it.amount) for it in i.items))
               for i in rows}
        assert len(out) == len(rows), "a client has two invoices for one month"
        return out


def solus_for(url: str) -> SolusVMClient:
    return SolusVMClient(url, TOKEN, retries=2, timeout=TIMEOUT, sleep=lambda _s: None)


def daily(factory: Any, url: str, day: int) -> cron.CronSummary:
    return cron.run_daily(CONFIG, today=date(2026, 11, day), session_factory=factory, solus=solus_for(url))


@pytest.fixture(scope="module")
def reference(sqlite_template: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """A live mock with the chaos world and the invoices of a fault-free run."""
    from mock_solusvm.server import MockServer

    srv = MockServer(port=0, api_tokens=[TOKEN]).__enter__()
    request.addfinalizer(lambda: srv.__exit__(None, None, None))
    srv.control("default").seed(world_doc())
    factory = fresh_db(sqlite_template, tmp_path_factory.mktemp("chaos"), "reference")
    summary = daily(factory, srv.url, 1)
    assert summary.ok, summary.render()
    expected = invoices(factory)
    assert {p for _, p in expected} == {"2026-10"}  # the clients were added on 1 October
    assert len(expected) == CLIENTS and len({v[0] for v in expected.values()}) > 5  # varied totals
    factory.kw["bind"].dispose()
    return srv, expected


# Seeds where the faults hit the usage listing in different ways (each fails without the
# completeness checks: an empty page read as "no usage" leaves invoices missing for good).
@pytest.mark.parametrize("seed", [1, 2, 7, 9, 12])
def test_monthly_cron_under_faults_then_fault_free_equals_a_fault_free_run(reference, sqlite_template, tmp_path,
                                                                           seed):
    srv, expected = reference
    ctl = srv.control("default")
    ctl.faults.clear()
    rules = [  # ≈ 20 % of GETs to SolusVM, each kind with its own seed
        dict(status=503, probability=0.04),
        dict(drop=True, probability=0.03),
        dict(delay=TIMEOUT + 0.1, probability=0.03),  # just over the timeout: the answer is lost
        dict(delay=TIMEOUT - 0.1, probability=0.02),  # just under: slow but fine
        dict(malformed=True, probability=0.03),
        dict(status=200, body=EMPTY_PAGE, path="/api/v1/usage", probability=0.05),  # empty, says more follow
    ]
    for n, rule in enumerate(rules):
        ctl.faults.add(method="GET", **{"path": "/api/v1/*", **rule}, seed=seed * 10 + n)
    factory = fresh_db(sqlite_template, tmp_path, f"seed-{seed}")
    try:
        first = daily(factory, srv.url, 1)
        hits = sum(r["hits"] for r in ctl.faults.list())
        assert hits > 0, "the faults never fired"
        # Whatever the 1st did, nothing it invoiced may differ from the reference.
        partial = invoices(factory)
        assert all(partial[c] == expected[c] for c in partial), first.render()
        ctl.faults.clear()
        day = 2
        while True:
            with factory() as s:
                if cron.needs_invoicing(s, date(2026, 11, day)) is None:
                    break
            later = daily(factory, srv.url, day)
            assert later.ok, later.render()  # fault-free: the month completes
            day += 1
            assert day < 5
        assert invoices(factory) == expected
        with factory() as s:
            last = s.scalars(select(InvoiceRun).order_by(InvoiceRun.id.desc())).first()
            assert (last.period, last.status) == ("2026-10", "done")
    finally:
        ctl.faults.clear()
        factory.kw["bind"].dispose()
