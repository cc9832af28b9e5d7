"""Provisioning and the outbox against the in-process mock: create/link, order, faults, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bridge.models import Client, Outbox
from bridge.services import outbox, provisioning
from tests.bridge.conftest import db_url, pg_database, pg_reset_engine  # noqa: F401 - fixtures
from tests.users.conftest import ADMIN, BASE, build_app, session_of


@pytest.fixture
def app(db_url: str, tmp_path: Any, mock: Any) -> Any:  # noqa: F811 - these run on SQLite and PostgreSQL
    application = build_app(db_url, tmp_path, SOLUSVM_URL=BASE, SOLUSVM_API_TOKEN=ADMIN, SOLUSVM_RETRIES=0,
                            OUTBOX_MAX_ATTEMPTS=3)
    yield application
    application.extensions["bridge_db"]["engine"].dispose()

USERS = "/api/v1/users"


def enroll(app: Any, client_id: int) -> None:
    with session_of(app) as s, s.begin():
        provisioning.enroll_client(s, client_id, actor="test")


def client_row(app: Any, client_id: int) -> Client:
    with session_of(app) as s:
        return s.get(Client, client_id)


def rows(app: Any, client_id: int | None = None) -> list[Outbox]:
    with session_of(app) as s:
        stmt = select(Outbox).order_by(Outbox.id)
        if client_id is not None:
            stmt = stmt.where(Outbox.client_id == client_id)
        return list(s.scalars(stmt))


def created(mock: Any) -> list[dict[str, Any]]:
    return [r for r in mock.journal.requests(method="POST", path=USERS) if r["status"] == 201]


def test_enrol_creates_user_with_billing_user_id(app, factory, solus, mock, make_client):
    cid = make_client()
    enroll(app, cid)
    assert [r.kind for r in rows(app, cid)] == ["create"]
    assert mock.journal.count(method="POST", path=USERS) == 0  # enrolling only queues

    report = outbox.apply_pending(factory, solus)
    assert (report.applied, report.failed, report.pending) == (1, 0, 0)
    c = client_row(app, cid)
    user = mock.backend.users[c.solusvm_user_id]
    assert user["email"] == c.email and user["billing_user_id"] == cid and user["status"] == "active"
    posts = created(mock)
    assert len(posts) == 1 and posts[0]["body"]["billing_user_id"] == cid
    # the random password went to SolusVM only: it is not kept in the outbox payload
    assert "password" not in rows(app, cid)[0].payload
    assert rows(app, cid)[0].status == "done"


def test_enrolling_twice_queues_one_create(app, factory, solus, mock, make_client):
    cid = make_client()
    enroll(app, cid)
    enroll(app, cid)
    assert len(rows(app, cid)) == 1


def test_existing_user_with_exact_email_is_linked_not_duplicated(app, factory, solus, mock, make_client):
    mock.seed({"users": [{"id": 40, "email": "x-ann@example.com", "status": "active", "billing_user_id": None},
                         {"id": 41, "email": "ANN@example.com", "status": "locked", "billing_user_id": None}]})
    cid = make_client(email="ann@example.com")
    enroll(app, cid)
    assert outbox.apply_pending(factory, solus).applied == 1
    assert client_row(app, cid).solusvm_user_id == 41
    assert mock.backend.users[41]["billing_user_id"] == cid
    assert mock.backend.users[41]["status"] == "active"  # billing is the master of the status
    assert mock.backend.users[40]["billing_user_id"] is None  # substring match ignored
    assert mock.journal.count(method="POST", path=USERS) == 0


def test_user_linked_to_another_client_is_a_clear_failure(app, factory, solus, mock, make_client):
    mock.seed({"users": [{"id": 5, "email": "bob@example.com", "status": "active", "billing_user_id": 999}]})
    cid = make_client(email="bob@example.com")
    enroll(app, cid)
    report = outbox.apply_pending(factory, solus)
    assert report.failed == 1 and "already linked to billing client 999" in report.errors[0]
    assert rows(app, cid)[0].status == "failed"
    assert mock.backend.users[5]["billing_user_id"] == 999


def test_5xx_keeps_change_pending_with_backoff_then_lands_once(app, factory, solus, mock, make_client):
    cid = make_client()
    enroll(app, cid)
    mock.faults.add(method="POST", path=USERS, status=503, times=3)  # outlasts the client's 2 retries
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    report = outbox.apply_pending(factory, solus, now=t0)
    assert (report.applied, report.pending) == (0, 1) and "503" in report.errors[0]
    row = rows(app, cid)[0]
    assert row.status == "pending" and row.attempts == 1 and "503" in row.last_error
    assert row.next_attempt_at is not None

    # Not due yet: nothing is sent.
    calls = mock.journal.count(method="POST", path=USERS)
    assert outbox.apply_pending(factory, solus, now=t0 + timedelta(seconds=30)).pending == 1
    assert mock.journal.count(method="POST", path=USERS) == calls

    assert outbox.apply_pending(factory, solus, now=t0 + timedelta(seconds=61)).applied == 1
    assert len(created(mock)) == 1
    assert [u["email"] for u in mock.backend.users.values()].count(client_row(app, cid).email) == 1
    # Applying again does nothing more.
    assert outbox.apply_pending(factory, solus, now=t0 + timedelta(hours=1)).applied == 0
    assert len(created(mock)) == 1


def test_dropped_connection_then_lands_exactly_once(app, factory, solus, mock, make_client):
    cid = make_client()
    enroll(app, cid)
    mock.faults.add(method="POST", path=USERS, drop=True, times=3)
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    assert outbox.apply_pending(factory, solus, now=t0).pending == 1
    assert "unreachable" in rows(app, cid)[0].last_error
    assert outbox.apply_pending(factory, solus, now=t0 + timedelta(days=1)).applied == 1
    assert len(created(mock)) == 1


def test_lost_answer_after_create_links_instead_of_duplicating(app, factory, solus, mock, make_client):
    """SolusVM created the user but the answer never arrived: the retry finds and links it."""
    cid = make_client()
    enroll(app, cid)
    email = client_row(app, cid).email
    # Simulate the lost answer: the user exists, unlinked, before the bridge "retries".
    mock.seed({"users": [{"id": 77, "email": email, "status": "active", "billing_user_id": None}]})
    assert outbox.apply_pending(factory, solus).applied == 1
    assert client_row(app, cid).solusvm_user_id == 77
    assert mock.journal.count(method="POST", path=USERS) == 0


def test_create_race_422_email_taken_links(app, factory, solus, mock, make_client):
    """A POST refused because the e-mail exists (the first POST did land) links the user."""
    cid = make_client()
    enroll(app, cid)
    email = client_row(app, cid).email
    mock.faults.add(method="GET", path=USERS, status=200,
                    body={"data": [], "links": {"next": None}, "meta": {"current_page": 1, "last_page": 1}}, times=1)
    mock.seed({"users": [{"id": 12, "email": email, "status": "active", "billing_user_id": None}]})
    mock.faults.add(method="GET", path=USERS, status=200,
                    body={"data": [], "links": {"next": None}, "meta": {"current_page": 1, "last_page": 1}}, times=1)
    assert outbox.apply_pending(factory, solus).applied == 1
    assert client_row(app, cid).solusvm_user_id == 12
    assert mock.backend.users[12]["billing_user_id"] == cid


def test_changes_apply_in_order_and_failure_blocks_only_that_client(app, factory, solus, mock, make_client):
    a, b = make_client(), make_client()
    enroll(app, a)
    enroll(app, b)
    assert outbox.apply_pending(factory, solus).applied == 2
    with session_of(app) as s, s.begin():
        provisioning.set_status(s, a, "locked", actor="test")
        provisioning.queue_change(s, a, "email", {"email": "new-a@example.com"}, actor="test")
        provisioning.set_status(s, a, "active", actor="test")
        provisioning.set_status(s, b, "suspended", actor="test")
    ua, ub = client_row(app, a).solusvm_user_id, client_row(app, b).solusvm_user_id
    mock.journal.clear()
    # a's first change keeps failing: a's later changes wait, b's proceed.
    mock.faults.add(method="PUT", path=f"{USERS}/{ua}", status=500)
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    report = outbox.apply_pending(factory, solus, now=t0)
    assert report.applied == 1 and report.pending == 3
    assert mock.backend.users[ub]["status"] == "suspended"
    assert mock.journal.count(method="PATCH", path=f"{USERS}/{ua}") == 0
    for i in range(1, 3):
        outbox.apply_pending(factory, solus, now=t0 + timedelta(days=i))
    first = rows(app, a)[1]
    assert first.status == "failed" and first.attempts == 3  # OUTBOX_MAX_ATTEMPTS
    assert [r.status for r in rows(app, a)[2:]] == ["pending", "pending"]
    with session_of(app) as s:
        assert [r.id for r in outbox.pending_changes(s, a)] == [r.id for r in rows(app, a)[1:]]

    mock.faults.clear()
    mock.journal.clear()
    with session_of(app) as s, s.begin():
        assert outbox.retry_failed(s) == 1
    assert outbox.apply_pending(factory, solus, now=t0 + timedelta(days=5)).applied == 3
    order = [(r["method"], r["body"]) for r in mock.journal.requests() if r["path"] == f"{USERS}/{ua}"]
    assert order == [("PUT", {"status": "locked"}), ("PATCH", {"email": "new-a@example.com"}),
                     ("PUT", {"status": "active"})]
    assert mock.backend.users[ua]["status"] == "active"
    assert mock.backend.users[ua]["email"] == "new-a@example.com"


def test_4xx_fails_at_once_with_solusvm_message(app, factory, solus, mock, make_client):
    cid = make_client()
    enroll(app, cid)
    mock.faults.add(method="POST", path=USERS, status=422,
                    body={"message": "The given data was invalid.", "errors": {"password": ["too weak"]}})
    report = outbox.apply_pending(factory, solus)
    assert report.failed == 1
    row = rows(app, cid)[0]
    assert row.status == "failed" and row.attempts == 1 and "too weak" in row.last_error


def test_delete_applier(app, factory, solus, mock, make_client):
    mock.seed({"users": [{"id": 3, "email": "c@example.com", "status": "active", "billing_user_id": 1}],
               "servers": [{"id": 9, "name": "web", "user_id": 3, "plan_id": 1, "location_id": 1}]})
    refused = outbox.apply_delete
    try:
        refused(solus, {"delete_servers": False}, 3, None)
    except Exception as exc:  # noqa: BLE001
        assert "still owns 1 servers" in str(exc)
    else:
        raise AssertionError("deleting a user with servers must be refused without delete_servers")
    assert 3 in mock.backend.users
    outbox.apply_delete(solus, {"delete_servers": True}, 3, None)
    assert 3 not in mock.backend.users
    outbox.apply_delete(solus, {"delete_servers": True}, 3, None)  # already gone: done, no error


def test_a_change_being_applied_is_not_applied_by_a_second_run(app, factory, solus, mock, make_client,
                                                               monkeypatch):
    """A second run starting while the first is mid-call (cron and a web "try again") skips the change."""
    cid = make_client()
    enroll(app, cid)
    inner: list[Any] = []
    real = outbox.APPLIERS["create"]

    def create_while_another_run_starts(*args: Any) -> Any:
        if not inner:
            inner.append(outbox.apply_pending(factory, solus))  # the second run, mid-way through the first
        return real(*args)

    monkeypatch.setitem(outbox.APPLIERS, "create", create_while_another_run_starts)
    report = outbox.apply_pending(factory, solus)
    assert report.applied == 1
    assert (inner[0].applied, inner[0].pending) == (0, 1)
    assert len(created(mock)) == 1 and mock.journal.count(method="POST", path=USERS) == 1
    assert rows(app, cid)[0].status == "done" and rows(app, cid)[0].next_attempt_at is None
