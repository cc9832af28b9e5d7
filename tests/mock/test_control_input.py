"""The control API refuses, when it is sent, what the mock could not serve later."""

from __future__ import annotations

import copy

import pytest

from mock_solusvm import create_app
from mock_solusvm.client import ControlError
from mock_solusvm.state import Namespaces, TooManyNamespaces

from .conftest import seed_doc


def _refused(call, *args):
    with pytest.raises(ControlError) as err:
        call(*args)
    assert err.value.status == 422, err.value.body
    return err.value.body["errors"]


@pytest.mark.parametrize("patch, field", [
    (("users", 0, "limit_group_id", {}), "users.0.limit_group_id"),
    (("users", 1, "language_id", {}), "users.1.language_id"),
    (("users", 0, "roles", ["2"]), "users.0.roles.0"),
    (("plans", 0, "backup_price", "abc"), "plans.0.backup_price"),
    (("plans", 1, "params", {"ram": "lots"}), "plans.1.params.ram"),
    (("plans", 2, "tokens_per_hour", 1.5), "plans.2.tokens_per_hour"),
    (("plans", 0, "limits", {"network_total_traffic": {"limit": "x"}}), "plans.0.limits.network_total_traffic.limit"),
    (("plans", 0, "storage_type", "floppy"), "plans.0.storage_type"),
])
def test_bad_seed_values_are_refused_naming_the_field(mock, patch, field):
    collection, index, key, value = patch
    doc = seed_doc()
    doc[collection][index][key] = value
    errors = _refused(mock.ctl.seed, doc)
    assert field in errors, errors
    # the namespace is still usable, and every API answer still works
    for path in ("/users", "/plans", "/settings"):
        assert mock.get(path).status_code == 200, path


def test_bad_settings_in_a_seed_are_refused(mock):
    for settings, field in (({"limit_group": {}}, "settings.limit_group"),
                            ({"registration": {"role": "nobody"}}, "settings.registration.role")):
        assert field in _refused(mock.ctl.seed, seed_doc(settings=settings))
    assert mock.get("/settings").status_code == 200


@pytest.mark.parametrize("rule, field", [
    ({"status": 503, "headers": {"Retry-After": "1\r\nX-Evil: 1"}}, "headers"),
    ({"status": 503, "headers": {"Retry-After": "ünïcødé ✓"}}, "headers"),
    ({"status": 503, "headers": {"Bad Name": "1"}}, "headers"),
    ({"status": 200, "headers": {"Content-Length": "999"}}, "headers"),
    ({"status": 100}, "status"),
    ({"status": 199}, "status"),
])
def test_fault_rules_the_mock_cannot_send_are_refused(mock, rule, field):
    errors = _refused(lambda: mock.ctl.faults.add(**rule))
    assert any(k.startswith(field) for k in errors), errors
    assert mock.get("/users").status_code == 200


def test_a_latin1_fault_header_is_sent(mock):
    mock.ctl.faults.add(status=503, headers={"Retry-After": "7", "X-Note": "café"}, times=1)
    r = mock.get("/users")
    assert r.status_code == 503 and r.headers["Retry-After"] == "7"


def test_restore_refuses_next_ids_that_reuse_a_live_id(mock):
    mock.post("/users", json={"email": "c@example.com", "password": "p"})
    dump = mock.ctl.state()
    bad = copy.deepcopy(dump)
    bad["next_ids"]["users"] = 2  # users 1, 2 and 3 exist
    errors = _refused(mock.ctl.restore, bad)
    assert "next_ids.users" in errors and "3" in errors["next_ids.users"][0]
    # nothing changed: a new user still gets a fresh id and nobody is overwritten
    r = mock.post("/users", json={"email": "d@example.com", "password": "p"})
    assert r.json()["data"]["id"] == 4
    assert mock.get("/users/2").json()["data"]["email"] == "bob@example.com"


def test_dumps_leave_out_password_hashes_unless_asked(mock):
    mock.post("/users", json={"email": "pw@example.com", "password": "secret-pw"})
    plain = mock.ctl.state()
    assert all(u["password_hash"] is None for u in plain["users"])
    assert "pbkdf2" not in str(plain)
    full = mock.ctl.state(password_hashes=True)
    assert [u["email"] for u in full["users"] if u["password_hash"]] == ["pw@example.com"]
    # a full dump restores logins; a plain one restores everything but them
    mock.ctl.restore(full)
    assert mock.post("/auth/login", json={"email": "pw@example.com", "password": "secret-pw"}).status_code == 200
    mock.ctl.restore(plain)
    assert mock.post("/auth/login", json={"email": "pw@example.com", "password": "secret-pw"}).status_code == 401


def test_journal_masks_tokens_in_query_strings(mock):
    mock.http.get(f"{mock.base}/auth/by_token", params={"token": "very-secret", "next": "/"}, timeout=10,
                  allow_redirects=False)
    entries = mock.ctl.journal.requests(path="/auth/by_token")
    assert entries and "very-secret" not in str(entries)
    assert entries[0]["query"] == "token=<redacted>&next=%2F"


# --- namespaces are bounded -----------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_namespaces_cap_and_idle_expiry():
    clock = _Clock()
    reg = Namespaces(max_namespaces=2, idle_seconds=60, now=clock)
    reg.get("a")
    reg.get("b")
    with pytest.raises(TooManyNamespaces) as err:
        reg.get("c")
    assert "maximum of 2 namespaces" in err.value.message
    clock.t += 30
    reg.get("a")  # a is used again; b goes idle
    clock.t += 45
    reg.get("c")  # b (idle 75 s) expired to make room
    assert reg.names() == ["a", "c"]


def test_the_app_answers_a_clear_error_past_the_maximum():
    app = create_app({"MAX_NAMESPACES": 2, "API_TOKENS": ["t"]})
    client = app.test_client()
    auth = {"Authorization": "Bearer t"}
    for name in ("default", "one"):
        assert client.get("/api/v1/plans", headers={**auth, "X-Mock-Namespace": name}).status_code == 200
    r = client.get("/api/v1/plans", headers={**auth, "X-Mock-Namespace": "two"})
    assert r.status_code == 507 and "MAX_NAMESPACES" in r.get_json()["message"]
    # dropping one makes room
    assert client.delete("/__mock/namespace", headers={"X-Mock-Namespace": "one"}).status_code == 204
    assert client.get("/api/v1/plans", headers={**auth, "X-Mock-Namespace": "two"}).status_code == 200


def test_restore_refuses_new_records_the_api_could_not_serve(mock):
    dump = mock.ctl.state()
    for table, record, where in (
            ("backups", {"id": 1, "server_id": 99, "created_at": "2026-10-01T00:00:00Z"}, "backups"),
            ("ssh_keys", {"id": 1, "name": "k", "user_id": 1}, "sshkey 1"),
            ("readonly", {"ip_blocks": [{"id": 1}]}, "ipblock 1")):
        bad = copy.deepcopy(dump)
        bad[table] = record if table == "readonly" else [record]
        if table != "readonly":
            bad["next_ids"][table] = 2
        errors = _refused(mock.ctl.restore, bad)
        assert where in str(errors), errors
    assert mock.get("/ssh_keys").status_code == 200 and mock.get("/ip_blocks").json()["meta"]["total"] == 1


def test_restore_refuses_a_bad_server_history(mock):
    mock.post("/servers", json={"name": "a", "plan": 1, "user": 1})
    mock.ctl.clock.advance(hours=1)
    sid = mock.get("/servers").json()["data"][0]["id"]
    mock.post(f"/servers/{sid}/resize", json={"plan_id": 2})
    mock.ctl.clock.advance(hours=1)
    dump = mock.ctl.state()
    bad = copy.deepcopy(dump)
    bad["servers"][0]["history"][1]["plan_id"] = 77
    assert "history" in str(_refused(mock.ctl.restore, bad))
    mock.ctl.restore(dump)
    assert [i["plan"]["id"] for i in mock.get("/usage").json()["data"]] == [1, 2]


def test_drop_forgets_the_namespace(mock):
    mock.post("/users", json={"email": "gone@example.com", "password": "p"})
    mock.ctl.drop()
    # back to the default fixture: no seeded users, the default plan
    assert mock.get("/users", params={"filter[search]": "gone@"}).json()["meta"]["total"] == 0
    assert [p["id"] for p in mock.get("/plans").json()["data"]] == [1]
