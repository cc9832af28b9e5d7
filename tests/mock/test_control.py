"""Control API: seed, reset, state dump/restore, clock, faults, journal, namespace isolation."""

from __future__ import annotations

import concurrent.futures
import time

import pytest
import requests

from mock_solusvm.client import ControlError

from .conftest import ADMIN, seed_doc


def test_reset_goes_back_to_the_default_fixture(mock):
    mock.post("/users", json={"email": "x@example.com", "password": "p"})
    mock.ctl.faults.add(method="GET", path="/api/v1/plans", status=500)
    mock.ctl.reset()
    assert mock.get("/users").json()["meta"]["total"] == 0
    assert mock.get("/plans").status_code == 200 and mock.ctl.faults.list() == []
    assert mock.get("/roles").json()["meta"]["total"] == 2


def test_seed_sets_clock_frozen_and_rejects_bad_documents(mock):
    assert mock.ctl.clock.now().isoformat() == "2026-10-01T00:00:00+00:00"
    for bad in ({"users": [{"email": "a@b.c"}, {"email": "A@b.c"}]}, {"users": "nope"},
                {"servers": [{"user_id": 5, "plan_id": 1}]}, {"clock": "tomorrow"}, {"plans": [{"id": 1}]},
                {"settings": "x"}, {"settings": {"billing_integration": {"type": "custom", "drivers": {"custom": {"url": 5}}}}},
                {"plans": [{"name": "p", "params": "x"}]}, {"users": [{"email": "a@b.c", "roles": "ab"}]},
                {"users": [{"id": -5, "email": "n@b.c"}]}, {"users": [{"id": "7", "email": "n@b.c"}]},
                {"plans": [{"name": "p", "tokens_per_hour": 1e300}]}, {"servers": [{"id": 0, "user_id": 1, "plan_id": 1}]}):
        with pytest.raises(ControlError) as err:
            mock.ctl.seed(bad)
        assert err.value.status == 422 and err.value.body["message"]
    assert mock.get("/users").json()["meta"]["total"] == 0  # a refused seed leaves the default fixture


def test_state_dump_and_restore_round_trip(mock):
    mock.post("/servers", json={"name": "keep", "plan": 1, "user": 1})
    tok = mock.user_token(1)
    dump = mock.ctl.state()
    assert dump["format"] == "mock-solusvm-state" and dump["version"] == 1
    mock.post("/servers", json={"name": "later", "plan": 1, "user": 1})
    mock.delete("/users/2")
    mock.ctl.restore(dump)
    assert [s["name"] for s in mock.get("/servers").json()["data"]] == ["keep"]
    assert mock.get("/users/2").status_code == 200
    assert mock.as_token(tok).get(mock.url("/account")).status_code == 200  # tokens survive as digests
    assert mock.post("/servers", json={"name": "n", "plan": 1, "user": 1}).json()["data"]["id"] == 2
    with pytest.raises(ControlError):
        mock.ctl.restore({**dump, "version": 99})
    with pytest.raises(ControlError):
        mock.ctl.restore({"format": "mock-solusvm-state", "version": 1})
    broken = {**dump, "users": [{"id": 1}]}
    with pytest.raises(ControlError) as err:
        mock.ctl.restore(broken)
    assert err.value.status == 422
    orphan = {**dump, "users": [u for u in dump["users"] if u["id"] != 1]}
    with pytest.raises(ControlError):
        mock.ctl.restore(orphan)  # server 1 would point at a missing user
    assert mock.get("/users").json()["meta"]["total"] == 2  # refused restores change nothing


def test_clock_set_advance_freeze(mock):
    c = mock.ctl.clock
    c.set("2026-10-05T12:00:00Z")
    c.advance(days=1, hours=2)
    assert c.now().isoformat() == "2026-10-06T14:00:00+00:00"
    assert c.unfreeze()["frozen"] is False
    assert c.freeze()["frozen"] is True
    frozen_at = c.now()
    time.sleep(0.01)
    assert c.now() == frozen_at
    with pytest.raises(ControlError):
        c.advance(fortnights=1)
    with pytest.raises(ControlError):
        c.advance(days=10**9)
    with pytest.raises(ControlError):
        c.set("not a date")
    with pytest.raises(ControlError):
        c.set("9999-12-31T23:59:59Z")  # would overflow once the clock runs
    with pytest.raises(ControlError):
        c.advance(days=3_000_000)
    assert c.now().isoformat() == frozen_at.isoformat()


def test_fault_status_body_times(mock):
    mock.ctl.faults.add(method="POST", path="/api/v1/users", status=503, body={"message": "busy"}, times=2)
    bodies = [mock.post("/users", json={"email": "f@example.com", "password": "p"}) for _ in range(3)]
    assert [r.status_code for r in bodies] == [503, 503, 201]
    assert bodies[0].json() == {"message": "busy"}
    assert mock.ctl.faults.list()[0]["remaining"] == 0 and mock.ctl.faults.list()[0]["hits"] == 2
    assert mock.get("/users").status_code == 200  # other method untouched


def test_fault_glob_headers_and_text_body(mock):
    mock.ctl.faults.add(path="/api/v1/users/*", status=429, body="slow down", headers={"Retry-After": "3"})
    r = mock.get("/users/1")
    assert r.status_code == 429 and r.text == "slow down" and r.headers["Retry-After"] == "3"
    mock.ctl.faults.clear()
    assert mock.get("/users/1").status_code == 200


def test_fault_malformed_json(mock):
    mock.ctl.faults.add(method="GET", path="/api/v1/users", malformed=True, times=1)
    r = mock.get("/users")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        r.json()


def test_fault_drop_connection(mock):
    mock.ctl.faults.add(method="GET", path="/api/v1/plans", drop=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        mock.get("/plans")
    assert mock.get("/plans").status_code == 200


def test_fault_delay_then_normal_answer(mock):
    mock.ctl.faults.add(method="GET", path="/api/v1/plans", delay=0.01, times=1)
    assert mock.get("/plans").status_code == 200
    assert mock.ctl.journal.requests(path="/api/v1/plans")[0]["fault"] is not None


def test_fault_probability_is_reproducible_with_a_seed(mock):
    def run():
        mock.ctl.faults.clear()
        mock.ctl.faults.add(method="GET", path="/api/v1/roles", status=500, probability=0.5, seed=7)
        return [mock.get("/roles").status_code for _ in range(12)]

    first = run()
    assert first == run() and set(first) == {200, 500}


@pytest.mark.parametrize("spec", [{}, {"status": 99}, {"status": "500"}, {"delay": -1}, {"times": 0},
                                  {"probability": 2, "status": 500}, {"status": 500, "drop": "yes"}])
def test_bad_fault_specs_are_422(mock, spec):
    r = requests.post(f"{mock.base}/__mock/faults", json=spec, headers={"X-Mock-Namespace": mock.namespace})
    assert r.status_code == 422 and r.json()["errors"]


def test_journal_records_redacts_counts_and_clears(mock):
    mock.ctl.journal.clear()
    mock.post("/users", json={"email": "j@example.com", "password": "secret-pw"})
    mock.get("/users", params={"filter[search]": "j@"})
    entries = mock.ctl.journal.requests()
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/api/v1/users", 201), ("GET", "/api/v1/users", 200)]
    assert entries[0]["body"]["password"] == "<redacted>"
    assert entries[0]["headers"]["Authorization"] == "<redacted>"
    assert entries[1]["query"] == "filter%5Bsearch%5D=j%40"
    assert mock.ctl.journal.count(method="post") == 1 and mock.ctl.journal.count(path="/api/v1/*") == 2
    mock.ctl.journal.clear()
    assert mock.ctl.journal.count() == 0


def test_namespaces_are_isolated_on_one_live_server(live_server):
    a, b = live_server.control("iso-a"), live_server.control("iso-b")
    a.seed(seed_doc())
    b.seed(seed_doc(users=[{"id": 9, "email": "only-b@example.com"}], clock="2030-01-01T00:00:00Z"))
    a.faults.add(method="GET", path="/api/v1/users", status=500)
    a.clock.advance(days=3)

    def users(ns):
        return requests.get(f"{live_server.url}/api/v1/users",
                            headers={"Authorization": f"Bearer {ADMIN}", "X-Mock-Namespace": ns})

    assert users("iso-a").status_code == 500
    assert [u["email"] for u in users("iso-b").json()["data"]] == ["only-b@example.com"]
    assert b.clock.now().year == 2030 and a.clock.now().day == 4
    assert b.faults.list() == [] and b.journal.count() == 1 and a.journal.count() == 1


def test_parallel_namespaces_do_not_see_each_other(live_server):
    """Many threads, each in its own namespace, creating users at the same time (xdist-style)."""

    def worker(i):
        ns = f"par-{i}"
        ctl = live_server.control(ns)
        ctl.reset()
        s = requests.Session()
        s.headers.update({"Authorization": f"Bearer {ADMIN}", "X-Mock-Namespace": ns})
        for j in range(5):
            r = s.post(f"{live_server.url}/api/v1/users", json={"email": f"u{j}@same.test", "password": "p"})
            assert r.status_code == 201, r.text
        ids = [u["id"] for u in s.get(f"{live_server.url}/api/v1/users").json()["data"]]
        return ids, ctl.journal.count()

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(worker, range(6)))
    assert all(r == ([1, 2, 3, 4, 5], 6) for r in results)


def test_bad_namespace_header(mock):
    r = requests.get(f"{mock.base}/api/v1/users", headers={"X-Mock-Namespace": "../../etc",
                                                            "Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 422 and "X-Mock-Namespace" in r.json()["errors"]


def test_control_index_lists_namespaces(live_server):
    live_server.control("listed").reset()
    body = requests.get(f"{live_server.url}/__mock/", headers={"X-Mock-Namespace": "listed"}).json()
    assert "listed" in body["namespaces"] and body["namespace"] == "listed"


def test_concurrent_writes_and_reads_in_one_namespace(live_server):
    ctl = live_server.control("busy")
    ctl.reset()

    def worker(k):
        s = requests.Session()
        s.headers.update({"Authorization": f"Bearer {ADMIN}", "X-Mock-Namespace": "busy"})
        codes = []
        for j in range(8):
            codes.append(s.post(f"{live_server.url}/api/v1/users",
                                json={"email": f"w{k}-{j}@busy.test", "password": "p"}).status_code)
            codes.append(s.get(f"{live_server.url}/api/v1/users", params={"per_page": 100}).status_code)
        return codes

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = [c for cs in pool.map(worker, range(4)) for c in cs]
    assert set(codes) == {200, 201}
    assert requests.get(f"{live_server.url}/api/v1/users", headers={
        "Authorization": f"Bearer {ADMIN}", "X-Mock-Namespace": "busy"}).json()["meta"]["total"] == 32


def test_journal_keeps_only_the_newest_entries_up_to_its_limit():
    from mock_solusvm.inprocess import mock_solusvm

    with mock_solusvm(base_url="https://small.test", api_token="t", config={"JOURNAL_LIMIT": 3}) as m:
        for n in range(5):
            requests.get(f"https://small.test/api/v1/plans?page={n + 1}", headers={"Authorization": "Bearer t"})
        assert [e["query"] for e in m.journal.requests()] == ["page=3", "page=4", "page=5"]
