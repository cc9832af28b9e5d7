"""The whole journey in headless Chromium against a live bridge and a live SolusVM mock.

Sign up, read the e-mail from a loopback SMTP server, verify, accept the terms, see the
enrolled panel, "Log in to SolusVM" into the mock's user area; an admin locks the user and
the mock shows it locked; after a cron run the invoice appears in the client area.

Screenshots go to a temp folder, or to ``$BRIDGE_SCREENSHOTS_DIR`` (docs/screenshots/make.py).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from bridge.flask_glue import replace_settings, settings_of
from bridge.services import accounts, cron
from bridge.services.mailer import URL_RE, Mailer
from bridge.services.solusvm_client import connect
from mock_solusvm.server import MockServer
from tests.smtp_fixture import SMTPServer
from tests.web.conftest import PASSWORD, build_app, session_of

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
TOKEN = "browser-admin-token"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")]


class QuietHandler(WSGIRequestHandler):
    """No access log: verification and SSO URLs carry tokens."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class LiveServer:
    """A WSGI app on 127.0.0.1 with a free port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.server.server_close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BRIDGE_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def stack(sqlite_url: str, tmp_path: Path, smtp_server: SMTPServer) -> Iterator[dict[str, Any]]:
    """Live mock (clock frozen at the start of October 2026) + live bridge sending mail to smtp_server."""
    with MockServer(port=0, api_tokens=[TOKEN]) as mock:
        ctl = mock.control(namespace="default")
        ctl.clock.set("2026-10-01T00:00:00Z")
        app = build_app(sqlite_url, tmp_path, SOLUSVM_URL=mock.url, SOLUSVM_API_TOKEN=TOKEN, SOLUSVM_RETRIES=0,
                        WEB_SOLUSVM_RETRIES=0, SITE_NAME="Example Cloud", **smtp_server.config)
        with session_of(app) as s, s.begin():
            accounts.create_admin(s, "root", "admin pass 123")
        with LiveServer(app) as bridge:
            # Mailed links are built from SYSTEM_URL (never the Host header): the port is known only now.
            replace_settings(app, {"SYSTEM_URL": bridge.url})
            yield {"app": app, "mock": mock, "ctl": ctl, "bridge": bridge.url, "smtp": smtp_server}
        app.extensions["bridge_db"]["engine"].dispose()


def test_whole_journey(chromium: Any, stack: dict[str, Any], shots: Path) -> None:
    bridge, mock, app, smtp = stack["bridge"], stack["mock"], stack["app"], stack["smtp"]
    ctx = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = ctx.new_page()

    # 1. Landing page and sign-up.
    page.goto(f"{bridge}/signup")
    page.screenshot(path=shots / "landing.png", full_page=True)
    page.fill("#firstname", "Ann")
    page.fill("#lastname", "Lee")
    page.fill("#companyname", "Lee Ltd")
    page.fill("#email", "ann@example.com")
    page.fill("#password", "short")
    page.click("button:has-text('Sign up')")
    assert "too short" in page.inner_text("main")
    page.screenshot(path=shots / "signup-weak-password.png", full_page=True)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign up')")
    assert "Check your e-mail" in page.inner_text("h1")

    # 2. The verification e-mail arrives over SMTP; follow its link.
    [msg] = smtp.wait_for(1)
    assert msg["To"] == "ann@example.com"
    link = URL_RE.findall(SMTPServer.body(msg))[0]
    assert link.startswith(f"{bridge}/signup/verify/")
    page.goto(link)
    assert "Ann Lee" in page.inner_text("main")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Confirm')")
    assert page.url == f"{bridge}/signup/terms"
    page.screenshot(path=shots / "terms.png", full_page=True)

    # 3. Accept the terms: provisioned in SolusVM, "Log in to SolusVM" shown.
    page.check("#tos")
    page.click("button:has-text('Accept')")
    assert "You are all set" in page.inner_text("h1")
    page.goto(f"{bridge}/clientarea")
    assert page.is_visible("#panel-enrolled")
    page.screenshot(path=shots / "dashboard-enrolled.png", full_page=True)

    # 4. SSO into the mock's user area as that user.
    page.click("#panel-enrolled button:has-text('Log in to SolusVM')")
    page.wait_for_load_state()
    assert page.url.startswith(mock.url)
    assert "ann@example.com" in page.inner_text("body")
    page.screenshot(path=shots / "solusvm-user-area.png", full_page=True)

    solus = connect(settings_of(app).solusvm)
    user = solus.find_user_by_email("ann@example.com")
    assert user is not None and user["status"] == "active"

    # 5. Usage in October, then the cron on 1 November invoices it.
    solus.request("POST", "servers", json={"name": "web-1", "plan": next(solus.iter_plans())["id"],
                                           "user": user["id"]})
    stack["ctl"].clock.advance(hours=700)
    cron.run_daily(settings_of(app), today=date(2026, 11, 1),
                             session_factory=app.extensions["bridge_db"]["session_factory"], solus=solus,
                             mailer=Mailer(settings_of(app).mail))
    page.goto(f"{bridge}/clientarea/invoices")
    rows = page.locator("table.invoices tbody tr")
    assert rows.count() == 1
    assert "2026-10" in rows.first.inner_text()
    page.screenshot(path=shots / "invoices.png", full_page=True)
    rows.first.locator("a").click()
    assert "Invoice #" in page.inner_text("h1")
    assert "web-1" in page.inner_text("table")
    assert re.search(r"^\d[\d,]*\.\d\d USD$", page.inner_text("#total"))  # the currency once
    page.screenshot(path=shots / "invoice-detail.png", full_page=True)

    # 6. The admin locks the user; the mock shows it locked.
    admin = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin.goto(f"{bridge}/admin")
    admin.fill("#name", "root")
    admin.fill("#password", "admin pass 123")
    admin.click("button:has-text('Log in')")
    assert admin.url.rstrip("/").endswith("/admin")  # the overview
    admin.goto(f"{bridge}/admin/clients")
    admin.screenshot(path=shots / "admin-clients.png", full_page=True)
    admin.click("#clients a:has-text('Ann Lee')")
    admin.fill("#reason", "unpaid invoice")
    admin.click("button:has-text('Lock')")
    assert "done, SolusVM updated" in admin.inner_text("main")
    assert solus.get_user(user["id"])["status"] == "locked"
    admin.screenshot(path=shots / "admin-client-locked.png", full_page=True)
    admin.goto(f"{bridge}/admin/pricing?client_id=1")
    assert admin.is_visible("#plan-prices")
    admin.screenshot(path=shots / "admin-pricing-preview.png", full_page=True)
    admin.goto(f"{bridge}/admin/invoices")
    admin.click("button:has-text('Mark as paid')")
    assert "marked as paid" in admin.inner_text("main")
    admin.context.close()

    # 7. Locking ended the client's sessions: the client logs in again, and the locked user's
    #    SolusVM area says so (a fresh one-time login).
    page.goto(f"{bridge}/clientarea")
    assert "/login" in page.url
    page.fill("#email", "ann@example.com")
    page.fill("#password", PASSWORD)
    page.click("main button:has-text('Log in')")
    assert page.url.endswith("/clientarea")
    page.click("#panel-enrolled button:has-text('Log in to SolusVM')")
    page.wait_for_load_state()
    assert "locked" in page.inner_text("body").lower()
    ctx.close()


def test_not_enrolled_dashboard_on_a_phone(chromium: Any, stack: dict[str, Any], shots: Path) -> None:
    from bridge.services import clients

    app, bridge = stack["app"], stack["bridge"]
    with session_of(app) as s, s.begin():
        clients.create(s, {"firstname": "Bo", "lastname": "Ng", "email": "bo@example.com", "password2": PASSWORD,
                           "email_verified": True}, actor="test")
    ctx = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = ctx.new_page()
    page.goto(f"{bridge}/login")
    page.fill("#email", "bo@example.com")
    page.fill("#password", PASSWORD)
    page.click("main button:has-text('Log in')")
    assert page.is_visible("#panel-not-enrolled")
    # Usable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=shots / "dashboard-not-enrolled-phone.png", full_page=True)
    ctx.close()
    # The landing page as a new visitor sees it on a phone.
    ctx = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = ctx.new_page()
    page.goto(f"{bridge}/signup")
    assert page.is_visible("#signup")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=shots / "landing-phone.png", full_page=True)
    ctx.close()
