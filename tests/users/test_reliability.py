"""No SolusVM user left behind, no request waiting on SolusVM past its budget.

A live MockServer per test (its ``default`` namespace, so the bridge app needs no namespace
header), faults through the control API, the WHMCS API as the caller; SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bridge.models import Client, Outbox
from bridge.services import credentials, outbox, sync
from bridge.services.solusvm_client import SolusVMClient, SolusVMUnavailable
from mock_solusvm.server import MockServer
from tests.bridge.conftest import CLIENT, build_app, db_url, pg_database, pg_reset_engine, session_of  # noqa: F401

ADMIN = "reliability-admin-token"


@pytest.fixture
def live() -> Iterator[MockServer]:
    with MockServer(port=0, api_tokens=[ADMIN]) as srv:
        yield srv


@pytest.fixture
def ctl(live: MockServer) -> Any:
    return live.control("default")


@pytest.fixture
def app(db_url: str, tmp_path: Any, live: MockServer) -> Iterator[Any]:  # noqa: F811
    # A normal per-call timeout and retries; the request budget is what bounds a request.
    application = build_app(db_url, tmp_path, SOLUSVM_URL=live.url, SOLUSVM_API_TOKEN=ADMIN, SOLUSVM_TIMEOUT=10,
                            SOLUSVM_RETRIES=2, SOLUSVM_REQUEST_BUDGET=1, OUTBOX_MAX_ATTEMPTS=5)
    yield application
    application.extensions["bridge_db"]["engine"].dispose()


@pytest.fixture
def api(app: Any) -> Any:
    with session_of(app) as s, s.begin():
        cred = credentials.create(s, "tests", actor="test")
    http = app.test_client()

    def call(action: str, **params: Any) -> dict[str, Any]:
        resp = http.post("/includes/api.php", data={"action": action, "identifier": cred.identifier,
                                                     "secret": cred.secret, "responsetype": "json", **params})
        assert resp.status_code == 200, resp.get_data(as_text=True)  # never a bare 500
        return resp.get_json()

    return call


def cron_client(live: MockServer) -> SolusVMClient:
    """What the cron uses: no budget, retries without sleeping (the test need not wait)."""
    c = SolusVMClient(live.url, ADMIN, retries=2, timeout=5, sleep=lambda _s: None)
    c.options = {"outbox_max_attempts": 5, "outbox_retry_seconds": 60}
    return c


def users_with(ctl: Any, email: str) -> list[dict[str, Any]]:
    return [u for u in ctl.state()["users"] if u["email"] == email]


def wait_for_user(ctl: Any, email: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = users_with(ctl, email)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"SolusVM never created {email}")


def rows(app: Any) -> list[tuple[str, str]]:
    with session_of(app) as s:
        return [(r.kind, r.status) for r in s.scalars(select(Outbox).order_by(Outbox.id))]


def enrolled_with_lost_answer(api: Any, ctl: Any, email: str) -> tuple[int, dict[str, Any]]:
    """Enrol a client while SolusVM answers the create later than the budget: SolusVM creates
    the user, the bridge never hears of it (the client has no solusvm_user_id, the create is pending)."""
    cid = int(api("AddClient", **{**CLIENT, "email": email})["clientid"])
    ctl.faults.add(method="POST", path="/api/v1/users", delay=2.0, times=1)
    state = api("SolusVMEnrollClient", clientid=cid)
    assert state["result"] == "success" and state["pendingchanges"] == "1" and state["solusvm_user_id"] in ("", "0")
    user = wait_for_user(ctl, email)
    assert user["billing_user_id"] == cid and user["status"] == "active"
    return cid, user


def test_deleting_a_client_whose_create_answer_was_lost_deletes_its_solusvm_user(app, api, ctl):
    cid, user = enrolled_with_lost_answer(api, ctl, "lost@example.com")
    answer = api("DeleteClient", clientid=cid)
    assert answer["result"] == "success" and answer["solusvm_user_deletion"] == "pending"
    assert users_with(ctl, "lost@example.com") == []  # found by e-mail + billing id, deleted after commit
    assert rows(app) == [("create", "cancelled"), ("delete", "done")]
    with session_of(app) as s:
        assert s.get(Client, cid) is None


def test_the_orphan_deletion_survives_solusvm_being_down(app, api, ctl, live):
    cid, user = enrolled_with_lost_answer(api, ctl, "down@example.com")
    rule = ctl.faults.add(method="GET", path="/api/v1/users", status=503)
    answer = api("DeleteClient", clientid=cid)
    assert answer["result"] == "success" and answer["solusvm_user_deletion"] == "pending"
    assert rows(app) == [("create", "cancelled"), ("delete", "pending")]
    assert users_with(ctl, "down@example.com")  # still there: SolusVM was down
    ctl.faults.clear()
    assert rule["id"]
    factory = app.extensions["bridge_db"]["session_factory"]
    from datetime import UTC, datetime, timedelta

    report = outbox.apply_pending(factory, cron_client(live), now=datetime.now(UTC) + timedelta(hours=1))
    assert report.applied == 1, report.errors
    assert users_with(ctl, "down@example.com") == []
    assert rows(app)[-1] == ("delete", "done")


def test_a_user_of_someone_else_with_the_same_email_is_never_deleted(app, api, ctl):
    cid = int(api("AddClient", **{**CLIENT, "email": "shared@example.com"})["clientid"])
    ctl.faults.add(method="POST", path="/api/v1/users", status=503)  # the create never lands
    api("SolusVMEnrollClient", clientid=cid)
    ctl.faults.clear()
    ctl.seed({"users": [{"id": 40, "email": "shared@example.com", "status": "active", "billing_user_id": 999}]})
    api("DeleteClient", clientid=cid)
    assert [u["id"] for u in users_with(ctl, "shared@example.com")] == [40]
    assert rows(app) == [("create", "cancelled"), ("delete", "done")]


def test_users_sync_reports_then_fix_removes_users_of_deleted_clients(app, api, ctl, live):
    ctl.seed({"users": [{"id": 41, "email": "gone@example.com", "status": "active", "billing_user_id": 4242},
                        {"id": 42, "email": "other@example.com", "status": "active", "billing_user_id": None}]})
    with session_of(app) as s:
        report = sync.reconcile(s, cron_client(live))
    [finding] = report.of("orphaned")
    assert finding.user_id == 41 and "does not exist" in finding.detail and not finding.fixed
    assert len(users_with(ctl, "gone@example.com")) == 1  # report only
    with session_of(app) as s, s.begin():
        fixed = sync.reconcile(s, cron_client(live), fix=True)
    assert fixed.of("orphaned")[0].fixed and fixed.errors == []
    assert users_with(ctl, "gone@example.com") == [] and len(users_with(ctl, "other@example.com")) == 1


def test_users_sync_fix_leaves_an_orphan_with_servers_and_says_so(app, ctl, live):
    ctl.seed({"users": [{"id": 43, "email": "busy@example.com", "status": "active", "billing_user_id": 4343}],
              "servers": [{"id": 9, "name": "vm-9", "user_id": 43, "plan_id": 1, "location_id": 1,
                           "created_at": "2026-10-01T00:00:00Z", "deleted_at": None}]})
    with session_of(app) as s, s.begin():
        report = sync.reconcile(s, cron_client(live), fix=True)
    assert not report.of("orphaned")[0].fixed
    assert "still owns 1 servers" in report.errors[0]
    assert len(users_with(ctl, "busy@example.com")) == 1


# --- the request budget -------------------------------------------------------------------------


def linked_client(api: Any, ctl: Any, email: str) -> tuple[int, int]:
    cid = int(api("AddClient", **{**CLIENT, "email": email})["clientid"])
    state = api("SolusVMEnrollClient", clientid=cid)
    assert state["solusvm_user_id"], state
    return cid, int(state["solusvm_user_id"])


def test_delete_client_with_solusvm_slow_after_commit_answers_pending_within_the_budget(app, api, ctl, live):
    """SolusVM takes 3 s per deletion, the budget is 1 s: the committed delete is answered, the
    SolusVM part stays in the outbox, and the cron finishes it."""
    cid, uid = linked_client(api, ctl, "slow@example.com")
    ctl.faults.add(method="DELETE", path="/api/v1/users/*", delay=3.0)
    answer = api("DeleteClient", clientid=cid)
    assert answer["result"] == "success" and answer["solusvm_user_deletion"] == "pending"
    assert rows(app)[-1] == ("delete", "pending")  # not waited for
    with session_of(app) as s:
        assert s.get(Client, cid) is None  # the deletion itself is committed
    ctl.faults.clear()
    from datetime import UTC, datetime, timedelta

    factory = app.extensions["bridge_db"]["session_factory"]
    outbox.apply_pending(factory, cron_client(live), now=datetime.now(UTC) + timedelta(hours=1))
    assert rows(app)[-1] == ("delete", "done")
    assert uid not in {u["id"] for u in ctl.state()["users"]}


def test_delete_client_with_solusvm_slow_before_commit_is_refused_cleanly(app, api, ctl):
    cid, uid = linked_client(api, ctl, "slower@example.com")
    ctl.faults.add(method="GET", path="/api/v1/servers", delay=3.0)
    answer = api("DeleteClient", clientid=cid)
    assert answer["result"] == "error" and "nothing was deleted" in answer["message"]
    with session_of(app) as s:
        assert s.get(Client, cid) is not None


def test_login_link_with_solusvm_slow_is_an_error_within_the_budget(app, api, ctl):
    cid, uid = linked_client(api, ctl, "sso@example.com")
    ctl.faults.add(method="GET", path="/api/v1/users/*", delay=3.0)
    answer = api("SolusVMGetLoginURL", clientid=cid)
    assert answer["result"] == "error" and "cannot be reached" in answer["message"]


def test_the_budget_caps_every_call_and_retry_of_a_client(live, ctl):
    ctl.faults.add(method="GET", path="/api/v1/account", delay=1.5)
    solus = SolusVMClient(live.url, ADMIN, retries=10, timeout=10, backoff=0.01, budget=1.0)
    with pytest.raises(SolusVMUnavailable):
        solus.account()  # its one try is cut at the 1 s left, and no retry fits any more
    with pytest.raises(SolusVMUnavailable, match="budget"):
        solus.account()  # the budget is spent: nothing is even sent
    assert solus.stats["calls"] == 1  # one request sent, not 11, nor 22
