"""User tokens, one-time burn, the SSO landing and the user area page."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests


def test_user_token_acts_as_that_user_and_one_time_burns(mock):
    r = mock.post("/users/1/tokens", json={"is_one_time": True})
    assert r.status_code == 201
    data = r.json()["data"]
    assert data["is_one_time"] is True and data["token_type"] == "Bearer" and data["token"]["id"] > 0
    s = mock.as_token(data["access_token"])
    assert s.get(mock.url("/account")).json()["data"]["id"] == 1
    r = s.get(mock.url("/account"))
    assert r.status_code == 401 and r.json()["message"] == "Unauthenticated."
    lasting = mock.as_token(mock.user_token(1))
    assert all(lasting.get(mock.url("/account")).status_code == 200 for _ in range(3))


def test_token_validation_and_unknown_user(mock):
    assert mock.post("/users/99/tokens", json={}).status_code == 404
    r = mock.post("/users/1/tokens", json={"is_one_time": "sometimes"})
    assert r.status_code == 422 and "is_one_time" in r.json()["errors"]
    other = mock.as_token(mock.user_token(2))
    assert other.post(mock.url("/users/1/tokens"), json={}).status_code == 403


def test_tokens_never_appear_in_the_journal_or_state(mock):
    tok = mock.user_token(1)
    mock.as_token(tok).get(mock.url("/account"))
    dump = str(mock.ctl.state()) + str(mock.ctl.journal.requests())
    assert tok not in dump and "admin-token" not in dump


def _browser(mock) -> requests.Session:
    s = requests.Session()
    s.headers["X-Mock-Namespace"] = mock.namespace
    return s


def test_sso_landing_consumes_one_time_token_and_shows_user_area(mock):
    mock.post("/servers", json={"name": "web-1", "plan": 1, "user": 1})
    tok = mock.user_token(1, one_time=True)
    b = _browser(mock)
    r = b.get(f"{mock.base}/auth/by_token", params={"token": tok}, allow_redirects=False)
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == "/"
    page = b.get(f"{mock.base}/")
    assert page.status_code == 200
    assert "ann@example.com" in page.text and "web-1" in page.text and 'id="status">active' in page.text
    again = _browser(mock).get(f"{mock.base}/auth/by_token", params={"token": tok}, allow_redirects=False)
    assert again.status_code == 401
    assert _browser(mock).get(f"{mock.base}/").status_code == 401  # no session: not logged in


def test_user_area_shows_suspension_banner(mock):
    mock.post("/servers", json={"name": "web-1", "plan": 1, "user": 1})
    mock.put("/users/1", json={"status": "suspended"})
    b = _browser(mock)
    b.get(f"{mock.base}/auth/by_token", params={"token": mock.user_token(1, one_time=True)})
    page = b.get(f"{mock.base}/").text
    assert 'id="banner"' in page and "suspended" in page


def test_sso_rejects_missing_and_bad_tokens(mock):
    b = _browser(mock)
    assert b.get(f"{mock.base}/auth/by_token", allow_redirects=False).status_code == 401
    assert b.get(f"{mock.base}/auth/by_token", params={"token": "x" * 5000}, allow_redirects=False).status_code == 401


def test_browser_without_namespace_header_uses_the_query_and_session(mock):
    tok = mock.user_token(2, one_time=True)
    b = requests.Session()  # a browser cannot send X-Mock-Namespace
    r = b.get(f"{mock.base}/auth/by_token", params={"token": tok, "mock_namespace": mock.namespace})
    assert r.status_code == 200 and "bob@example.com" in r.text  # followed the redirect; session kept the namespace
