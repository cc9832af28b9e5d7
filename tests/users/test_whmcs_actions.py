"""The lifecycle through /includes/api.php: custom SolusVM actions and the core client actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bridge.models import Client, Outbox
from bridge.services import outbox
from tests.users.conftest import ADMIN, BASE, fast_client, session_of

USERS = "/api/v1/users"


def user_of(app: Any, mock: Any, cid: int) -> dict[str, Any]:
    with session_of(app) as s:
        uid = s.get(Client, cid).solusvm_user_id
    assert uid is not None, "the client has no SolusVM user"
    return mock.backend.users[uid]


def enrolled(api: Any, make_client: Any, **kw: Any) -> int:
    cid = make_client(**kw)
    body = api("SolusVMEnrollClient", clientid=cid)
    assert body["result"] == "success", body
    return cid


def test_enroll_creates_user_at_once(app, api, mock, make_client):
    cid = make_client()
    body = api("SolusVMEnrollClient", clientid=cid)
    assert body["result"] == "success" and body["enrolled"] is True
    user = user_of(app, mock, cid)
    assert user["billing_user_id"] == cid and user["status"] == "active"
    posts = mock.journal.requests(method="POST", path=USERS)
    assert len(posts) == 1 and posts[0]["body"]["billing_user_id"] == cid
    state = api("SolusVMSyncStatus", clientid=cid)
    assert state["solusvm_user_id"] == str(user["id"]) and state["pendingchanges"] == "0"


def test_lock_unlock_suspend_unsuspend(app, api, mock, make_client):
    cid = enrolled(api, make_client)
    for action, want in [("SolusVMLockClient", "locked"), ("SolusVMUnlockClient", "active"),
                         ("SolusVMSuspendClient", "suspended"), ("SolusVMUnsuspendClient", "active")]:
        body = api(action, clientid=cid, reason="testing")
        assert body["result"] == "success" and body["solusvm_status"] == want, body
        assert user_of(app, mock, cid)["status"] == want


def test_bad_inputs_are_whmcs_errors(app, api, mock, make_client):
    cid = make_client()
    assert api("SolusVMLockClient") == {"result": "error", "message": "Client ID Not Found"}
    assert api("SolusVMLockClient", clientid="abc") == {"result": "error", "message": "Client ID Not Found"}
    assert api("SolusVMLockClient", clientid=99999) == {"result": "error", "message": "Client ID Not Found"}
    assert api("SolusVMLockClient", clientid=cid) == {"result": "error",
                                                     "message": "The client is not enrolled for SolusVM"}
    assert api("SolusVMLockClient", clientid=cid, reason="x" * 501)["result"] == "error"
    assert api("SolusVMSyncStatus", retryfailed="maybe") == {"result": "error",
                                                            "message": "Invalid value for retryfailed"}
    assert api("SolusVMGetLoginURL", clientid=cid) == {"result": "error",
                                                      "message": "Your account is not enrolled for SolusVM yet"}
    with session_of(app) as s:
        assert s.scalars(select(Outbox)).all() == []  # nothing half-written


def test_email_change_and_close_propagate(app, api, mock, make_client):
    cid = enrolled(api, make_client)
    assert api("UpdateClient", clientid=cid, email="renamed@example.com")["result"] == "success"
    assert user_of(app, mock, cid)["email"] == "renamed@example.com"
    assert mock.journal.requests(method="PATCH")[-1]["body"] == {"email": "renamed@example.com"}
    assert api("CloseClient", clientid=cid)["result"] == "success"
    assert user_of(app, mock, cid)["status"] == "suspended"
    # an admin unsuspend cannot undo Closed: billing's account status wins
    assert api("SolusVMUnsuspendClient", clientid=cid)["solusvm_status"] == "suspended"


def test_delete_client_refuses_while_servers_exist(app, api, mock, make_client):
    cid = enrolled(api, make_client)
    uid = user_of(app, mock, cid)["id"]
    resp = _create_server(mock, uid)
    assert resp.status_code == 201, resp.text
    body = api("DeleteClient", clientid=cid)
    assert body["result"] == "error"
    assert body["message"] == ("Client Delete Failed: the SolusVM user still owns 1 server; "
                               "pass deleteservers=1 to delete them first")
    with session_of(app) as s:
        assert s.get(Client, cid) is not None
    assert uid in mock.backend.users

    assert api("DeleteClient", clientid=cid, deleteservers=1)["result"] == "success"
    with session_of(app) as s:
        assert s.get(Client, cid) is None
    assert uid not in mock.backend.users
    assert mock.journal.count(method="DELETE", path=f"{USERS}/{uid}") == 1


def test_delete_client_when_solusvm_down_deletes_nothing(app, api, mock, make_client):
    cid = enrolled(api, make_client)
    uid = user_of(app, mock, cid)["id"]
    mock.faults.add(method="GET", path="/api/v1/servers", status=503)
    body = api("DeleteClient", clientid=cid)
    assert body["result"] == "error" and "SolusVM is unreachable" in body["message"]
    with session_of(app) as s:
        assert s.get(Client, cid) is not None
    assert uid in mock.backend.users
    mock.faults.clear()
    assert api("DeleteClient", clientid=cid)["result"] == "success"
    assert uid not in mock.backend.users


def test_delete_unprovisioned_client_cancels_its_queue(app, api, mock, make_client):
    cid = make_client()
    mock.faults.add(method="POST", path=USERS, status=503)
    assert api("SolusVMEnrollClient", clientid=cid)["pendingchanges"] == "1"
    deleted = api("DeleteClient", clientid=cid)
    assert deleted["result"] == "success" and deleted["solusvm_user_deletion"] == "pending"
    with session_of(app) as s:  # the create is cancelled; the deletion looked, found no user, is done
        assert [(r.kind, r.status) for r in s.scalars(select(Outbox).order_by(Outbox.id))] == [
            ("create", "cancelled"), ("delete", "done")]
    assert mock.journal.count(method="DELETE") == 0


def test_solusvm_down_change_waits_then_lands_once(app, api, factory, mock, make_client):
    cid = enrolled(api, make_client)
    uid = user_of(app, mock, cid)["id"]
    mock.faults.add(method="PUT", path=f"{USERS}/{uid}", status=502)
    body = api("SolusVMLockClient", clientid=cid)
    assert body["result"] == "success" and body["pendingchanges"] == "1"
    assert user_of(app, mock, cid)["status"] == "active"
    state = api("SolusVMSyncStatus", clientid=cid)
    change = state["changes"]["change"][0]
    assert change["kind"] == "status" and change["status"] == "pending" and "502" in change["last_error"]
    mock.faults.clear()
    report = outbox.apply_pending(factory, fast_client(), now=datetime.now(UTC) + timedelta(hours=2))
    assert report.applied == 1
    assert user_of(app, mock, cid)["status"] == "locked"
    ok = [r for r in mock.journal.requests(method="PUT", path=f"{USERS}/{uid}") if r["status"] == 200]
    assert [r["body"] for r in ok] == [{"status": "locked"}]


def _create_server(mock: Any, user_id: int) -> Any:
    import requests

    return requests.post(f"{BASE}/api/v1/servers", headers={"Authorization": f"Bearer {ADMIN}"},
                         json={"name": "web-1", "plan": 1, "location": 1, "os": 1, "user": user_id})


def test_deletion_that_fails_after_commit_is_finished_by_the_cron(app, api, factory, mock, make_client):
    cid = enrolled(api, make_client)
    uid = user_of(app, mock, cid)["id"]
    mock.faults.add(method="DELETE", path=f"{USERS}/{uid}", status=503, times=2)
    assert api("DeleteClient", clientid=cid)["result"] == "success"
    assert uid in mock.backend.users
    with session_of(app) as s:
        (row,) = s.scalars(select(Outbox).where(Outbox.kind == "delete")).all()
        assert row.client_id is None and row.solusvm_user_id == uid and row.status == "pending"
    state = api("SolusVMSyncStatus")
    assert state["totalresults"] == "1" and state["changes"]["change"][0]["kind"] == "delete"
    report = outbox.apply_pending(factory, fast_client(), now=datetime.now(UTC) + timedelta(hours=1))
    assert report.applied == 1 and uid not in mock.backend.users


def test_custom_actions_answer_xml_too(app, api, mock, make_client):
    from bridge.services import credentials

    cid = enrolled(api, make_client)
    assert api("SolusVMLockClient", clientid=cid)["solusvm_status"] == "locked"
    with session_of(app) as s, s.begin():
        cred = credentials.create(s, "xml", actor="test")
    xml = app.test_client().post("/includes/api.php", data={
        "action": "SolusVMSyncStatus", "identifier": cred.identifier, "secret": cred.secret,
        "responsetype": "xml", "clientid": cid})
    text = xml.get_data(as_text=True)
    assert xml.status_code == 200 and "<result>success</result>" in text
    assert "<solusvm_status>locked</solusvm_status>" in text


def _deleting_task(server_id: int) -> dict[str, Any]:
    return {"data": {"id": 900 + server_id, "compute_resource_id": 1, "queue": "default", "action": "vm-delete",
                     "status": "pending", "output": "", "progress": 0, "duration": 0,
                     "created_at": "2026-10-01T00:00:00Z"}}


def test_delete_client_with_servers_lands_once_the_servers_are_gone(app, api, mock, make_client):
    """SolusVM deletes a server in a task: until it is done, DELETE users/{id} answers
    422 errors.user. The queued user deletion waits (pending, retried) instead of failing."""
    cid = enrolled(api, make_client)
    uid = user_of(app, mock, cid)["id"]
    assert _create_server(mock, uid).status_code == 201
    [server] = [s for s in mock.backend.servers.values() if s["user_id"] == uid]
    # the server's deletion is accepted as a task but the server is still there for now
    mock.faults.add(method="DELETE", path=f"/api/v1/servers/{server['id']}", status=200,
                    body=_deleting_task(server["id"]), times=1)

    assert api("DeleteClient", clientid=cid, deleteservers=1)["result"] == "success"
    refusals = [r for r in mock.journal.requests(method="DELETE", path=f"{USERS}/{uid}") if r["status"] == 422]
    assert len(refusals) == 1 and uid in mock.backend.users  # refused while the server is being deleted
    with session_of(app) as s:
        [row] = s.scalars(select(Outbox).where(Outbox.kind == "delete")).all()
        assert (row.status, row.attempts, row.client_id) == ("pending", 1, None)
        assert "still being deleted" in row.last_error and row.next_attempt_at is not None

    # the next run (the cron) after the backoff: the server is gone now, so the user goes too
    solus = fast_client()
    report = outbox.apply_pending(app.extensions["bridge_db"]["session_factory"], solus,
                                  now=datetime.now(UTC) + timedelta(hours=1))
    assert (report.applied, report.failed, report.pending) == (1, 0, 0), report.errors
    assert uid not in mock.backend.users
    with session_of(app) as s:
        assert s.scalars(select(Outbox.status).where(Outbox.kind == "delete")).all() == ["done"]


def test_delete_client_user_refusal_is_retried_within_the_attempt_limit(app, api, mock, make_client):
    """A 422 errors.user that never clears is retried with the outbox's backoff, then fails
    after OUTBOX_MAX_ATTEMPTS (3 here) with SolusVM's reason; --retry-failed re-queues it."""
    cid = enrolled(api, make_client)
    uid = user_of(app, mock, cid)["id"]
    assert _create_server(mock, uid).status_code == 201
    mock.faults.add(method="DELETE", path=f"{USERS}/{uid}", status=422,
                    body={"message": "The user cannot be deleted while they own servers.",
                          "errors": {"user": ["The user still owns 1 server(s); delete them first."]}})
    assert api("DeleteClient", clientid=cid, deleteservers=1)["result"] == "success"
    factory = app.extensions["bridge_db"]["session_factory"]
    solus = fast_client()
    now = datetime.now(UTC)
    states = []
    for hours in (1, 2, 3):
        outbox.apply_pending(factory, solus, now=now + timedelta(hours=hours))
        with session_of(app) as s:
            row = s.scalars(select(Outbox).where(Outbox.kind == "delete")).one()
            states.append((row.status, row.attempts))
    assert states == [("pending", 2), ("failed", 3), ("failed", 3)]
    assert "still being deleted" in row.last_error
    assert uid in mock.backend.users

    mock.faults.clear()
    with session_of(app) as s, s.begin():
        assert outbox.retry_failed(s) == 1
    assert outbox.apply_pending(factory, solus, now=now + timedelta(hours=4)).applied == 1
    assert uid not in mock.backend.users
