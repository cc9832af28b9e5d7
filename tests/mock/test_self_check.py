"""VALIDATE_RESPONSES: the mock checks its own bodies against contracts.solusvm and fails loudly."""

from __future__ import annotations

from mock_solusvm import create_app
from mock_solusvm.wire import namespaces

ADMIN = {"Authorization": "Bearer mock-admin-token"}


def _break_a_user(app):
    backend = namespaces(app).get("default")
    app.test_client().post("/api/v1/users", json={"email": "a@example.com", "password": "p"}, headers=ADMIN)
    backend.users[1]["status"] = "zombie"  # a mock bug: not a SolusVM status


def test_contract_violation_is_a_loud_500_when_validating():
    app = create_app({"VALIDATE_RESPONSES": True})
    _break_a_user(app)
    r = app.test_client().get("/api/v1/users/1", headers=ADMIN)
    assert r.status_code == 500
    assert "contract violation" in r.get_json()["message"] and "status" in r.get_json()["message"]


def test_without_validation_the_body_is_sent_as_is():
    app = create_app({"VALIDATE_RESPONSES": False})
    _break_a_user(app)
    assert app.test_client().get("/api/v1/users/1", headers=ADMIN).get_json()["data"]["status"] == "zombie"
