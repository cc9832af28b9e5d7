"""Reconciliation: from a deliberately inconsistent mock to a consistent one (twice: nothing left)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.models import Client, Outbox, utcnow
from bridge.services import clients, outbox, provisioning, sync
from tests.users.conftest import session_of


def make(s: Any, email: str, *, enrolled: bool = True, user_id: int | None = None, status: str = "Active") -> int:
    c = clients.create(s, {"firstname": "A", "lastname": "B", "email": email, "status": status}, actor="test")
    if enrolled:
        c.enrolled_at = utcnow()
    c.solusvm_user_id = user_id
    s.flush()
    return c.id


def test_inconsistent_mock_becomes_consistent(app, factory, solus, mock):
    with session_of(app) as s, s.begin():
        ann = make(s, "ann@example.com")                        # enrolled, never linked
        bob = make(s, "bob@example.com", user_id=3)             # SolusVM status wrong
        cat = make(s, "cat@example.com", user_id=4)             # SolusVM e-mail wrong
        dan = make(s, "dan@example.com", user_id=50)            # SolusVM user missing
        eve = make(s, "eve@example.com", user_id=6, status="Closed")  # closed: must be suspended
        provisioning.save_holds(s, bob, {"admin": "locked", "queued_status": "locked"})
    fillers = [{"id": 100 + i, "email": f"ok{i}@example.com", "status": "locked", "billing_user_id": None}
               for i in range(3)]
    mock.seed({
        "settings": {"features": {"allow_registration": True}},
        "users": [
            {"id": 1, "email": "ANN@example.com", "status": "active", "billing_user_id": None},
            {"id": 2, "email": "stranger@example.com", "status": "active", "billing_user_id": 999},
            {"id": 3, "email": "bob@example.com", "status": "active", "billing_user_id": bob},
            {"id": 4, "email": "old-cat@example.com", "status": "active", "billing_user_id": cat},
            {"id": 5, "email": "self-registered@example.com", "status": "active", "billing_user_id": None},
            {"id": 6, "email": "eve@example.com", "status": "active", "billing_user_id": eve},
            *fillers,
        ]})

    with session_of(app) as s:
        report = sync.reconcile(s, solus, per_page=2)  # every page is walked
    assert report.users_seen == 9
    kinds = {(f.kind, f.user_id) for f in report.findings}
    assert kinds == {("unlinked", 1), ("orphaned", 2), ("wrong_status", 3), ("wrong_email", 4),
                     ("missing", 50), ("wrong_status", 6)}
    assert any("allow_registration" in w for w in report.warnings)
    assert len(report.unknown) == 5  # stranger, self-registered, three fillers
    assert not any(f.fixed for f in report.findings)
    assert mock.journal.count(method="PUT") == 0 and mock.journal.count(method="PATCH") == 0  # report only

    with session_of(app) as s, s.begin():
        report = sync.reconcile(s, solus, fix=True, lock_unknown=True, per_page=2)
    assert report.errors == [] and all(f.fixed for f in report.findings)
    assert {f.kind for f in report.findings} >= {"unknown_active"}
    users = mock.backend.users
    assert users[1]["billing_user_id"] == ann and users[1]["status"] == "active"
    assert 2 not in users  # linked to a client that does not exist: deleted
    assert users[3]["status"] == "locked" and users[4]["email"] == "cat@example.com"
    assert users[5]["status"] == "locked" and users[6]["status"] == "suspended"
    with session_of(app) as s:
        assert s.get(Client, ann).solusvm_user_id == 1
        assert [r.kind for r in s.scalars(select(Outbox).where(Outbox.client_id == dan))] == ["create", "status"]
    # the re-queued creation (and billing's status) land through the outbox
    assert outbox.apply_pending(factory, solus).applied == 2

    with session_of(app) as s:
        again = sync.reconcile(s, solus, fix=False, lock_unknown=True, per_page=2)
    assert again.findings == [] and again.errors == [] and again.consistent
    with session_of(app) as s:
        assert s.get(Client, dan).solusvm_user_id not in (None, 50)


def test_clients_with_queued_changes_are_left_to_the_outbox(app, factory, solus, mock):
    with session_of(app) as s, s.begin():
        cid = make(s, "fay@example.com", user_id=7)
        provisioning.queue_change(s, cid, "status", {"status": "locked"}, actor="test")
    mock.seed({"users": [{"id": 7, "email": "fay@example.com", "status": "active", "billing_user_id": cid}]})
    mock.faults.add(method="PUT", path="/api/v1/users/7", status=503)
    outbox.apply_pending(factory, solus)
    with session_of(app) as s:
        report = sync.reconcile(s, solus)
    assert report.findings == [] and report.pending == [cid]


def test_solusvm_down_during_fix_is_reported_not_raised(app, solus, mock):
    with session_of(app) as s, s.begin():
        cid = make(s, "gus@example.com", user_id=8, status="Closed")
    mock.seed({"users": [{"id": 8, "email": "gus@example.com", "status": "active", "billing_user_id": cid}]})
    mock.faults.add(method="PUT", path="/api/v1/users/8", status=503)
    with session_of(app) as s, s.begin():
        report = sync.reconcile(s, solus, fix=True)
    assert [f.kind for f in report.findings] == ["wrong_status"] and not report.findings[0].fixed
    assert report.errors and "503" in report.errors[0]


def test_user_deleted_in_solusvm_is_recreated_with_billings_state(app, factory, solus, mock):
    import requests

    from tests.users.conftest import ADMIN, BASE

    with session_of(app) as s, s.begin():
        cid = make(s, "hal@example.com", enrolled=False)
        provisioning.enroll_client(s, cid, actor="test")
    outbox.apply_pending(factory, solus)
    with session_of(app) as s:
        old_uid = s.get(Client, cid).solusvm_user_id
    assert requests.delete(f"{BASE}/api/v1/users/{old_uid}", headers={"Authorization": f"Bearer {ADMIN}"},
                           timeout=5).status_code == 204
    with session_of(app) as s, s.begin():
        provisioning.set_status(s, cid, "locked", actor="test")
    report = outbox.apply_pending(factory, solus)
    assert report.failed == 1 and "no longer exists" in report.errors[0] and "sync --fix" in report.errors[0]

    with session_of(app) as s, s.begin():
        fixed = sync.reconcile(s, solus, fix=True)
    assert [f.kind for f in fixed.findings] == ["missing"] and fixed.findings[0].fixed
    assert outbox.apply_pending(factory, solus).failed == 0
    with session_of(app) as s:
        new_uid = s.get(Client, cid).solusvm_user_id
        assert outbox.pending_changes(s, cid) == []
    assert new_uid not in (None, old_uid)
    assert mock.backend.users[new_uid]["status"] == "locked"
    with session_of(app) as s:
        assert sync.reconcile(s, solus).consistent


def test_registration_warning_follows_the_settings(app, solus, mock):
    mock.seed({"settings": {"features": {"allow_registration": False}}})
    with session_of(app) as s:
        assert sync.reconcile(s, solus).warnings == []
    mock.seed({"settings": {"features": {"allow_registration": True}}})
    with session_of(app) as s:
        assert any("allow_registration" in w for w in sync.reconcile(s, solus).warnings)
