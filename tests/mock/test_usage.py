"""GET /usage through the API (both modes) and the usage arithmetic as unit and property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_solusvm.usage import server_usage

from .conftest import seed_doc

T0 = "2026-10-01T00:00:00Z"


def srv(sid, plan, created, deleted=None, user=1, ips=0):
    return {"id": sid, "name": f"s{sid}", "user_id": user, "plan_id": plan, "location_id": 1,
            "created_at": created, "deleted_at": deleted, "additional_ip_count": ips}


def usage(mock, **params):
    r = mock.get("/usage", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def by_server(body):
    return {item["server"]["id"]: item for item in body["data"]}


def test_seed_cap_examples_700h_and_730h(mock):
    mock.ctl.seed(seed_doc(clock="2026-11-05T00:00:00Z", servers=[
        srv(1, 1, T0, "2026-10-30T04:00:00Z"),  # 700 h
        srv(2, 1, T0, "2026-10-31T10:00:00Z"),  # 730 h
    ]))
    items = by_server(usage(mock, date_from="2026-10-01", date_to="2026-10-31"))
    assert (items[1]["hours"], items[1]["tokens"], items[1]["monthly_cap_applied"]) == (700, 4900, False)
    assert (items[2]["hours"], items[2]["tokens"], items[2]["monthly_cap_applied"]) == (730, 5000, True)
    assert items[1]["server"]["is_deleted"] is True and items[1]["total_tokens"] == 4900
    assert items[1]["period"] == {"from": "2026-10-01", "to": "2026-10-31"}
    assert items[1]["user"] == {"id": 1, "email": "ann@example.com", "billing_user_id": 1}


def test_five_minutes_is_one_hour(mock):
    mock.ctl.seed(seed_doc(clock="2026-10-02T00:00:00Z",
                           servers=[srv(1, 1, "2026-10-01T10:00:00Z", "2026-10-01T10:05:00Z")]))
    item = usage(mock, date_from="2026-10-01", date_to="2026-10-31")["data"][0]
    assert (item["hours"], item["tokens"]) == (1, 7)


def test_hourly_only_and_fixed_monthly(mock):
    mock.ctl.seed(seed_doc(clock="2026-11-01T00:00:00Z", servers=[
        srv(1, 2, T0),  # 3 tokens/h, no cap: whole October = 744 h
        srv(2, 3, "2026-10-31T23:00:00Z"),  # monthly fixed 4000, even for one hour
    ]))
    items = by_server(usage(mock, date_from="2026-10-01", date_to="2026-10-31"))
    assert (items[1]["hours"], items[1]["tokens"], items[1]["monthly_cap_applied"]) == (744, 744 * 3, False)
    assert (items[2]["hours"], items[2]["tokens"]) == (1, 4000)


def test_server_crossing_a_month_boundary_is_capped_per_month(mock):
    mock.ctl.seed(seed_doc(clock="2026-12-01T00:00:00Z", servers=[
        srv(1, 1, "2026-10-31T23:30:00Z", "2026-11-01T00:30:00Z"),
        srv(2, 1, "2026-10-02T00:00:00Z"),  # runs on: capped in Oct and in Nov
    ]))
    oct_items = by_server(usage(mock, date_from="2026-10-01", date_to="2026-10-31"))
    nov_items = by_server(usage(mock, date_from="2026-11-01", date_to="2026-11-30"))
    both = by_server(usage(mock, date_from="2026-10-01", date_to="2026-11-30"))
    assert (oct_items[1]["hours"], nov_items[1]["hours"], both[1]["hours"]) == (1, 1, 2)
    assert both[1]["tokens"] == 14
    assert oct_items[2]["tokens"] == nov_items[2]["tokens"] == 5000
    assert both[2]["tokens"] == 10000 and both[2]["monthly_cap_applied"] is True


def test_running_month_counts_up_to_the_virtual_clock(mock):
    mock.ctl.seed(seed_doc(servers=[srv(1, 1, T0, ips=2)]))
    assert usage(mock)["data"] == []  # nothing has run yet at T0
    mock.ctl.clock.advance(hours=10, minutes=1)
    item = usage(mock)["data"][0]
    assert (item["hours"], item["tokens"]) == (11, 77)
    assert item["additional_ips"] == {"count": 2, "hours": 11, "tokens": 22}
    assert item["total_tokens"] == 99 and item["backups"] == {"tokens": 0}


def test_filters_and_paging(mock):
    servers = [srv(i, 1, T0, user=1 + i % 2) for i in range(1, 21)]
    mock.ctl.seed(seed_doc(clock="2026-10-10T00:00:00Z", servers=servers))
    assert usage(mock)["meta"]["total"] == 20
    mine = usage(mock, **{"filter[user_id]": 2, "per_page": 4})
    assert mine["meta"]["total"] == 10 and len(mine["data"]) == 4
    assert "filter%5Buser_id%5D=2" in mine["links"]["next"]
    assert usage(mock, **{"filter[billing_user_id]": 1})["meta"]["total"] == 10
    assert usage(mock, date_from="2026-09-01", date_to="2026-09-30")["data"] == []


def test_a_write_between_two_page_reads_is_seen(mock):
    """Pages are slices of a listing computed once per state version: every write shows at once."""
    mock.ctl.seed(seed_doc(clock="2026-10-10T00:00:00Z", servers=[srv(i, 1, T0) for i in (1, 2, 3)]))
    first = usage(mock, per_page=2)
    assert [i["server"]["is_deleted"] for i in first["data"]] == [False, False]
    assert mock.delete("/servers/2").status_code == 200  # an API write between two page reads
    assert usage(mock, per_page=2, page=2)["data"][0]["server"]["id"] == 3
    again = usage(mock, per_page=2)
    assert [i["server"]["is_deleted"] for i in again["data"]] == [False, True]
    assert again["data"][1]["server"]["deleted_at"] == "2026-10-10T00:00:00.000000Z"

    r = mock.patch("/users/2", json={"billing_user_id": 1})  # the owner's billing id enters the items
    assert r.status_code == 200, r.text
    assert usage(mock, **{"filter[billing_user_id]": 1})["meta"]["total"] == 3  # server 1-3 are user 1's
    mock.ctl.seed(seed_doc(clock="2026-10-10T00:00:00Z", servers=[srv(1, 1, T0, user=2)]))  # a control write
    assert usage(mock, **{"filter[billing_user_id]": 1})["meta"]["total"] == 0
    assert usage(mock, **{"filter[billing_user_id]": 2})["meta"]["total"] == 1


def test_the_clock_moving_between_two_page_reads_is_seen(mock):
    mock.ctl.seed(seed_doc(servers=[srv(1, 1, T0), srv(2, 1, T0)]))
    assert usage(mock, per_page=1)["data"] == []
    mock.ctl.clock.advance(hours=2)
    assert [i["hours"] for i in usage(mock, per_page=1, page=2)["data"]] == [2]
    assert [i["hours"] for i in usage(mock, per_page=1)["data"]] == [2]


@pytest.mark.parametrize("params", [
    {"date_from": "2026-13-01"}, {"date_from": "yesterday"}, {"date_to": "2026-10-1"},
    {"date_from": "2026-10-10", "date_to": "2026-10-01"}, {"filter[user_id]": "x"},
    {"date_from": "0001-01-01", "date_to": "9999-12-31"}, {"date_from": "2000-01-01", "date_to": "2026-01-01"},
])
def test_bad_usage_queries_are_422(mock, params):
    r = mock.get("/usage", params=params)
    assert r.status_code == 422 and r.json()["errors"]


def test_usage_is_admin_only(mock):
    assert mock.as_token(mock.user_token(1)).get(mock.url("/usage")).status_code == 403


def test_metrics_endpoints(mock):
    s = mock.post("/servers", json={"name": "m", "plan": 1, "user": 1}).json()["data"]
    for kind, key in (("cpu", "load_average"), ("memory", "memory"), ("network", "derivative"),
                      ("disks", "derivative")):
        items = mock.get(f"/usage/{kind}/{s['uuid']}").json()["data"]["items"]
        assert items and key in items[0] and "time" in items[0]
    assert mock.get("/usage/cpu/no-such-uuid").status_code == 404
    assert mock.get(f"/usage/gpu/{s['uuid']}").status_code == 404


# --- unit and property tests of the arithmetic ------------------------------------------

PLAN = {"tokens_per_hour": 7, "tokens_per_month": 5000, "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500}
OCT = datetime(2026, 10, 1, tzinfo=UTC)


def _server(start, end, ips=0):
    return {"created_at": start, "deleted_at": end, "additional_ip_count": ips}


def test_unit_cap_and_ip_cap():
    u = server_usage(_server(OCT, None, ips=3), PLAN, OCT, OCT + timedelta(days=31))
    assert u["hours"] == 744 and u["tokens"] == 5000 and u["monthly_cap_applied"]
    assert u["additional_ips"] == {"count": 3, "hours": 744, "tokens": 3 * 500}


@given(start=st.integers(0, 60 * 24 * 60), length=st.integers(1, 60 * 24 * 70))
def test_property_months_sum_to_the_whole_and_never_exceed_caps(start, length):
    s = OCT + timedelta(minutes=start)
    e = s + timedelta(minutes=length)
    lo, hi = OCT, datetime(2027, 1, 1, tzinfo=UTC)
    whole = server_usage(_server(s, e), PLAN, lo, hi)
    parts = [server_usage(_server(s, e), PLAN, a, b) for a, b in (
        (lo, datetime(2026, 11, 1, tzinfo=UTC)), (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        (datetime(2026, 12, 1, tzinfo=UTC), hi))]
    assert whole["tokens"] == sum(p["tokens"] for p in parts)
    assert whole["hours"] == sum(p["hours"] for p in parts)
    assert all(p["tokens"] <= 5000 and p["tokens"] <= 7 * p["hours"] for p in parts)
    if e <= hi:  # at least the started hours of the lifetime (month splits can only add)
        assert whole["hours"] >= -(-length // 60)


def test_backend_cached_keeps_a_listing_until_the_lock_is_taken_for_a_write():
    from mock_solusvm.state import Backend

    b, calls = Backend(), []

    def compute():
        calls.append(1)
        return [len(calls)]

    assert b.cached("k", compute) == [1] and b.cached("k", compute) == [1]
    with b.lock.held_quietly():  # a reader does not invalidate
        pass
    assert b.cached("k", compute) == [1]
    with b.lock:  # a hand edit of the records goes under the lock, which moves the version
        pass
    assert b.cached("k", compute) == [2]
    b.seed({"users": []})
    assert b.cached("k", compute) == [3] and len(calls) == 3
