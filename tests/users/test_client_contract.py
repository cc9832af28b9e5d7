"""The SolusVM client checks every answer against contracts.solusvm.

A malformed answer (missing field, a number sent as a string where the contract is strict,
a wrong envelope) is ``SolusVMUnavailable`` naming the call and the fields, never a
KeyError later; a good answer from the mock (which validates its own answers) passes.
Malformed answers are served by the in-process mock's fault rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from bridge.services.solusvm_client import SolusVMClient, SolusVMUnavailable, contract_errors
from tests.users.conftest import ADMIN

API = "/api/v1"
GOOD_USER = {"id": 5, "email": "a@example.com", "status": "active", "billing_user_id": 7}
META = {"current_page": 1, "last_page": 1}


def listing(*items: Any, **envelope: Any) -> dict[str, Any]:
    return {"data": list(items), "links": {"next": None}, "meta": META, **envelope}


# (call, method, path, status, body, what the message must name)
CASES: list[tuple[str, Callable[[SolusVMClient], Any], str, str, int, Any, tuple[str, ...]]] = [
    ("get_user: missing field", lambda c: c.get_user(5), "GET", "users/5", 200,
     {"data": {k: v for k, v in GOOD_USER.items() if k != "billing_user_id"}},
     ("GET users/5", "data.billing_user_id", "Missing data")),
    ("get_user: id as a string", lambda c: c.get_user(5), "GET", "users/5", 200,
     {"data": {**GOOD_USER, "id": "5"}}, ("GET users/5", "data.id")),
    ("get_user: no envelope", lambda c: c.get_user(5), "GET", "users/5", 200, GOOD_USER,
     ("GET users/5", "data: Missing data")),
    ("get_user: not an object", lambda c: c.get_user(5), "GET", "users/5", 200, [GOOD_USER],
     ("GET users/5", "(answer)")),
    ("create_user: billing_user_id as a string", lambda c: c.create_user(email="a@example.com", password="p"),
     "POST", "users", 201, {"data": {**GOOD_USER, "billing_user_id": "7"}}, ("POST users", "data.billing_user_id")),
    ("update_user: data null", lambda c: c.update_user(5, status="locked"), "PUT", "users/5", 200,
     {"data": None}, ("PUT users/5", "data")),
    ("patch_user: unknown status", lambda c: c.patch_user(5, email="b@example.com"), "PATCH", "users/5", 200,
     {"data": {**GOOD_USER, "status": "deleted"}}, ("PATCH users/5", "data.status")),
    ("iter_users: id as a string", lambda c: list(c.iter_users()), "GET", "users", 200,
     listing(GOOD_USER, {**GOOD_USER, "id": "6"}), ("GET users (page 1)", "data.1.id")),
    ("iter_users: meta null, links.next not a string", lambda c: list(c.iter_users()), "GET", "users", 200,
     {"data": [GOOD_USER], "links": {"next": 2}, "meta": None}, ("GET users (page 1) links", "next")),
    ("iter_users: no meta, links not an object", lambda c: list(c.iter_users()), "GET", "users", 200,
     {"data": [GOOD_USER], "links": "next"}, ("GET users (page 1) links", "not a JSON object")),
    ("iter_users: last_page as a string", lambda c: list(c.iter_users()), "GET", "users", 200,
     listing(GOOD_USER, meta={"current_page": 1, "last_page": "1"}), ("GET users (page 1)", "meta.last_page")),
    ("find_user_by_email: data not a list", lambda c: c.find_user_by_email("a@example.com"), "GET", "users", 200,
     {"data": GOOD_USER, "meta": META}, ("GET users (page 1)", "data")),
    ("create_token: access_token not a string", lambda c: c.create_token(5), "POST", "users/5/tokens", 201,
     {"data": {"access_token": 12345}}, ("POST users/5/tokens", "access_token")),
    ("create_token: empty access_token", lambda c: c.create_token(5), "POST", "users/5/tokens", 201,
     {"data": {"access_token": ""}}, ("POST users/5/tokens", "access_token")),
    ("iter_servers: id as a string", lambda c: list(c.iter_servers(user_id=5)), "GET", "servers", 200,
     listing({"id": "3", "name": "vm"}), ("GET servers (page 1)", "data.0.id")),
    ("delete_server: task id 0", lambda c: c.delete_server(3), "DELETE", "servers/3", 200,
     {"data": {"id": 0, "status": "pending"}}, ("DELETE servers/3", "data.id")),
    ("delete_server: no task", lambda c: c.delete_server(3), "DELETE", "servers/3", 200,
     {"message": "deleting"}, ("DELETE servers/3", "data")),
    ("get_task: unknown status", lambda c: c.get_task(9), "GET", "tasks/9", 200,
     {"data": {"id": 9, "status": "exploded"}}, ("GET tasks/9", "data.status")),
    ("get_task: id as a string", lambda c: c.get_task(9), "GET", "tasks/9", 200,
     {"data": {"id": "9", "status": "done"}}, ("GET tasks/9", "data.id")),
    ("get_settings: flag not a boolean", lambda c: c.get_settings(), "GET", "settings", 200,
     {"data": {"features": {"allow_registration": "maybe"}}}, ("GET settings", "data.features.allow_registration")),
    ("get_settings: features null", lambda c: c.get_settings(), "GET", "settings", 200,
     {"data": {"features": None}}, ("GET settings", "data.features")),
    ("iter_plans: price as a string", lambda c: list(c.iter_plans()), "GET", "plans", 200,
     listing({"id": 1, "name": "p", "tokens_per_hour": "7", "tokens_per_month": 5000}),
     ("GET plans (page 1)", "data.0.tokens_per_hour")),
    ("iter_limit_groups: missing name", lambda c: list(c.iter_limit_groups()), "GET", "limit_groups", 200,
     listing({"id": 1}), ("GET limit_groups (page 1)", "data.0.name")),
    ("account: missing email", lambda c: c.account(), "GET", "account", 200, {"data": {"id": 1}},
     ("GET account", "data.email")),
    ("iter_usage: data not a list", lambda c: list(c.iter_usage(date(2026, 10, 1), date(2026, 10, 31))),
     "GET", "usage", 200, {"data": {}, "meta": META}, ("GET usage (page 1)", "data")),
    ("iter_usage: no meta, data missing", lambda c: list(c.iter_usage(date(2026, 10, 1), date(2026, 10, 31))),
     "GET", "usage", 200, {"links": {"next": None}}, ("GET usage (page 1)", "data")),
    ("iter_usage: meta without last_page", lambda c: list(c.iter_usage(date(2026, 10, 1), date(2026, 10, 31))),
     "GET", "usage", 200, {"data": [], "meta": {"current_page": 1}}, ("GET usage (page 1)", "meta.last_page")),
]


@pytest.mark.parametrize(("call", "method", "path", "status", "body", "named"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_a_malformed_answer_is_unavailable_naming_the_call_and_fields(mock, solus, call, method, path, status,
                                                                      body, named):
    mock.faults.add(method=method, path=f"{API}/{path}", status=status, body=body)
    with pytest.raises(SolusVMUnavailable) as exc:
        call(solus)
    text = str(exc.value)
    for part in named:
        assert part in text, text
    assert ADMIN not in text  # the API token never appears in a message


def test_the_token_never_reaches_the_message(mock, solus):
    # A token of the wrong type is refused without quoting it.
    mock.faults.add(method="POST", path=f"{API}/users/5/tokens", status=201,
                    body={"data": {"access_token": ["secret-one-time-token"]}})
    with pytest.raises(SolusVMUnavailable) as exc:
        solus.create_token(5)
    assert "secret-one-time-token" not in str(exc.value) and "access_token" in str(exc.value)


def test_a_malformed_second_page_names_the_page(mock, solus):
    mock.seed({"users": [{"id": i, "email": f"u{i}@example.com", "status": "active", "billing_user_id": None}
                         for i in (1, 2, 3)]})
    mock.faults.add(method="GET", path=f"{API}/users", status=200, times=1,
                    body=listing(GOOD_USER, meta={"current_page": 1, "last_page": 2}))
    mock.faults.add(method="GET", path=f"{API}/users", status=200, times=1,
                    body=listing({**GOOD_USER, "email": None}, meta={"current_page": 2, "last_page": 2}))
    with pytest.raises(SolusVMUnavailable, match=r"GET users \(page 2\).*data\.0\.email"):
        list(solus.iter_users(per_page=1))


def user_page(uid: int, next_page: int | None) -> dict[str, Any]:
    """A page of one user, paged by ``links.next`` only (no ``meta``)."""
    return {"data": [{**GOOD_USER, "id": uid}],
            "links": {"next": f"https://solusvm.test{API}/users?page={next_page}" if next_page else None}}


def test_a_list_without_meta_follows_links_next(mock, solus):
    for uid, next_page in ((1, 2), (2, 3), (3, None)):
        mock.faults.add(method="GET", path=f"{API}/users", status=200, times=1, body=user_page(uid, next_page))
    assert [u["id"] for u in solus.iter_users(per_page=1)] == [1, 2, 3]
    queries = [r["query"] for r in mock.journal.requests(method="GET", path=f"{API}/users")]
    assert queries == [f"page={n}&per_page=1" for n in (1, 2, 3)]


def test_meta_last_page_wins_over_links_next(mock, solus):
    mock.faults.add(method="GET", path=f"{API}/users", status=200, times=1,
                    body={**user_page(1, 2), "meta": META})
    assert [u["id"] for u in solus.iter_users()] == [1]
    assert mock.journal.count(method="GET", path=f"{API}/users") == 1


@pytest.mark.parametrize("body", [
    {"data": [GOOD_USER]},                                  # neither meta nor links
    {"data": [GOOD_USER], "meta": None, "links": None},
    {"data": [GOOD_USER], "links": {"next": None}},         # the last page by links
], ids=["neither", "both null", "next null"])
def test_a_list_without_paging_information_is_one_page(mock, solus, body):
    mock.faults.add(method="GET", path=f"{API}/users", status=200, times=1, body=body)
    mock.faults.add(method="GET", path=f"{API}/users", status=200, times=1, body=user_page(99, None))
    assert [u["id"] for u in solus.iter_users()] == [GOOD_USER["id"]]
    assert mock.journal.count(method="GET", path=f"{API}/users") == 1


def test_an_empty_page_ends_a_list_paged_by_links(mock, solus):
    # An empty page that still names a next one would never end: the pager stops there.
    mock.faults.add(method="GET", path=f"{API}/users", status=200, times=1, body=user_page(1, 2))
    mock.faults.add(method="GET", path=f"{API}/users", status=200, body={"data": [], "links": {"next": "x"}})
    assert [u["id"] for u in solus.iter_users()] == [1]
    assert mock.journal.count(method="GET", path=f"{API}/users") == 2


def test_usage_without_meta_pages_by_links(mock, solus):
    for n, next_page in ((1, 2), (2, None)):
        mock.faults.add(method="GET", path=f"{API}/usage", status=200, times=1,
                        body={"data": [{"n": n}], "links": {"next": "page" if next_page else None}})
    assert [i["n"] for i in solus.iter_usage(date(2026, 10, 1), date(2026, 10, 31))] == [1, 2]


def test_good_answers_from_the_mock_pass(mock, solus):
    """Every checked call against the mock, whose answers follow the full schemas."""
    user = solus.create_user(email="good@example.com", password="Secret-123", status="active", billing_user_id=7)
    uid = user["id"]
    assert solus.get_user(uid)["email"] == "good@example.com"
    assert solus.update_user(uid, status="locked")["status"] == "locked"
    assert solus.patch_user(uid, email="better@example.com")["email"] == "better@example.com"
    assert solus.find_user_by_email("better@example.com")["id"] == uid
    assert [u["id"] for u in solus.iter_users(per_page=1)] == [uid]
    assert solus.update_user(uid, status="active")["status"] == "active"
    assert solus.create_token(uid)
    assert solus.account()["email"]
    assert "allow_registration" in solus.get_settings()["features"]
    plans = list(solus.iter_plans())
    assert plans and isinstance(plans[0]["tokens_per_hour"], int)
    assert list(solus.iter_limit_groups())
    created = solus.request("POST", "servers", json={"name": "vm-1", "plan": plans[0]["id"], "location": 1,
                                                     "os": 1, "user": uid})
    sid = created["data"]["id"]
    assert [s["id"] for s in solus.iter_servers(user_id=uid)] == [sid]
    task = solus.delete_server(sid)
    assert solus.get_task(task["id"])["id"] == task["id"]
    today = date.today()
    assert isinstance(list(solus.iter_usage(today.replace(day=1), today, user_id=uid)), list)


def test_a_good_answer_is_returned_as_sent(mock, solus):
    """Checked, not rewritten: the caller sees SolusVM's own values and extra fields."""
    mock.faults.add(method="GET", path=f"{API}/users/5", status=200,
                    body={"data": {**GOOD_USER, "extra": {"kept": True}}})
    assert solus.get_user(5) == {**GOOD_USER, "extra": {"kept": True}}


def test_contract_errors_flattens_nested_messages():
    assert contract_errors({"data": {0: {"id": ["Not a valid integer."]}}, "_schema": ["Invalid input type."]}) \
        == "data.0.id: Not a valid integer.; (answer): Invalid input type."
    many = {f"f{i}": ["bad"] for i in range(10)}
    assert contract_errors(many).endswith("; and 2 more")
