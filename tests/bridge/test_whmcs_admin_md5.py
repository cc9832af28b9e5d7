"""WHMCS External API log-in with a bridge admin's name + md5(password) (WHMCS's pre-7.2 mode)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from bridge import create_app, db
from bridge.cli import main
from bridge.models import Admin, AuditLog
from bridge.services import accounts
from tests.bridge.conftest import CLIENT, build_app, ok, session_of

URL = "/includes/api.php"
PASSWORD = "Correct-horse-9"
MD5 = hashlib.md5(PASSWORD.encode()).hexdigest()


def make_admin(app: Any, name: str = "root", password: str = PASSWORD) -> None:
    with session_of(app) as s, s.begin():
        accounts.create_admin(s, name, password)


def call(client: Any, username: str, password: str, action: str = "GetCurrencies", **extra: Any) -> Any:
    return client.post(URL, data={"action": action, "username": username, "password": password, **extra})


def refused(resp: Any) -> bool:
    return resp.status_code == 403 and resp.get_json() == {"result": "error", "message": "Authentication Failed"}


def test_admin_name_and_md5_authenticate_on_each_backend(app: Any, client: Any) -> None:
    make_admin(app)
    assert int(ok(call(client, "root", MD5))["totalresults"]) >= 1
    # The name as the log-in limits key it: case, full width and surrounding space do not matter.
    for variant in ("ROOT", " root\t", "\uff52\uff4f\uff4f\uff54"):
        assert ok(call(client, variant, MD5))["result"] == "success", variant
    # A write is audited as the admin, through the API.
    body = ok(call(client, "root", MD5, "AddClient", **CLIENT))
    with session_of(app) as s:
        actors = s.scalars(select(AuditLog.actor).where(AuditLog.action == "client.create")).all()
    assert body["clientid"] and actors == ["api-admin:root"]
    with session_of(app) as s:  # only salted hashes are kept, never the MD5 itself
        admin = s.scalar(select(Admin))
        assert admin.api_md5_hash and MD5 not in admin.api_md5_hash and MD5 not in admin.password_hash


@pytest.mark.parametrize("password", [
    hashlib.md5(b"Correct-horse-8").hexdigest(),  # another password's MD5
    PASSWORD,  # the plain password is not accepted in place of its MD5
    MD5.upper(),  # lowercase hex only
    f" {MD5}",
    MD5[:-1],
    "",
])
def test_anything_but_the_passwords_lowercase_md5_is_refused(app: Any, client: Any, password: str) -> None:
    make_admin(app)
    assert refused(call(client, "root", password))


def test_unknown_admin_and_md5_with_identifier_fields_are_refused(app: Any, client: Any) -> None:
    make_admin(app)
    assert refused(call(client, "nobody", MD5))
    # The admin form is username + password only; identifier/secret mean an API credential.
    assert refused(client.post(URL, data={"action": "GetCurrencies", "identifier": "root", "secret": MD5}))
    assert refused(client.post(URL, data={"action": "GetCurrencies", "username": "root", "secret": MD5}))


def test_two_admins_with_one_identity_match_only_by_exact_name(app: Any, client: Any) -> None:
    make_admin(app, "root")
    make_admin(app, "Root", "Other-horse-7")
    assert ok(call(client, "root", MD5))["result"] == "success"
    assert ok(call(client, "Root", hashlib.md5(b"Other-horse-7").hexdigest()))["result"] == "success"
    assert refused(call(client, "ROOT", MD5))  # ambiguous: matches nobody


def test_admin_with_two_factor_log_in_is_refused(app: Any, client: Any) -> None:
    # The API cannot ask for the code, so name + MD5 would skip the second factor.
    make_admin(app)
    assert ok(call(client, "root", MD5))["result"] == "success"
    with session_of(app) as s, s.begin():
        s.scalar(select(Admin)).totp_enabled = True
    assert refused(call(client, "root", MD5))


def test_admin_without_verifier_is_refused_until_the_password_is_set_again(app: Any, client: Any) -> None:
    make_admin(app)
    with session_of(app) as s, s.begin():  # as an admin created before migration 0007
        s.scalar(select(Admin)).api_md5_hash = None
    assert refused(call(client, "root", MD5))
    make_admin(app)  # ``admin create`` for an existing admin sets the password (here the same one)
    assert ok(call(client, "root", MD5))["result"] == "success"


def test_failures_count_in_the_whmcs_auth_throttle(db_url: str, tmp_path: Any) -> None:
    app = build_app(db_url, tmp_path, RATE_LIMIT_WHMCS_AUTH="3/600")
    try:
        make_admin(app)
        c = app.test_client()
        attacker = {"REMOTE_ADDR": "203.0.113.9"}
        assert ok(c.post(URL, data={"action": "GetCurrencies", "username": "root", "password": MD5},
                         environ_base=attacker))["result"] == "success"  # successes do not count
        for wrong in (PASSWORD, MD5.upper(), hashlib.md5(b"guess").hexdigest()):
            assert refused(c.post(URL, data={"action": "GetCurrencies", "username": "root", "password": wrong},
                                  environ_base=attacker))
        blocked = c.post(URL, data={"action": "GetCurrencies", "username": "root", "password": MD5},
                         environ_base=attacker)
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
        other = c.post(URL, data={"action": "GetCurrencies", "username": "root", "password": MD5},
                       environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert ok(other)["result"] == "success"
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_ip_allow_list_applies_to_admins(db_url: str, tmp_path: Any) -> None:
    app = build_app(db_url, tmp_path, API_ALLOWED_IPS="198.51.100.0/24")
    try:
        make_admin(app)
        c = app.test_client()
        resp = c.post(URL, data={"action": "GetCurrencies", "username": "root", "password": MD5},
                      environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert resp.status_code == 403 and resp.get_json()["message"] == "Invalid IP 203.0.113.9"
        assert ok(c.post(URL, data={"action": "GetCurrencies", "username": "root", "password": MD5},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"}))["result"] == "success"
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_admin_create_command_says_the_api_login_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "cli-secret")
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    result = runner.invoke(main, ["admin", "create", "--name", "ops", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "WHMCS API: username=ops with password=<lowercase hex MD5 of this password>" in result.output
    resp = create_app().test_client().post(URL, data={"action": "GetCurrencies", "username": "ops",
                                                      "password": MD5})
    assert resp.get_json()["result"] == "success"


# --- migration 0007 ------------------------------------------------------------------------


def _columns(engine: Any) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("admins")}


def test_migration_0007_adds_the_verifier_column_and_keeps_admins(fresh_url: str, tmp_path: Any) -> None:
    engine = db.make_engine(fresh_url)
    try:
        db.upgrade(engine, "0006")
        with engine.begin() as conn:  # an admin from before 0007: a password hash only
            conn.execute(text("INSERT INTO admins (name, password_hash, created_at, totp_secret, totp_enabled, "
                              "totp_last_step) VALUES ('old', :h, CURRENT_TIMESTAMP, '', false, 0)"),
                         {"h": accounts.clients.hash_password(PASSWORD)})
        assert "api_md5_hash" not in _columns(engine)
        db.upgrade(engine, "0007")
        assert db.current_revision(engine) == "0007" and "api_md5_hash" in _columns(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name, api_md5_hash FROM admins")).all() == [("old", None)]
        cfg = db.alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")
        assert db.current_revision(engine) == "0006" and "api_md5_hash" not in _columns(engine)
        with engine.connect() as conn:  # the table was altered, not rebuilt: the admin is still there
            assert conn.execute(text("SELECT name FROM admins")).scalars().all() == ["old"]
        db.upgrade(engine)
    finally:
        engine.dispose()
    # The pre-0007 admin: refused over the API until the password is set again.
    app = build_app(fresh_url, tmp_path)
    try:
        c = app.test_client()
        assert refused(call(c, "old", MD5))
        with session_of(app) as s:  # the web log-in still works with the old hash
            assert accounts.authenticate_admin(s, "old", PASSWORD) is not None
        make_admin(app, "old")
        assert ok(call(c, "old", MD5))["result"] == "success"
    finally:
        app.extensions["bridge_db"]["engine"].dispose()
