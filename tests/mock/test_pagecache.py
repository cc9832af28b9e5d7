"""The rendered-page cache (mock_solusvm/pagecache.py): same answers, every request journaled and
authenticated, and a kept page never outlives a write, a seed, a restore, a clock move or a fault."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import requests

from mock_solusvm import create_app
from mock_solusvm.inprocess import InProcessMock
from mock_solusvm.server import MockServer
from mock_solusvm.state import Backend
from mock_solusvm.wire import namespaces

from .conftest import ADMIN, Harness, seed_doc

USERS = "/users?per_page=1&page=2"


def backend_of(mock: Harness, request: pytest.FixtureRequest) -> Backend:
    """The namespace's backend, in either mode (the live server runs in this process)."""
    app = mock.ctl.app if isinstance(mock.ctl, InProcessMock) else request.getfixturevalue("live_server").app
    return namespaces(app).get(mock.namespace)


def kept(b: Backend, path: str) -> bool:
    """Whether a page for ``path`` (``/api/v1`` + path, query included) is kept for the current state."""
    route, _, query = path.partition("?")
    return any(key[0] == "/api/v1" + route and key[1] == query and page.version == b.lock.version
               for key, page in b.page_cache.items())


def warm(mock: Harness, b: Backend, path: str) -> Any:
    """Read ``path`` twice (the second from the cache) and check it is kept; returns the body."""
    first = mock.get(path)
    second = mock.get(path)
    assert first.status_code == second.status_code == 200, first.text
    assert kept(b, path)
    assert second.content == first.content
    return second.json()


def test_a_kept_page_is_the_rendered_page_byte_for_byte(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    first = mock.get(USERS)
    second = mock.get(USERS)
    assert kept(b, USERS)
    assert second.content == first.content
    assert second.status_code == first.status_code == 200
    assert second.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    assert second.headers.get("Content-Length") == first.headers.get("Content-Length")  # none in-process
    assert second.reason == first.reason == "OK"
    assert second.json()["links"]["first"].startswith(mock.base)  # links keep the host they were asked on


def test_every_request_is_journaled_the_same_from_the_cache(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    mock.ctl.journal.clear()
    for _ in range(3):
        assert mock.get(USERS).status_code == 200
    assert kept(b, USERS)
    entries = mock.ctl.journal.requests()
    assert len(entries) == 3
    assert len({e["id"] for e in entries}) == 3
    first = {k: v for k, v in entries[0].items() if k != "id"}
    assert all({k: v for k, v in e.items() if k != "id"} == first for e in entries[1:])
    assert first["query"] == "per_page=1&page=2" and first["headers"]["Authorization"] == "<redacted>"
    assert first["status"] == 200 and first["fault"] is None and first["body"] is None


def test_the_journal_redacts_query_credentials_of_cached_requests(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    path = "/users?per_page=1&token=s3cret"
    warm(mock, b, path)
    mock.ctl.journal.clear()
    mock.get(path)
    assert [e["query"] for e in mock.ctl.journal.requests()] == ["per_page=1&token=<redacted>"]


def test_cached_pages_still_authenticate_every_request(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    warm(mock, b, USERS)
    mock.ctl.journal.clear()
    assert mock.as_token(None).get(mock.url(USERS)).status_code == 401
    assert mock.as_token("nope").get(mock.url(USERS)).status_code == 401
    assert mock.as_token(mock.user_token(1)).get(mock.url(USERS)).status_code == 403
    assert mock.as_token(ADMIN).get(mock.url(USERS)).status_code == 200
    statuses = [(e["method"], e["status"]) for e in mock.ctl.journal.requests()]
    assert statuses == [("GET", 401), ("GET", 401), ("POST", 201), ("GET", 403), ("GET", 200)]


def test_a_one_time_user_token_still_burns_on_a_cached_page(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    path = "/users/1"
    warm(mock, b, path)
    token = mock.user_token(1, one_time=True)
    assert mock.as_token(token).get(mock.url(path)).status_code == 403  # a user token: not admin
    assert mock.as_token(token).get(mock.url(path)).status_code == 401  # and now spent


@pytest.mark.parametrize("write", ["post", "put", "patch", "delete"])
def test_api_writes_invalidate(mock: Harness, request: pytest.FixtureRequest, write: str) -> None:
    b = backend_of(mock, request)
    before = warm(mock, b, "/users?per_page=10")
    if write == "post":
        assert mock.post("/users", json={"email": "new@example.com", "password": "p"}).status_code == 201
    elif write == "put":
        assert mock.put("/users/2", json={"status": "locked"}).status_code == 200
    elif write == "patch":
        assert mock.patch("/users/2", json={"email": "bobby@example.com"}).status_code == 200
    else:
        assert mock.delete("/users/2").status_code == 204
    after = mock.get("/users?per_page=10").json()
    assert after != before
    emails = {u["email"]: u["status"] for u in after["data"]}
    expected = {"post": ("new@example.com", "active"), "put": ("bob@example.com", "locked"),
                "patch": ("bobby@example.com", "active")}
    if write == "delete":
        assert "bob@example.com" not in emails and after["meta"]["total"] == 1
    else:
        email, status = expected[write]
        assert emails[email] == status


def test_a_write_that_fails_half_way_still_invalidates(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    warm(mock, b, "/users/2")
    assert mock.patch("/users/2", json={"status": "no-such-status"}).status_code == 422
    assert not kept(b, "/users/2")  # a refused write moved the version too: nothing stale can be served
    assert mock.get("/users/2").json()["data"]["status"] == "active"


def test_control_seed_reset_and_restore_invalidate(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    dump = mock.ctl.state()
    warm(mock, b, "/users")
    mock.ctl.seed(seed_doc(users=[{"id": 7, "email": "seeded@example.com"}]))
    assert [u["email"] for u in mock.get("/users").json()["data"]] == ["seeded@example.com"]
    warm(mock, b, "/users")
    mock.ctl.restore(dump)
    assert [u["email"] for u in mock.get("/users").json()["data"]] == ["ann@example.com", "bob@example.com"]
    warm(mock, b, "/users")
    mock.ctl.reset()
    assert [u["email"] for u in mock.get("/users").json()["data"]] != ["ann@example.com", "bob@example.com"]


def test_faults_apply_to_cached_pages(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    body = warm(mock, b, USERS)
    mock.ctl.faults.add(method="GET", path="/api/v1/users", status=503, body={"message": "busy"}, times=1)
    mock.ctl.journal.clear()
    r = mock.get(USERS)
    assert r.status_code == 503 and r.json() == {"message": "busy"}
    assert mock.get(USERS).json() == body  # the rule is spent: the page again
    assert [(e["status"], e["fault"] is not None) for e in mock.ctl.journal.requests()] == [
        (503, True), (200, False)]


def _usage_seed() -> dict[str, Any]:
    server = {"id": 1, "name": "s1", "user_id": 1, "plan_id": 2, "location_id": 1,
              "created_at": "2026-10-01T00:00:00Z", "deleted_at": None}
    return seed_doc(clock="2026-10-02T00:00:00Z", servers=[server])


USAGE = "/usage?date_from=2026-10-01&date_to=2026-10-31"


def test_clock_moves_invalidate_pages_that_follow_the_clock(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    mock.ctl.seed(_usage_seed())
    assert warm(mock, b, USAGE)["data"][0]["hours"] == 24
    mock.ctl.clock.advance(hours=5)
    assert mock.get(USAGE).json()["data"][0]["hours"] == 29
    warm(mock, b, USAGE)
    mock.ctl.clock.set("2026-10-03T00:00:00Z")
    assert mock.get(USAGE).json()["data"][0]["hours"] == 48


def test_a_running_clock_keeps_no_page_that_follows_it(mock: Harness, request: pytest.FixtureRequest) -> None:
    b = backend_of(mock, request)
    mock.ctl.seed(_usage_seed())
    mock.ctl.clock.unfreeze()
    assert mock.get(USAGE).status_code == mock.get(USAGE).status_code == 200
    assert not kept(b, USAGE)
    warm(mock, b, USERS)  # a page that ignores the clock is kept all the same


def test_a_clock_moved_without_the_api_is_seen_too(mock: Harness, request: pytest.FixtureRequest) -> None:
    # the kept page carries the frozen instant it was rendered at, not only the state version
    b = backend_of(mock, request)
    mock.ctl.seed(_usage_seed())
    warm(mock, b, USAGE)
    b.clock.advance(timedelta(hours=2))
    assert mock.get(USAGE).json()["data"][0]["hours"] == 26


def test_pages_are_kept_per_namespace_and_per_host() -> None:
    app = create_app({"API_TOKENS": [ADMIN]})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN}"}
    a = [client.get("/api/v1/users?per_page=1", base_url="http://a.test", headers=headers) for _ in range(2)]
    b = client.get("/api/v1/users?per_page=1", base_url="http://b.test", headers=headers)
    assert a[1].get_json()["links"]["first"].startswith("http://a.test/")
    assert b.get_json()["links"]["first"].startswith("http://b.test/")
    client.post("/api/v1/users", json={"email": "other@example.com", "password": "p"},
                headers={**headers, "X-Mock-Namespace": "other"})
    other = client.get("/api/v1/users?per_page=1", base_url="http://a.test",
                       headers={**headers, "X-Mock-Namespace": "other"})
    assert other.get_json()["meta"]["total"] != a[1].get_json()["meta"]["total"]


def test_browser_requests_with_cookies_are_rendered_by_flask() -> None:
    app = create_app({"API_TOKENS": [ADMIN]})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN}"}
    for _ in range(2):
        assert client.get("/api/v1/users", headers=headers).status_code == 200
    client.set_cookie("unrelated", "1")
    b = namespaces(app).get("default")
    b.page_cache.clear()
    assert client.get("/api/v1/users", headers=headers).status_code == 200
    assert not b.page_cache  # a cookie may choose the namespace: never answered from the cache


def test_concurrent_reads_of_kept_pages_are_all_journaled_and_see_writes(live_server: MockServer) -> None:
    ctl = live_server.control("pagecache-threads")
    ctl.seed(seed_doc())
    headers = {"Authorization": f"Bearer {ADMIN}", "X-Mock-Namespace": "pagecache-threads"}
    url = f"{live_server.url}/api/v1/users"
    ctl.journal.clear()
    totals: list[list[int]] = [[] for _ in range(4)]

    def reader(i: int) -> None:
        with requests.Session() as s:
            for _ in range(40):
                totals[i].append(s.get(url, headers=headers, timeout=10).json()["meta"]["total"])

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    created = [requests.post(url, json={"email": f"c{n}@example.com", "password": "p"}, headers=headers,
                             timeout=10).status_code for n in range(5)]
    for t in threads:
        t.join()
    assert created == [201] * 5
    for seen in totals:
        assert seen == sorted(seen) and 2 <= seen[0] and seen[-1] <= 7  # never an older total after a newer one
    assert requests.get(url, headers=headers, timeout=10).json()["meta"]["total"] == 7
    assert ctl.journal.count(method="GET", path="/api/v1/users") == 4 * 40 + 1
    assert ctl.journal.count(method="POST", path="/api/v1/users") == 5
