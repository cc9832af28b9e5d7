"""Against the live mock (real HTTP, one server per module, a namespace per test): SSO lands in the
user area as the right user; timeouts and dropped connections mid-run; changes land exactly once."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from bridge.models import Client
from bridge.services import outbox, provisioning, sso
from bridge.services.solusvm_client import SolusVMClient
from mock_solusvm.server import MockServer
from tests.users.conftest import ADMIN, build_app, session_of

TEMPLATE = "{solusvm_url}/auth/by_token?token={token}&mock_namespace={ns}"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(port=0, api_tokens=[ADMIN], config={"VALIDATE_RESPONSES": True}) as srv:
        yield srv


@pytest.fixture
def ns(server: MockServer) -> Any:
    name = f"live-{uuid.uuid4().hex[:10]}"
    ctl = server.control(name)
    ctl.reset()
    ctl.name = name  # type: ignore[attr-defined]
    return ctl


def live_client(server: MockServer, ns: Any, **kw: Any) -> SolusVMClient:
    kw.setdefault("retries", 1)
    c = SolusVMClient(server.url, ADMIN, backoff=0, sleep=lambda _s: None,
                      headers={"X-Mock-Namespace": ns.name}, **kw)
    c.options = {"outbox_max_attempts": 5, "outbox_retry_seconds": 60}
    return c


@pytest.fixture
def app(sqlite_url: str, tmp_path: Any) -> Iterator[Any]:  # noqa: F811 - no in-process mock here
    application = build_app(sqlite_url, tmp_path)  # no SOLUSVM_URL: only the cron-style apply runs
    yield application
    application.extensions["bridge_db"]["engine"].dispose()


def new_client(app: Any, email: str) -> int:
    from bridge.services import clients

    with session_of(app) as s, s.begin():
        c = clients.create(s, {"firstname": "Ann", "lastname": "Lee", "email": email}, actor="test")
        provisioning.enroll_client(s, c.id, actor="test")
        return c.id


def user_id(app: Any, cid: int) -> int:
    with session_of(app) as s:
        uid = s.get(Client, cid).solusvm_user_id
    assert uid is not None
    return uid


def test_sso_link_lands_in_user_area_as_the_right_user(app, server, ns, caplog):
    caplog.set_level(logging.DEBUG)
    solus = live_client(server, ns)
    factory = app.extensions["bridge_db"]["session_factory"]
    other = new_client(app, "someone-else@example.com")
    cid = new_client(app, "ann.sso@example.com")
    assert outbox.apply_pending(factory, solus).applied == 2
    template = TEMPLATE.replace("{ns}", ns.name)

    with session_of(app) as s, s.begin():
        url = sso.login_url(s, cid, solus, template)
    token = parse_qs(urlparse(url).query)["token"][0]
    # the token is a credential: nothing the bridge did logged it (checked before the test's own
    # "browser" follows the link, since urllib3 logs the URLs it fetches)
    assert len(token) > 10 and token not in caplog.text
    browser = requests.Session()
    page = browser.get(url, timeout=10)
    assert page.status_code == 200 and urlparse(page.url).path == "/"
    assert "ann.sso@example.com" in page.text and "someone-else@example.com" not in page.text
    # one-time: the same link does not work twice
    assert requests.get(url, timeout=10, allow_redirects=False).status_code == 401
    assert other != cid

    # locked users may still log in, and the user area says locked
    with session_of(app) as s, s.begin():
        provisioning.set_status(s, cid, "locked", actor="test")
    outbox.apply_pending(factory, solus)
    with session_of(app) as s, s.begin():
        page = requests.Session().get(sso.login_url(s, cid, solus, template), timeout=10)
    assert page.status_code == 200 and re.search("locked", page.text, re.I)

    # suspended users are told why
    with session_of(app) as s, s.begin():
        provisioning.set_status(s, cid, "suspended", actor="test", reason="chargeback")
    outbox.apply_pending(factory, solus)
    with session_of(app) as s, pytest.raises(sso.SSOError) as exc:
        sso.login_url(s, cid, solus, template)
    assert "suspended" in exc.value.message and "chargeback" in exc.value.message
    assert ns.journal.count(method="POST", path=f"/api/v1/users/{user_id(app, cid)}/tokens") == 2


def test_sso_errors(app, server, ns):
    solus = live_client(server, ns)
    factory = app.extensions["bridge_db"]["session_factory"]
    cid = new_client(app, "bo@example.com")
    with session_of(app) as s, pytest.raises(sso.SSOError, match="being set up"):
        sso.login_url(s, cid, solus)
    outbox.apply_pending(factory, solus)
    ns.faults.add(method="POST", path="/api/v1/users/*/tokens", status=503)
    with session_of(app) as s, pytest.raises(sso.SSOError, match="cannot be reached"):
        sso.login_url(s, cid, solus)
    ns.faults.clear()
    with session_of(app) as s, pytest.raises(sso.SSOError, match="misconfigured"):
        sso.login_url(s, cid, solus, "{solusvm_url}/x?t={token}&{nope}")
    with session_of(app) as s:
        url = sso.login_url(s, cid, solus)
    assert url.startswith(f"{server.url}/auth/by_token?token=")


def test_timeout_mid_create_lands_exactly_once(app, server, ns):
    """The first POST times out on the bridge's side but SolusVM creates the user anyway."""
    solus = live_client(server, ns, timeout=0.5, retries=0)
    factory = app.extensions["bridge_db"]["session_factory"]
    cid = new_client(app, "slow@example.com")
    ns.faults.add(method="POST", path="/api/v1/users", delay=1.5, times=1)
    t0 = datetime.now(UTC)
    report = outbox.apply_pending(factory, solus, now=t0)
    assert report.pending == 1 and "unreachable" in report.errors[0]
    later = outbox.apply_pending(factory, live_client(server, ns), now=t0 + timedelta(minutes=5))
    assert later.applied == 1
    users = [u for u in ns.state()["users"] if u["email"] == "slow@example.com"]
    assert len(users) == 1 and users[0]["billing_user_id"] == cid
    assert user_id(app, cid) == users[0]["id"]
    assert ns.journal.count(method="POST", path="/api/v1/users") == 1  # linked, not created twice


def test_dropped_connection_and_5xx_mid_run(app, server, ns):
    solus = live_client(server, ns)
    factory = app.extensions["bridge_db"]["session_factory"]
    a, b = new_client(app, "a.drop@example.com"), new_client(app, "b.drop@example.com")
    assert outbox.apply_pending(factory, solus).applied == 2
    with session_of(app) as s, s.begin():
        provisioning.set_status(s, a, "suspended", actor="test")
        provisioning.set_status(s, b, "locked", actor="test")
    ns.faults.add(method="PUT", path=f"/api/v1/users/{user_id(app, a)}", drop=True, times=2)
    ns.faults.add(method="PUT", path=f"/api/v1/users/{user_id(app, b)}", status=500, times=2)
    t0 = datetime.now(UTC)
    report = outbox.apply_pending(factory, solus, now=t0)
    assert (report.applied, report.pending) == (0, 2)
    report = outbox.apply_pending(factory, solus, now=t0 + timedelta(minutes=2))
    assert report.applied == 2
    users = {u["id"]: u for u in ns.state()["users"]}
    assert users[user_id(app, a)]["status"] == "suspended" and users[user_id(app, b)]["status"] == "locked"
    for cid, want in ((a, "suspended"), (b, "locked")):
        ok = [r for r in ns.journal.requests(method="PUT", path=f"/api/v1/users/{user_id(app, cid)}")
              if r["status"] == 200]
        assert [r["body"] for r in ok] == [{"status": want}]
    creates = ns.journal.requests(method="POST", path="/api/v1/users")
    assert all(r["body"]["billing_user_id"] in (a, b) for r in creates)

