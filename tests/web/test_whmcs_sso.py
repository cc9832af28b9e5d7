"""WHMCS single sign-on: CreateSsoToken through the WHMCS API, then ``/oauth/singlesignon.php``
in a browser (Flask test client). SQLite and PostgreSQL."""

from __future__ import annotations

import http.client
import logging
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from werkzeug.serving import make_server

from bridge.logs import RedactFilter
from bridge.models import Client, UsedToken
from bridge.services import credentials, sso_tokens
from bridge.settings import LoggingSettings, Settings
from bridge.web.common import password_tag
from bridge.web.whmcs_sso import REQUEST_LINE_LOGGERS, install_log_filters
from tests.bridge.conftest import CLIENT, db_url  # noqa: F401 - fixture
from tests.web.conftest import Browser, build_app, csrf_of, session_of, web_config
from tests.web.test_clientarea import NASTY_NEXT

SSO = "/oauth/singlesignon.php"
BAD_LINK = "This sign-in link cannot be used"


@pytest.fixture
def app(db_url: str, tmp_path: Path, mock: Any) -> Iterator[Any]:  # noqa: F811 - on SQLite and PostgreSQL
    application = build_app(db_url, tmp_path, **web_config(tmp_path))
    yield application
    application.extensions["bridge_db"]["engine"].dispose()


@pytest.fixture
def browser(app: Any) -> Browser:
    return Browser(app)


@pytest.fixture
def whmcs(app: Any) -> Any:
    """POST an action to the WHMCS API with valid credentials; returns the response."""
    with session_of(app) as s, s.begin():
        cred = credentials.create(s, "sso-tests", actor="test")
    http = app.test_client()

    def call(action: str, **params: Any) -> Any:
        return http.post("/includes/api.php", data={"action": action, "identifier": cred.identifier,
                                                    "secret": cred.secret, "responsetype": "json", **params})

    return call


@pytest.fixture
def add_client(whmcs: Any) -> Any:
    """AddClient (e-mail ``user<n>@example.com``, password ``hunter2!``); returns the client id."""
    count = iter(range(1, 1000))

    def add(**overrides: Any) -> int:
        body = whmcs("AddClient", **{**CLIENT, "email": f"user{next(count)}@example.com", **overrides}).get_json()
        assert body["result"] == "success", body
        return int(body["clientid"])

    return add


def sso_path(whmcs: Any, cid: int, **params: Any) -> str:
    """CreateSsoToken for ``cid``; the redirect URL's path and query (the test client needs no host)."""
    body = whmcs("CreateSsoToken", client_id=cid, **params).get_json()
    assert body["result"] == "success", body
    url = urllib.parse.urlsplit(body["redirect_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"https://billing.test{SSO}"
    return f"{url.path}?{url.query}"


def token_of(path: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["access_token"][0]


def session_data(browser: Browser) -> dict[str, Any]:
    with browser.http.session_transaction() as sess:
        return dict(sess)


def assert_logged_in_as(browser: Browser, cid: int, firstname: str) -> None:
    page = browser.get("/clientarea")
    assert page.status_code == 200 and f"Hello, {firstname}" in page.get_data(as_text=True)
    assert browser.get("/clientarea/invoices").status_code == 200
    assert session_data(browser)["client_id"] == cid


def assert_bad_link(resp: Any) -> None:
    assert resp.status_code == 400
    assert BAD_LINK in resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Referrer-Policy"] == "no-referrer"


def assert_logged_out(browser: Browser) -> None:
    resp = browser.get("/clientarea")
    assert resp.status_code == 302 and resp.location.startswith("/login")


# --- the flow ------------------------------------------------------------------------------


def test_full_flow_logs_the_client_in_like_the_login_form(app: Any, whmcs: Any, add_client: Any) -> None:
    cid = add_client(firstname="Zoe")
    browser = Browser(app)
    resp = browser.get(sso_path(whmcs, cid))
    assert resp.status_code == 303 and resp.location == "/clientarea"
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Referrer-Policy"] == "no-referrer"
    via_sso = session_data(browser)
    assert_logged_in_as(browser, cid, "Zoe")
    with app.test_request_context(), session_of(app) as s:
        expected_tag = password_tag("client", cid, s.get(Client, cid).password_hash)
    assert via_sso["client_tag"] == expected_tag and via_sso["_permanent"] is True

    # The same session as the e-mail + password log-in gives.
    with session_of(app) as s, s.begin():
        s.get(Client, cid).email_verified = True  # the password form wants it
    other = Browser(app)
    resp = other.submit("/login", {"email": "user1@example.com", "password": "hunter2!"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    login_data = session_data(other)
    # Each log-in has its own server-side session token; everything else is the same.
    assert login_data.pop("client_sid") != via_sso.pop("client_sid")
    assert login_data == via_sso

    # ... which a password change ends, like any other session of the client.
    whmcs("UpdateClient", clientid=cid, password2="another secret 42")
    assert_logged_out(browser)


def test_log_out_after_sso(app: Any, whmcs: Any, add_client: Any, browser: Browser) -> None:
    cid = add_client()
    browser.get(sso_path(whmcs, cid))
    page = browser.get("/clientarea").get_data(as_text=True)
    resp = browser.http.post("/logout", data={"csrf_token": csrf_of(page)})
    assert resp.status_code == 302
    assert_logged_out(browser)


def test_sso_switches_a_browser_to_the_tokens_client(app: Any, whmcs: Any, add_client: Any,
                                                    browser: Browser) -> None:
    ann, bob = add_client(firstname="Ann"), add_client(firstname="Bob")
    browser.get(sso_path(whmcs, ann))
    assert_logged_in_as(browser, ann, "Ann")
    browser.get(sso_path(whmcs, bob))
    assert_logged_in_as(browser, bob, "Bob")


def test_an_unverified_client_is_signed_in(app: Any, whmcs: Any, add_client: Any, browser: Browser) -> None:
    """The password form wants a verified e-mail; SSO is vouched for by the API caller, as in WHMCS."""
    cid = add_client(firstname="Una")  # AddClient: email_verified false
    assert browser.get(sso_path(whmcs, cid)).status_code == 303
    assert_logged_in_as(browser, cid, "Una")


@pytest.mark.parametrize(("params", "landing"), [
    ({}, "/clientarea"),
    ({"destination": "clientarea:home"}, "/clientarea"),
    ({"destination": "clientarea:invoices"}, "/clientarea/invoices"),
    ({"destination": "clientarea:profile"}, "/clientarea"),
    ({"destination": "clientarea:services"}, "/clientarea"),
    ({"destination": "sso:custom_redirect", "sso_redirect_path": "/clientarea/invoices?page=2"},
     "/clientarea/invoices?page=2"),
    ({"destination": "sso:custom_redirect", "sso_redirect_path": "/clientarea/invoices/999"},
     "/clientarea/invoices/999"),
    ({"destination": "sso:custom_redirect"}, "/clientarea"),
    ({"destination": "sso:custom_redirect", "sso_redirect_path": ""}, "/clientarea"),
    # Another destination ignores sso_redirect_path, as WHMCS does.
    ({"destination": "clientarea:invoices", "sso_redirect_path": "//evil.example.com"}, "/clientarea/invoices"),
])
def test_destinations(app: Any, whmcs: Any, add_client: Any, browser: Browser, params: dict[str, str],
                      landing: str) -> None:
    cid = add_client(firstname="Dee")
    resp = browser.get(sso_path(whmcs, cid, **params))
    assert resp.status_code == 303 and resp.location == landing
    assert browser.get(landing).status_code in (200, 404)  # 404: invoice 999 is "not found" to the client
    assert_logged_in_as(browser, cid, "Dee")


def test_custom_redirect_under_a_mount_path(app: Any, whmcs: Any, add_client: Any, browser: Browser) -> None:
    """``sso_redirect_path`` is relative to the bridge's root (SystemURL), like WHMCS paths."""
    cid = add_client()
    path = sso_path(whmcs, cid, destination="sso:custom_redirect", sso_redirect_path="/clientarea/invoices")
    resp = browser.http.get(path, base_url="https://billing.test/billing")
    assert resp.status_code == 303 and resp.location == "/billing/clientarea/invoices"
    home = sso_path(whmcs, cid)
    assert browser.http.get(home, base_url="https://billing.test/billing").location == "/billing/clientarea"


# --- refused tokens ------------------------------------------------------------------------


def test_a_token_works_once(app: Any, whmcs: Any, add_client: Any, browser: Browser) -> None:
    cid = add_client()
    path = sso_path(whmcs, cid)
    assert browser.get(path).status_code == 303
    again = Browser(app)
    assert_bad_link(again.get(path))
    assert_logged_out(again)
    assert_bad_link(browser.get(path))  # also in the browser that used it
    assert_logged_in_as(browser, cid, "Ann")  # whose session stays


def test_bad_expired_and_used_tokens_get_the_same_page(app: Any, whmcs: Any, add_client: Any) -> None:
    cid = add_client()
    used = sso_path(whmcs, cid)
    Browser(app).get(used)
    token = token_of(sso_path(whmcs, cid))
    payload, _, signature = token.rpartition(".")
    tampered = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    other_key = sso_tokens.issue("another-secret", cid, "clientarea:home")
    pages = {"used": Browser(app).get(used)}
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        expired = sso_path(whmcs, cid)
        clock.shift(sso_tokens.MAX_AGE + 1)
        pages["expired"] = Browser(app).get(expired)
    for name, query in [("tampered", f"access_token={tampered}"), ("other key", f"access_token={other_key}"),
                        ("garbage", "access_token=abc"), ("empty", "access_token="), ("missing", ""),
                        ("too long", "access_token=" + "a" * 5000),
                        ("no such client", "access_token=" + sso_tokens.issue("test-secret", 99999, "x"))]:
        pages[name] = Browser(app).get(f"{SSO}?{query}")
    assert list(pages)[:2] == ["used", "expired"]
    bodies = set()
    for resp in pages.values():
        assert_bad_link(resp)
        bodies.add(resp.get_data(as_text=True))
    assert len(bodies) == 1  # one page for all: nothing says which


def test_expiry_boundary(app: Any, whmcs: Any, add_client: Any) -> None:
    cid = add_client()
    with time_machine.travel("2026-03-01 12:00:00Z", tick=False) as clock:
        path = sso_path(whmcs, cid)
        clock.shift(sso_tokens.MAX_AGE - 1)
        assert Browser(app).get(path).status_code == 303


def test_a_closed_client_is_refused(app: Any, whmcs: Any, add_client: Any, browser: Browser) -> None:
    cid = add_client()
    path = sso_path(whmcs, cid)
    assert whmcs("CloseClient", clientid=cid).get_json()["result"] == "success"
    resp = browser.get(path)
    assert resp.status_code == 403 and "closed" in resp.get_data(as_text=True)
    assert_logged_out(browser)
    with session_of(app) as s:
        assert s.query(UsedToken).count() == 0  # nothing was committed


def test_head_does_not_spend_the_token(app: Any, whmcs: Any, add_client: Any, browser: Browser) -> None:
    cid = add_client()
    path = sso_path(whmcs, cid)
    assert browser.http.head(path).status_code == 200
    assert_logged_out(browser)
    assert browser.get(path).status_code == 303


# --- unsafe redirect paths -----------------------------------------------------------------


# The ?next= attacks, decoded (as the API receives them), and a few more.
UNSAFE = sorted({urllib.parse.unquote(t) for t in NASTY_NEXT} | {
    "//evil.example.com", "/\\evil.example.com", "\\\\evil.example.com", "https://evil.example.com/x",
    "HTTP://evil.example.com", "data:text/html,x", "clientarea.php?action=invoices", "/ok\r\nSet-Cookie: x=1",
    "/" + "a" * 2001, "/\u2028/evil.example.com", "/x\u200b"})


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_redirect_paths_are_refused_at_issue_time(whmcs: Any, add_client: Any, path: str) -> None:
    cid = add_client()
    body = whmcs("CreateSsoToken", client_id=cid, destination="sso:custom_redirect", sso_redirect_path=path).get_json()
    # C0 control characters are refused for every parameter before the action runs.
    assert body["result"] == "error" and body["message"] in (
        "Invalid sso_redirect_path", "Invalid characters in parameter sso_redirect_path"), body


def test_a_redirect_path_array_is_refused(whmcs: Any, add_client: Any) -> None:
    cid = add_client()
    for shape in ("sso_redirect_path[]", "sso_redirect_path[0]"):
        body = whmcs("CreateSsoToken", client_id=cid, destination="sso:custom_redirect",
                   **{shape: "/clientarea"}).get_json()
        assert body == {"result": "error", "message": "Invalid sso_redirect_path"}


@pytest.mark.parametrize("path", ["//evil.example.com", "https://evil.example.com", "/\\evil.example.com"])
def test_an_unsafe_path_signed_elsewhere_still_lands_locally(app: Any, add_client: Any, browser: Browser,
                                                             path: str) -> None:
    """A token signed before the check existed (or by other code) is checked again when used."""
    cid = add_client()
    token = sso_tokens.issue("test-secret", cid, "sso:custom_redirect", path)
    resp = browser.get(f"{SSO}?access_token={token}")
    assert resp.status_code == 303 and resp.location == "/clientarea"


# --- concurrency ---------------------------------------------------------------------------


def test_concurrent_double_use_has_one_winner(app: Any, whmcs: Any, add_client: Any) -> None:
    cid = add_client(firstname="Rae")
    for _ in range(3):
        path = sso_path(whmcs, cid)
        browsers = [Browser(app), Browser(app)]
        barrier = threading.Barrier(2)
        statuses: dict[int, int] = {}

        def use(i: int, path: str = path, browsers: list[Browser] = browsers,
                barrier: threading.Barrier = barrier, statuses: dict[int, int] = statuses) -> None:
            barrier.wait(timeout=10)
            statuses[i] = browsers[i].get(path).status_code

        threads = [threading.Thread(target=use, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(statuses.values()) == [303, 400], statuses
        winner = next(i for i, code in statuses.items() if code == 303)
        assert_logged_in_as(browsers[winner], cid, "Rae")
        assert_logged_out(browsers[1 - winner])


# --- no token in the logs ------------------------------------------------------------------


def test_the_token_never_reaches_the_logs(app: Any, whmcs: Any, add_client: Any, browser: Browser,
                                          caplog: pytest.LogCaptureFixture) -> None:
    cid = add_client()
    caplog.set_level(logging.DEBUG)
    path = sso_path(whmcs, cid)
    token = token_of(path)
    browser.get(path)
    browser.get(path)  # refused: logs nothing of it either
    browser.get(f"{SSO}?access_token={token}x")
    assert token not in caplog.text
    access = [r for r in caplog.records if r.name == "bridge.access" and getattr(r, "route", "") == SSO]
    assert len(access) == 3 and all("?" not in r.getMessage() for r in access)


def test_request_lines_of_the_development_server_are_masked(app: Any, whmcs: Any, add_client: Any,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    cid = add_client()
    path = sso_path(whmcs, cid)
    token = token_of(path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    caplog.set_level(logging.INFO, logger="werkzeug")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        conn.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert resp.status == 303
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any(f"{SSO}?access_token=[redacted]" in line for line in lines), lines
    assert token not in caplog.text


def test_request_line_loggers_get_the_bridge_redaction_filter() -> None:
    """The werkzeug and gunicorn.access loggers carry one ``logs.RedactFilter`` with the
    app's secrets (the one redaction of the bridge), which masks gunicorn-style records too."""
    config = Settings(logging=LoggingSettings(secrets=("an-app-secret-key-value", "pricing-token-value")))
    install_log_filters(Settings(logging=LoggingSettings(secrets=("an-older-app-secret",))))
    install_log_filters(config)  # again for every app create_app builds: replaces, never piles up
    for name in REQUEST_LINE_LOGGERS:
        [redact] = [f for f in logging.getLogger(name).filters if isinstance(f, RedactFilter)]
        assert type(redact) is RedactFilter
        record = logging.LogRecord(name, logging.INFO, __file__, 1, '%(h)s "%(r)s" %(s)s',
                                   ({"h": "10.0.0.1", "r": "GET /oauth/singlesignon.php?x=1&access_token=abc.def-1"
                                                           "&k=an-app-secret-key-value HTTP/1.1", "s": "303"},), None)
        assert redact.filter(record) is True
        assert record.getMessage() == ('10.0.0.1 "GET /oauth/singlesignon.php?x=1&access_token=[redacted]'
                                       '&k=[redacted] HTTP/1.1" 303')
