"""Admin TOTP two-factor log-in: enrolment with a QR code, the code step at log-in (single use,
within 5 minutes of the password), the setting that requires it, and the CLI reset."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from bridge.cli import main as cli
from bridge.flask_glue import settings_of
from bridge.models import Admin
from tests.web.conftest import Browser, build_app, session_of, web_config
from tests.web.test_admin import admin_login, make_admin

T0 = datetime(2026, 11, 26, 12, 20, 0, tzinfo=UTC)


def enrol(app: Any, browser: Browser) -> str:
    page = browser.get("/admin/account/2fa")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in html
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', html).group(1)  # type: ignore[union-attr]
    wrong = browser.submit("/admin/account/2fa", {"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                                  else "111111"})
    assert wrong.status_code == 400 and "does not match" in wrong.get_data(as_text=True)
    ok = browser.submit("/admin/account/2fa", {"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 302
    with session_of(app) as s:
        admin = s.scalar(select(Admin).where(Admin.name == "root"))
        assert admin is not None and admin.totp_enabled and admin.totp_secret == secret
    return secret


def test_enrol_then_log_in_with_a_code(app: Any) -> None:
    make_admin(app)
    with time_machine.travel(T0, tick=False):
        first = Browser(app)
        assert admin_login(first).status_code == 302
        secret = enrol(app, first)
    totp = pyotp.TOTP(secret)
    with time_machine.travel(T0 + timedelta(seconds=90), tick=False):
        b = Browser(app)
        resp = admin_login(b)
        assert resp.status_code == 302 and resp.location.endswith("/admin/login/code")
        # The password alone opens nothing.
        assert b.get("/admin/clients").location.endswith("/admin/login")
        bad = b.submit("/admin/login/code", {"code": "123456" if totp.now() != "123456" else "654321"})
        assert bad.status_code == 401
        code = totp.now()
        good = b.submit("/admin/login/code", {"code": code})
        assert good.status_code == 302 and good.location.endswith("/admin/clients")
        assert b.get("/admin/clients").status_code == 200
        # The same code does not work twice.
        again = Browser(app)
        admin_login(again)
        assert again.submit("/admin/login/code", {"code": code}).status_code == 401


def test_the_code_must_follow_the_password_within_5_minutes(app: Any) -> None:
    make_admin(app)
    with time_machine.travel(T0, tick=False):
        first = Browser(app)
        admin_login(first)
        secret = enrol(app, first)
        b = Browser(app)
        admin_login(b)
        form = b.get("/admin/login/code").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
        late = b.http.post("/admin/login/code", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()})
        assert late.status_code == 302 and late.location.endswith("/admin/login")
        assert b.get("/admin/clients").location.endswith("/admin/login")


def test_a_wrong_password_never_reaches_the_code_step(app: Any) -> None:
    make_admin(app)
    b = Browser(app)
    assert admin_login(b, password="not the password 1").status_code == 401
    page = b.get("/admin/login/code")
    assert page.status_code == 302 and page.location.endswith("/admin/login")


def test_required_setting_sends_every_admin_to_enrolment(sqlite_url: str, tmp_path: Any, mock: Any) -> None:
    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, ADMIN_REQUIRE_2FA=True))
    try:
        make_admin(app)
        b = Browser(app)
        with time_machine.travel(T0, tick=False):
            assert admin_login(b).status_code == 302
            for url in ("/admin/clients", "/admin/invoices", "/admin/pricing", "/admin/clients/1"):
                resp = b.get(url)
                assert resp.status_code == 302 and resp.location.endswith("/admin/account/2fa"), url
            assert "requires two-factor" in b.get("/admin/account/2fa").get_data(as_text=True)
            enrol(app, b)
            assert b.get("/admin/clients").status_code == 200
            # ... and it cannot be turned off while required.
            assert "cannot be turned off" in b.get("/admin/account/2fa").get_data(as_text=True)
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_required_setting_from_the_environment_string(sqlite_url: str, tmp_path: Any, mock: Any) -> None:
    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, ADMIN_REQUIRE_2FA="true"))
    try:
        assert settings_of(app).web.admin_require_2fa is True
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_turn_off_with_a_code_and_cli_reset(app: Any, monkeypatch: Any) -> None:
    make_admin(app)
    with time_machine.travel(T0, tick=False):
        b = Browser(app)
        admin_login(b)
        secret = enrol(app, b)
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        off = b.submit("/admin/account/2fa", {"code": pyotp.TOTP(secret).now()})
        assert off.status_code == 302
    with session_of(app) as s:
        assert not s.scalar(select(Admin).where(Admin.name == "root")).totp_enabled  # type: ignore[union-attr]
    # On again, then the CLI turns it off for an admin who lost the phone.
    with time_machine.travel(T0 + timedelta(seconds=120), tick=False):
        enrol(app, b)
    monkeypatch.setenv("BRIDGE_DATABASE_URL", settings_of(app).database_url)
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "x")
    result = CliRunner().invoke(cli, ["admin", "reset-2fa", "--name", "root"])
    assert result.exit_code == 0, result.output
    with session_of(app) as s:
        assert not s.scalar(select(Admin).where(Admin.name == "root")).totp_enabled  # type: ignore[union-attr]
    assert CliRunner().invoke(cli, ["admin", "reset-2fa", "--name", "nobody"]).exit_code != 0
