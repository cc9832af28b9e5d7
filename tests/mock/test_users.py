"""users: CRUD, filters, paging, auth, status effects."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest


def new_user(mock, email="carol@example.com", **extra):
    r = mock.post("/users", json={"email": email, "password": "pw-123", "status": "active", **extra})
    assert r.status_code == 201, r.text
    return r.json()["data"]


def test_auth_missing_bad_and_user_token_on_admin_endpoint(mock):
    assert mock.as_token(None).get(mock.url("/users")).status_code == 401
    r = mock.as_token("nope").get(mock.url("/users"))
    assert r.status_code == 401 and r.json()["message"] == "Unauthenticated."
    tok = mock.user_token(1)
    r = mock.as_token(tok).get(mock.url("/users"))
    assert r.status_code == 403 and "message" in r.json()


def test_create_get_and_never_echo_password(mock):
    u = new_user(mock, billing_user_id="42", roles=[2], limit_group_id=1, language_id=1)
    assert u["billing_user_id"] == 42 and "password" not in u and "password_hash" not in u
    assert [r["name"] for r in u["roles"]] == ["CLIENT"] and u["limit_group"]["id"] == 1
    got = mock.get(f"/users/{u['id']}").json()["data"]
    assert got["email"] == "carol@example.com" and got["status"] == "active"
    assert mock.get("/users/999").status_code == 404


@pytest.mark.parametrize("bid, expected", [(7, 7), ("8", 8), (None, None)])
def test_billing_user_id_int_string_or_null(mock, bid, expected):
    assert new_user(mock, billing_user_id=bid)["billing_user_id"] == expected


@pytest.mark.parametrize("payload, field", [
    ({"password": "x"}, "email"),
    ({"email": "not-an-email", "password": "x"}, "email"),
    ({"email": "z@example.com"}, "password"),
    ({"email": "z@example.com", "password": "x", "status": "banned"}, "status"),
    ({"email": "z@example.com", "password": "x", "billing_user_id": "12a"}, "billing_user_id"),
    ({"email": "z@example.com", "password": "x", "billing_user_id": True}, "billing_user_id"),
    ({"email": "z@example.com", "password": "x", "roles": [99]}, "roles"),
    ({"email": "z@example.com", "password": "x", "roles": "2"}, "roles"),
    ({"email": "z@example.com", "password": "x", "limit_group_id": 42}, "limit_group_id"),
])
def test_create_validation_errors(mock, payload, field):
    r = mock.post("/users", json=payload)
    assert r.status_code == 422, r.text
    assert field in r.json()["errors"] and r.json()["message"]
    assert mock.get("/users", params={"filter[search]": "z@example.com"}).json()["meta"]["total"] == 0


def test_unique_email_case_insensitive_on_create_and_patch(mock):
    r = mock.post("/users", json={"email": "ANN@example.com", "password": "x"})
    assert r.status_code == 422 and r.json()["errors"]["email"] == ["The email has already been taken."]
    r = mock.patch("/users/2", json={"email": "Ann@Example.com"})
    assert r.status_code == 422 and "email" in r.json()["errors"]
    r = mock.patch("/users/2", json={"email": "bobby@example.com"})
    assert r.status_code == 200 and r.json()["data"]["email"] == "bobby@example.com"
    new_user(mock, email="bob@example.com")  # the old address is free again


def test_put_is_partial_and_ignores_email(mock):
    r = mock.put("/users/1", json={"billing_user_id": "99"})
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["billing_user_id"] == 99 and data["status"] == "active" and data["email"] == "ann@example.com"
    r = mock.put("/users/1", json={"email": "other@example.com", "roles": [1, 2], "language_id": 1})
    assert r.json()["data"]["email"] == "ann@example.com"
    assert [x["id"] for x in r.json()["data"]["roles"]] == [1, 2]
    assert mock.put("/users/404", json={"status": "locked"}).status_code == 404


def test_list_filters_search_substring_and_status(mock):
    new_user(mock, email="annette@example.org")
    mock.put("/users/2", json={"status": "locked"})
    found = mock.get("/users", params={"filter[search]": "ANN"}).json()["data"]
    assert [u["email"] for u in found] == ["ann@example.com", "annette@example.org"]
    locked = mock.get("/users", params={"filter[status]": "locked"}).json()["data"]
    assert [u["id"] for u in locked] == [2]


def test_paging_default_15_and_absolute_links_keep_filters(mock):
    for i in range(20):
        new_user(mock, email=f"p{i:02d}@paging.test")
    r = mock.get("/users", params={"filter[search]": "paging.test"}).json()
    assert len(r["data"]) == 15 and r["meta"]["total"] == 20 and r["meta"]["last_page"] == 2
    assert r["links"]["prev"] is None
    nxt = r["links"]["next"]
    assert nxt.startswith(mock.base + "/api/v1/users?")
    assert parse_qs(urlsplit(nxt).query) == {"filter[search]": ["paging.test"], "page": ["2"]}
    second = mock.http.get(nxt).json()
    assert len(second["data"]) == 5 and second["links"]["next"] is None
    assert second["meta"]["from"] == 16 and second["meta"]["to"] == 20
    small = mock.get("/users", params={"per_page": 7, "page": 3, "filter[search]": "paging"}).json()
    assert [u["email"] for u in small["data"]] == ["p14@paging.test", "p15@paging.test", "p16@paging.test",
                                                   "p17@paging.test", "p18@paging.test", "p19@paging.test"]
    beyond = mock.get("/users", params={"page": 50}).json()
    assert beyond["data"] == [] and beyond["meta"]["from"] is None


@pytest.mark.parametrize("params", [{"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page": "9" * 40},
                                    {"per_page": "0"}, {"per_page": "101"}, {"per_page": "1e3"}])
def test_bad_paging_is_422(mock, params):
    r = mock.get("/users", params=params)
    assert r.status_code == 422 and set(r.json()["errors"]) <= {"page", "per_page"}


def test_delete_user_204_and_refused_while_owning_servers(mock):
    s = mock.post("/servers", json={"name": "web", "plan": 1, "user": 1}).json()["data"]
    r = mock.delete("/users/1")
    assert r.status_code == 422 and "user" in r.json()["errors"]
    assert mock.get("/users/1").status_code == 200
    assert mock.delete(f"/servers/{s['id']}").status_code == 200
    r = mock.delete("/users/1")
    assert r.status_code == 204 and r.content == b""
    assert mock.get("/users/1").status_code == 404
    assert mock.delete("/users/1").status_code == 404


def test_locked_blocks_server_creation_and_active_lifts_it(mock):
    assert mock.put("/users/1", json={"status": "locked"}).json()["data"]["status"] == "locked"
    r = mock.post("/servers", json={"name": "web", "plan": 1, "user": 1})
    assert r.status_code == 422 and "user" in r.json()["errors"]
    mock.put("/users/1", json={"status": "active"})
    assert mock.post("/servers", json={"name": "web", "plan": 1, "user": 1}).status_code == 201


def test_locked_keeps_servers_running(mock):
    s = mock.post("/servers", json={"name": "web", "plan": 1, "user": 1}).json()["data"]
    mock.put("/users/1", json={"status": "locked"})
    got = mock.get(f"/servers/{s['id']}").json()["data"]
    assert got["status"] == "started" and got["is_suspended"] is False


def test_suspended_suspends_servers_and_active_lifts_only_those(mock):
    a = mock.post("/servers", json={"name": "a", "plan": 1, "user": 1}).json()["data"]
    b = mock.post("/servers", json={"name": "b", "plan": 1, "user": 1}).json()["data"]
    other = mock.post("/servers", json={"name": "o", "plan": 1, "user": 2}).json()["data"]
    assert mock.post(f"/servers/{b['id']}/suspend").status_code == 200  # suspended on its own
    mock.put("/users/1", json={"status": "suspended"})
    for sid in (a["id"], b["id"]):
        got = mock.get(f"/servers/{sid}").json()["data"]
        assert got["is_suspended"] is True and got["status"] == "stopped"
    assert mock.get(f"/servers/{other['id']}").json()["data"]["is_suspended"] is False
    assert mock.post("/servers", json={"name": "c", "plan": 1, "user": 1}).status_code == 422
    assert mock.post(f"/servers/{a['id']}/start").status_code == 422
    mock.put("/users/1", json={"status": "active"})
    got_a = mock.get(f"/servers/{a['id']}").json()["data"]
    assert got_a["is_suspended"] is False and got_a["status"] == "stopped"  # lifted, not restarted
    assert mock.get(f"/servers/{b['id']}").json()["data"]["is_suspended"] is True
    assert mock.post(f"/servers/{a['id']}/start").status_code == 200


def test_account_whoami(mock):
    assert mock.get("/account").json()["data"]["email"] == "admin@solusvm.mock"
    tok = mock.user_token(2)
    assert mock.as_token(tok).get(mock.url("/account")).json()["data"]["email"] == "bob@example.com"


def test_login_with_password(mock):
    new_user(mock, email="dan@example.com")
    s = mock.as_token(None)
    r = s.post(mock.url("/auth/login"), json={"email": "dan@example.com", "password": "pw-123"})
    assert r.status_code == 200
    cred = r.json()["data"]["credentials"]
    assert cred["token_type"] == "Bearer"
    assert mock.as_token(cred["access_token"]).get(mock.url("/account")).json()["data"]["email"] == "dan@example.com"
    assert s.post(mock.url("/auth/login"), json={"email": "dan@example.com", "password": "bad"}).status_code == 401


def test_list_reflects_every_change_after_being_read(mock):
    assert [u["email"] for u in mock.get("/users").json()["data"]] == ["ann@example.com", "bob@example.com"]
    mock.patch("/users/2", json={"email": "robert@example.com"})
    mock.put("/users/1", json={"status": "locked", "roles": [1]})
    mock.delete("/users/2")
    new_user(mock, email="eve@example.com")
    data = mock.get("/users").json()["data"]
    assert [(u["email"], u["status"], [r["id"] for r in u["roles"]]) for u in data] == [
        ("ann@example.com", "locked", [1]), ("eve@example.com", "active", [2])]
    mock.ctl.seed({"users": [{"id": 5, "email": "fresh@example.com"}]})
    assert [u["id"] for u in mock.get("/users").json()["data"]] == [5]


def test_a_write_between_two_filtered_page_reads_is_seen(mock):
    """Filtered user lists are kept per state version for paging: a write shows on the next read."""
    params = {"per_page": 1, "filter[status]": "active"}
    assert mock.get("/users", params=params).json()["meta"]["total"] == 2
    assert mock.patch("/users/2", json={"status": "locked"}).status_code == 200
    body = mock.get("/users", params={**params, "page": 2}).json()
    assert body["meta"]["total"] == 1 and body["data"] == []
    assert [u["id"] for u in mock.get("/users", params={"filter[status]": "locked"}).json()["data"]] == [2]
    carol = new_user(mock)
    found = mock.get("/users", params={"filter[search]": "carol"}).json()
    assert [u["id"] for u in found["data"]] == [carol["id"]]
