"""``solus-bridge users ...`` against the in-process mock."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.flask_glue import settings_of
from bridge.models import Client
from bridge.services import clients, provisioning
from tests.users.conftest import ADMIN, BASE, session_of


@pytest.fixture
def cli(app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    env = {"BRIDGE_DATABASE_URL": settings_of(app).database_url, "BRIDGE_SECRET_KEY": "k", "BRIDGE_SOLUSVM_URL": BASE,
           "BRIDGE_SOLUSVM_API_TOKEN": ADMIN, "BRIDGE_SOLUSVM_RETRIES": "0", "BRIDGE_OUTBOX_MAX_ATTEMPTS": "3"}
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["users", *args], env=env, catch_exceptions=False)

    return run


def new_client(app: Any, email: str) -> int:
    with session_of(app) as s, s.begin():
        c = clients.create(s, {"firstname": "A", "lastname": "B", "email": email}, actor="test")
        return c.id


def status_in_mock(app: Any, mock: Any, cid: int) -> str:
    with session_of(app) as s:
        return mock.backend.users[s.get(Client, cid).solusvm_user_id]["status"]


def test_enroll_lock_unlock_suspend_unsuspend(app, mock, cli):
    cid = new_client(app, "cli@example.com")
    r = cli("enroll", str(cid))
    assert r.exit_code == 0 and "enrolled" in r.output
    for cmd, want in [("lock", "locked"), ("unlock", "active"), ("suspend", "suspended"), ("unsuspend", "active")]:
        r = cli(cmd, str(cid), "--reason", "cli test")
        assert r.exit_code == 0, r.output
        assert f"should be {want}" in r.output and status_in_mock(app, mock, cid) == want


def test_errors_are_clear(app, mock, cli):
    cid = new_client(app, "plain@example.com")
    r = cli("lock", str(cid))
    assert r.exit_code == 1 and "not enrolled for SolusVM" in r.output
    r = cli("lock", "999")
    assert r.exit_code == 1 and "Client ID Not Found" in r.output
    r = cli("lock", "zero")
    assert r.exit_code == 2


def test_pending_change_is_shown_then_sync_applies_it(app, mock, cli):
    cid = new_client(app, "down@example.com")
    assert cli("enroll", str(cid)).exit_code == 0
    with session_of(app) as s:
        uid = s.get(Client, cid).solusvm_user_id
    mock.faults.add(method="PUT", path=f"/api/v1/users/{uid}", status=503)
    r = cli("suspend", str(cid))
    assert r.exit_code == 1 and "pending" in r.output and "503" in r.output
    mock.faults.clear()
    r = cli("sync", "--no-apply")
    assert r.exit_code == 1 and "pending" in r.output  # not due yet and not applied
    with session_of(app) as s, s.begin():
        from bridge.models import Outbox
        for row in s.query(Outbox).filter(Outbox.status == "pending"):
            row.next_attempt_at = None  # due now
    r = cli("sync")
    assert r.exit_code == 0, r.output
    assert "1 applied" in r.output and "consistent" in r.output
    assert status_in_mock(app, mock, cid) == "suspended"


def test_sync_reports_and_fixes(app, mock, cli):
    mock.seed({"settings": {"features": {"allow_registration": True}},
               "users": [{"id": 9, "email": "outsider@example.com", "status": "active", "billing_user_id": None}]})
    r = cli("sync")
    assert r.exit_code == 0 and "allow_registration" in r.output and "outsider@example.com" in r.output
    r = cli("sync", "--fix", "--lock-unknown")
    assert r.exit_code == 0, r.output
    assert mock.backend.users[9]["status"] == "locked"


def test_delete_refuses_with_servers_then_deletes_with_flag(app, mock, cli):
    import requests

    cid = new_client(app, "del@example.com")
    assert cli("enroll", str(cid)).exit_code == 0
    with session_of(app) as s:
        uid = s.get(Client, cid).solusvm_user_id
    resp = requests.post(f"{BASE}/api/v1/servers", headers={"Authorization": f"Bearer {ADMIN}"},
                         json={"name": "db-1", "plan": 1, "location": 1, "os": 1, "user": uid})
    assert resp.status_code == 201
    r = cli("delete", str(cid))
    assert r.exit_code == 1 and "still owns 1 server" in r.output
    r = cli("delete", str(cid), "--delete-servers")
    assert r.exit_code == 0 and f"client {cid} deleted" in r.output
    assert uid not in mock.backend.users
    with session_of(app) as s:
        assert s.get(Client, cid) is None
        assert provisioning.holds(s, cid) == {}
