"""The daily cron (service level), the usage adapter's cap-rule check, and usage so far."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from bridge.flask_glue import settings_of
from bridge.models import Client, RateLimitCounter, WebSession
from bridge.services import cron, invoicing, locks
from bridge.services.usage import check_item, parse_item
from tests.invoicing.conftest import server, user

OCT, DEL_700 = "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z"


def daily(world, day: date, **kw):
    return cron.run_daily(settings_of(world.app).with_values(kw), today=day, session_factory=world.factory,
                          solus=world.solus)


def one_client(world):
    cid = world.client("cron@example.com")
    world.seed([user(1, cid)], [server(1, 1, OCT, DEL_700)])
    return cid


def test_cron_invoices_the_previous_month_on_the_first(world):
    cid = one_client(world)
    summary = daily(world, date(2026, 11, 1))
    assert summary.ok, summary.render()
    # overdue first (it queues status changes), then the outbox sends them, then invoicing
    assert [(s.name, s.status) for s in summary.steps] == [("overdue", "ok"), ("outbox", "ok"), ("invoicing", "ok"),
                                                           ("housekeeping", "ok")]
    assert summary.invoicing.period == "2026-10"
    [inv] = world.invoices()
    assert (inv.client_id, inv.period, inv.total) == (cid, "2026-10", D("4.90"))
    # the next day there is nothing to do
    later = daily(world, date(2026, 11, 2))
    assert {s.name: s.status for s in later.steps}["invoicing"] == "skipped" and later.invoicing is None


def test_cron_on_another_day_does_not_invoice(world):
    one_client(world)
    summary = daily(world, date(2026, 11, 15))
    assert summary.invoicing is None and world.invoices() == []


def test_an_incomplete_run_on_the_first_is_finished_the_next_day(world):
    cid = one_client(world)
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=503, times=8)
    first = daily(world, date(2026, 11, 1))
    assert not first.ok and world.invoices() == []
    second = daily(world, date(2026, 11, 2))
    assert second.ok and second.invoicing.period == "2026-10"
    assert [i.client_id for i in world.invoices()] == [cid]
    assert daily(world, date(2026, 11, 3)).invoicing is None  # done now


def test_cron_builds_its_own_engine_from_the_config(world):
    one_client(world)
    summary = cron.run_daily(settings_of(world.app), today=date(2026, 11, 1), solus=world.solus)
    assert summary.ok and len(world.invoices()) == 1


def test_cron_refuses_to_run_while_another_holds_the_lock(world):
    one_client(world)
    with locks.run_lock(world.factory.kw["bind"], "cron"):
        with pytest.raises(locks.LockHeld, match="another cron run holds the lock"):
            daily(world, date(2026, 11, 1))
    assert world.invoices() == []


def test_the_lock_is_free_again_after_a_run(world):
    engine = world.factory.kw["bind"]
    with locks.run_lock(engine, "cron"):
        pass
    with locks.run_lock(engine, "cron"), pytest.raises(locks.LockHeld):  # and it excludes
        with locks.run_lock(engine, "cron"):
            pass


ITEM = {"user": {"id": 3, "email": "a@example.com", "billing_user_id": "12"},
        "server": {"id": 9, "name": "vm", "is_deleted": False, "deleted_at": None},
        "plan": {"id": 1, "name": "p", "tokens_per_hour": 7, "tokens_per_month": 5000,
                 "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500},
        "hours": 700, "tokens": 4900, "monthly_cap_applied": False,
        "additional_ips": {"count": 2, "hours": 700, "tokens": 1000}, "backups": {"tokens": 0},
        "total_tokens": 5900}


def test_a_consistent_item_parses_cleanly():
    item = parse_item(ITEM)
    assert item.billing_user_id == 12  # SolusVM may send it as a numeric string
    assert check_item(item, 2026, 10) == ()


@pytest.mark.parametrize(("change", "message"), [
    ({"tokens": 5000, "total_tokens": 6000}, "SolusVM says 5000 tokens, the cap rule gives 4900"),
    ({"monthly_cap_applied": True}, "monthly_cap_applied is True"),
    ({"hours": 745, "tokens": 5000, "monthly_cap_applied": True, "total_tokens": 6000},
     "745 h is more than the 744 h of 2026-10"),
    ({"additional_ips": {"count": 2, "hours": 700, "tokens": 700}, "total_tokens": 5600},
     "SolusVM says 700 IP tokens, the cap rule gives 1000"),
    ({"total_tokens": 1}, "total_tokens 1 is not tokens + IP + backup tokens"),
])
def test_disagreements_with_the_cap_rule_are_named(change, message):
    problems = check_item(parse_item({**ITEM, **change}), 2026, 10)
    assert any(message in p for p in problems), problems


def test_usage_so_far_prices_the_running_month(world):
    cid = world.client("now@example.com")
    with world.factory() as s, s.begin():
        s.get(Client, cid).solusvm_user_id = 1
    world.seed([user(1, cid)], [server(1, 1, OCT, name="live")], clock="2026-10-15T12:00:00Z")
    with world.factory() as s:
        proj = invoicing.usage_so_far(s, world.solus, cid, now=datetime(2026, 10, 15, 12, tzinfo=UTC))
    [line] = proj.lines
    # 14 days 12 h = 348 h × 7 = 2436 tokens × 0.001 = 2.436 → 2.44 USD
    assert (line.server_name, line.hours, line.tokens, line.amount) == ("live", 348, 2436, D("2.44"))
    assert proj.total == D("2.44") and proj.currency["code"] == "USD" and proj.currency["decimals"] == 2


def test_usage_so_far_is_empty_for_a_client_not_linked_yet(world):
    cid = world.client("new@example.com")
    with world.factory() as s:
        proj = invoicing.usage_so_far(s, world.solus, cid, now=datetime(2026, 10, 15, tzinfo=UTC))
    assert proj.lines == [] and proj.total == D("0.00")


def test_cron_reports_every_step_in_its_summary(world):
    one_client(world)
    summary = daily(world, date(2026, 11, 1))
    text = summary.render()
    assert text.startswith("cron 2026-11-01: ok")
    for name in ("outbox", "overdue", "invoicing"):
        assert f"  {name}: " in text
    assert "invoicing 2026-10: 1 clients, 1 invoices created" in text


def test_cron_deletes_expired_rate_limit_windows_and_web_sessions(world):
    # Nothing else removes them: without this step both tables grow with every failed log-in
    # and every session, for ever.
    now = int(datetime.now(UTC).timestamp())
    with world.factory() as s, s.begin():
        s.add_all([RateLimitCounter(key="login:old", window_start=now - 3 * 86400, count=9),
                   RateLimitCounter(key="login:day", window_start=now - 86400, count=3),  # still read
                   WebSession(id="a" * 64, kind="client", account_id=1, created_at=now - 9 * 3600),
                   WebSession(id="b" * 64, kind="client", account_id=1, created_at=now - 60)])
    summary = daily(world, date(2026, 11, 2))
    assert {s.name: s.status for s in summary.steps}["housekeeping"] == "ok"
    with world.factory() as s:
        assert s.scalars(select(RateLimitCounter.key)).all() == ["login:day"]
        assert s.scalars(select(WebSession.id)).all() == ["b" * 64]  # the 8 h lifetime ended only the old one

