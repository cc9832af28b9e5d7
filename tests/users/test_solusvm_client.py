"""The SolusVM API client: retries, error mapping, paging, exact e-mail lookup, contract checks."""

import json

import pytest
import requests
import responses

from bridge.services.solusvm_client import (
    SolusVMClient,
    SolusVMNotFound,
    SolusVMUnavailable,
    SolusVMValidationError,
)

BASE = "https://solus.test"


def U(uid, email, **kw):  # noqa: N802 - a user object as SolusVM sends it
    return {"id": uid, "email": email, "status": "active", "billing_user_id": None, **kw}

API = BASE + "/api/v1"


@pytest.fixture
def client():
    sleeps: list[float] = []
    c = SolusVMClient(BASE, "secret-token", retries=3, backoff=0.1, sleep=sleeps.append)
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


def page(items, current, last):
    return {"data": items, "links": {"next": None if current == last else f"{API}/x?page={current + 1}"},
            "meta": {"current_page": current, "last_page": last, "per_page": 2, "total": 99}}


@responses.activate
def test_retries_5xx_then_succeeds(client):
    responses.get(f"{API}/users/1", status=503, json={"message": "busy"})
    responses.get(f"{API}/users/1", status=502, body="<html>bad gateway</html>")
    responses.get(f"{API}/users/1", json={"data": U(1, "a@x.test")})
    assert client.get_user(1)["email"] == "a@x.test"
    assert len(responses.calls) == 3
    assert client.stats["retries"] == 2
    assert len(client.sleeps) == 2
    assert responses.calls[0].request.headers["Authorization"] == "Bearer secret-token"


@responses.activate
def test_honours_retry_after_on_429(client):
    responses.get(f"{API}/settings", status=429, headers={"Retry-After": "3"}, json={"message": "slow down"})
    responses.get(f"{API}/settings", json={"data": {"features": {}}})
    assert client.get_settings() == {"features": {}}
    assert client.sleeps == [3.0]


@responses.activate
def test_gives_up_after_retries_with_clear_error(client):
    responses.get(f"{API}/users/1", body=requests.ConnectionError("reset"))
    with pytest.raises(SolusVMUnavailable) as exc:
        client.get_user(1)
    assert len(responses.calls) == 4  # 1 try + 3 retries
    assert "unreachable" in str(exc.value)
    assert "secret-token" not in str(exc.value) and "secret-token" not in repr(client)


@responses.activate
def test_non_json_success_is_retried(client):
    responses.get(f"{API}/users/1", body='{"data": {"id": 1', content_type="application/json")
    responses.get(f"{API}/users/1", json={"data": U(1, "a@x.test")})
    assert client.get_user(1) == U(1, "a@x.test")


@responses.activate
def test_4xx_is_not_retried_and_carries_errors(client):
    responses.post(f"{API}/users", status=422,
                   json={"message": "The given data was invalid.", "errors": {"email": ["The email has already been taken."]}})
    with pytest.raises(SolusVMValidationError) as exc:
        client.create_user(email="a@x.test", password="p", status="active", billing_user_id=1)
    assert len(responses.calls) == 1
    assert exc.value.errors == {"email": ["The email has already been taken."]}
    assert "email: The email has already been taken." in str(exc.value)
    assert json.loads(responses.calls[0].request.body)["billing_user_id"] == 1


@responses.activate
def test_404(client):
    responses.delete(f"{API}/users/9", status=404, json={"message": "Not Found"})
    with pytest.raises(SolusVMNotFound):
        client.delete_user(9)


@responses.activate
def test_iter_pages_walks_every_page(client):
    responses.get(f"{API}/users", json=page([U(1, "a"), U(2, "b")], 1, 2))
    responses.get(f"{API}/users", json=page([U(3, "c")], 2, 2))
    assert [u["id"] for u in client.iter_users()] == [1, 2, 3]
    assert "page=2" in responses.calls[1].request.url


@responses.activate
def test_find_user_by_email_is_exact(client):
    # filter[search] is a substring match: "bob@example.com" also matches "jimbob@example.com".
    responses.get(f"{API}/users", json=page([U(7, "jimbob@example.com"),
                                             U(8, "Bob@Example.com")], 1, 1))
    assert client.find_user_by_email("bob@example.com")["id"] == 8
    responses.replace(responses.GET, f"{API}/users", json=page([U(7, "jimbob@example.com")], 1, 1))
    assert client.find_user_by_email("bob@example.com") is None


@responses.activate
def test_create_token_reads_data_access_token_and_top_level(client):
    responses.post(f"{API}/users/5/tokens", status=201, json={"data": {"access_token": "one-time"}})
    assert client.create_token(5) == "one-time"
    assert json.loads(responses.calls[0].request.body) == {"is_one_time": True}
    responses.replace(responses.POST, f"{API}/users/5/tokens", status=201, json={"access_token": "top"})
    assert client.create_token(5) == "top"
    responses.replace(responses.POST, f"{API}/users/5/tokens", status=201, json={"data": {}})
    with pytest.raises(SolusVMUnavailable):
        client.create_token(5)


@responses.activate
def test_user_answers_are_checked_against_the_contract(client):
    responses.get(f"{API}/users/1", json={"data": U(1, "a@x.test", status="deleted")})
    with pytest.raises(SolusVMUnavailable) as exc:
        client.get_user(1)
    assert "does not match the contract" in str(exc.value) and "status" in str(exc.value)
    responses.put(f"{API}/users/2", json={"data": {"id": "two", "email": "b@x.test", "status": "active",
                                                    "billing_user_id": None}})
    with pytest.raises(SolusVMUnavailable):
        client.update_user(2, status="active")


def test_provisioning_options_from_settings(tmp_path):
    from bridge import settings
    from bridge.services.solusvm_client import connect

    s = settings.load(tmp_path, {"SOLUSVM_URL": BASE, "SOLUSVM_API_TOKEN": "t", "SOLUSVM_LIMIT_GROUP_ID": "3",
                                 "SOLUSVM_ROLE_IDS": "2, 5", "OUTBOX_MAX_ATTEMPTS": 4}, environ={})
    c = connect(s.solusvm, s.outbox)
    assert c.options == {"limit_group_id": 3, "roles": [2, 5], "outbox_max_attempts": 4,
                         "outbox_retry_seconds": 60}
