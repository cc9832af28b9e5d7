"""Overdue invoices lock then suspend the SolusVM user; paying makes it active; admin holds win."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bridge.flask_glue import settings_of
from bridge.models import Client, ClientGroup
from bridge.services import invoices, outbox, overdue, provisioning
from bridge.settings import OverdueSettings, SettingsError
from tests.users.conftest import session_of

DUE = date(2026, 10, 15)


@pytest.fixture
def enrolled(app: Any, api: Any, make_client: Any, mock: Any) -> int:
    cid = make_client()
    assert api("SolusVMEnrollClient", clientid=cid)["enrolled"] is True
    with session_of(app) as s, s.begin():
        invoices.create_invoice(s, cid, [{"description": "October usage", "amount": Decimal("12.50"),
                                          "taxed": False}], date=date(2026, 10, 1), duedate=DUE,
                                period="2026-09", actor="test")
    return cid


def run_cron(app: Any, factory: Any, solus: Any, today: date, **config: Any) -> overdue.OverdueReport:
    """The overdue and outbox steps of the daily cron for ``today``."""
    with session_of(app) as s, s.begin():
        report = overdue.apply_rules(s, today=today, settings=settings_of(app).with_values(config).overdue)
    outbox.apply_pending(factory, solus)
    return report


def solus_status(app: Any, mock: Any, cid: int) -> str:
    with session_of(app) as s:
        return mock.backend.users[s.get(Client, cid).solusvm_user_id]["status"]


def test_lock_then_suspend_then_payment_reactivates(app, api, factory, solus, mock, enrolled):
    """Driven by the mock's clock: each "day" the cron runs with today = the mock's date."""
    cid = enrolled
    mock.clock.set(f"{DUE.isoformat()}T03:00:00Z")
    mock.clock.freeze()

    def day(n: int) -> overdue.OverdueReport:
        mock.clock.set(f"{(DUE + timedelta(days=n)).isoformat()}T03:00:00Z")
        return run_cron(app, factory, solus, mock.clock.now().date())

    r = day(6)
    assert r.locked == [] and solus_status(app, mock, cid) == "active"
    r = day(7)
    assert r.locked == [cid] and solus_status(app, mock, cid) == "locked"
    r = day(8)
    assert r.locked == [] and r.unchanged == 1  # nothing new: no second change queued
    r = day(14)
    assert r.suspended == [cid] and solus_status(app, mock, cid) == "suspended"
    puts = [(x["at"][:10], x["body"]) for x in mock.journal.requests(method="PUT") if x["status"] == 200]
    assert puts == [(str(DUE + timedelta(days=7)), {"status": "locked"}),
                    (str(DUE + timedelta(days=14)), {"status": "suspended"})]

    with session_of(app) as s:
        inv_id = s.scalars(invoices.select(invoices.Invoice.id)).one()
    body = api("AddInvoicePayment", invoiceid=inv_id, transid="T1", gateway="banktransfer")
    assert body["result"] == "success", body
    assert solus_status(app, mock, cid) == "active"  # applied right after the payment committed


def test_thresholds_come_from_config(app, factory, solus, mock, enrolled):
    cfg = {"OVERDUE_LOCK_DAYS": 2, "OVERDUE_SUSPEND_DAYS": 3}
    assert run_cron(app, factory, solus, DUE + timedelta(days=2), **cfg).locked == [enrolled]
    assert run_cron(app, factory, solus, DUE + timedelta(days=3), **cfg).suspended == [enrolled]
    with pytest.raises(SettingsError, match="OVERDUE_LOCK_DAYS must be a whole number >= 0"):
        settings_of(app).with_values({"OVERDUE_LOCK_DAYS": -1})
    assert settings_of(app).with_values({"OVERDUE_LOCK_DAYS": 9, "OVERDUE_SUSPEND_DAYS": 4}).overdue.thresholds == (9, 9)


def test_admin_lock_outlasts_payment(app, api, factory, solus, mock, enrolled):
    cid = enrolled
    run_cron(app, factory, solus, DUE + timedelta(days=7))
    assert api("SolusVMLockClient", clientid=cid, reason="abuse report")["solusvm_status"] == "locked"
    with session_of(app) as s:
        inv_id = s.scalars(invoices.select(invoices.Invoice.id)).one()
    assert api("AddInvoicePayment", invoiceid=inv_id, transid="T1", gateway="banktransfer")["result"] == "success"
    assert solus_status(app, mock, cid) == "locked"
    state = api("SolusVMSyncStatus", clientid=cid)
    assert state["reason"] == "abuse report"


def test_admin_release_waives_current_stage_until_it_worsens(app, api, factory, solus, mock, enrolled):
    cid = enrolled
    run_cron(app, factory, solus, DUE + timedelta(days=7))
    assert solus_status(app, mock, cid) == "locked"
    assert api("SolusVMUnlockClient", clientid=cid)["solusvm_status"] == "active"
    run_cron(app, factory, solus, DUE + timedelta(days=8))
    assert solus_status(app, mock, cid) == "active"  # the cron does not undo the admin the next day
    run_cron(app, factory, solus, DUE + timedelta(days=14))
    assert solus_status(app, mock, cid) == "suspended"  # but a worse stage applies


def test_exempt_group_is_never_locked(app, factory, solus, mock, enrolled):
    with session_of(app) as s, s.begin():
        group = ClientGroup(name="VIP", susp_term_exempt=True)
        s.add(group)
        s.flush()
        s.get(Client, enrolled).group_id = group.id
    r = run_cron(app, factory, solus, DUE + timedelta(days=30))
    assert r.suspended == [] and solus_status(app, mock, enrolled) == "active"


def test_desired_status_reasons(app, enrolled):
    with session_of(app) as s, s.begin():
        overdue.apply_rules(s, today=DUE + timedelta(days=20), settings=OverdueSettings())
        client = s.get(Client, enrolled)
        status, reason = provisioning.status_and_reason(s, client)
        assert status == "suspended" and "days overdue" in reason


def test_daily_cron_locks_the_same_day(app, api, factory, solus, mock, enrolled, make_client):
    """The cron's overdue step queues the lock; its outbox step, which runs next, sends it in the
    same run, together with an older change still waiting for a retry."""
    from bridge.services import cron

    other = make_client()
    assert api("SolusVMEnrollClient", clientid=other)["enrolled"] is True
    mock.faults.add(method="PATCH", path="/api/v1/users/*", status=503, times=1)
    assert api("UpdateClient", clientid=other, email="other-renamed@example.com")["result"] == "success"
    with session_of(app) as s, s.begin():  # the failed attempt's backoff has passed by the cron's run
        [waiting] = [c for c in outbox.pending_changes(s, other) if c.kind == "email"]
        assert waiting.status == "pending" and waiting.attempts == 1
        waiting.next_attempt_at = None
    assert solus_status(app, mock, enrolled) == "active"

    summary = cron.run_daily(settings_of(app), today=DUE + timedelta(days=7), session_factory=factory, solus=solus)
    assert summary.ok, summary.render()
    assert solus_status(app, mock, enrolled) == "locked", summary.render()
    assert [s.name for s in summary.steps] == ["overdue", "outbox", "invoicing", "housekeeping"]
    steps = {s.name: s.detail for s in summary.steps}
    assert steps["overdue"].startswith("locked 1,")
    assert steps["outbox"] == "applied 2, failed 0, pending 0"
    with session_of(app) as s:
        uid = s.get(Client, other).solusvm_user_id
        assert outbox.pending_changes(s) == []
    assert mock.backend.users[uid]["email"] == "other-renamed@example.com"


def test_only_invoices_that_still_owe_money_count(app, factory, solus, mock, enrolled):
    """An Unpaid row whose balance is 0 (legacy data, credit covering it) locks nobody;
    a partly paid one still does."""
    cid = enrolled
    with session_of(app) as s, s.begin():
        inv = s.scalars(invoices.select(invoices.Invoice)).one()
        inv.credit = inv.total  # covered, as rows written before invoices settled themselves
    assert run_cron(app, factory, solus, DUE + timedelta(days=20)).locked == []
    assert solus_status(app, mock, cid) == "active"
    with session_of(app) as s, s.begin():
        inv = s.scalars(invoices.select(invoices.Invoice)).one()
        inv.credit = inv.total - Decimal("0.01")
        assert inv.status == "Unpaid"
    assert run_cron(app, factory, solus, DUE + timedelta(days=20)).suspended == [cid]
    assert solus_status(app, mock, cid) == "suspended"


def test_a_zero_invoice_from_invoicing_keeps_the_configured_overdue_hold(app, api, factory, solus, mock,
                                                                          make_client):
    """Invoicing settles a zero invoice at once (Paid), which re-evaluates the overdue hold: it
    must use the configured thresholds, not the defaults, or the user flips locked/active."""
    import time_machine

    from bridge.services import invoicing

    cfg = {"OVERDUE_LOCK_DAYS": 3, "OVERDUE_SUSPEND_DAYS": 30, "INVOICE_EMPTY": True}
    cid = make_client()
    assert api("SolusVMEnrollClient", clientid=cid)["enrolled"] is True
    with session_of(app) as s, s.begin():
        s.get(Client, cid).enrolled_at = datetime(2026, 8, 1, tzinfo=UTC)
        invoices.create_invoice(s, cid, [{"description": "manual", "amount": Decimal("9.00"), "taxed": False}],
                                date=date(2026, 10, 1), duedate=DUE, actor="test")
    today = DUE + timedelta(days=5)  # overdue for 5 days: locked with 3, not yet with the default 7
    assert run_cron(app, factory, solus, today, **cfg).locked == [cid]
    with time_machine.travel(datetime(2026, 10, 20, 12, tzinfo=UTC), tick=False):
        summary = invoicing.generate_period(factory, solus, 2026, 9, settings=settings_of(app).with_values(cfg))
    assert summary.empty_invoices == 1
    with session_of(app) as s:
        zero = s.scalars(invoices.select(invoices.Invoice).where(invoices.Invoice.period == "2026-09")).one()
        assert zero.status == "Paid" and zero.total == 0
        assert provisioning.holds(s, cid)["overdue"] == "locked"
    outbox.apply_pending(factory, solus)
    assert solus_status(app, mock, cid) == "locked"
