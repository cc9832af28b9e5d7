"""Fixtures for the web pages: a bridge app on SQLite, SolusVM as the in-process mock,
mail into a per-test outbox folder, and helpers that submit forms the way a browser does
(CSRF token taken from the page)."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.flask_glue import settings_of
from bridge.services.mailer import URL_RE
from mock_solusvm.inprocess import mock_solusvm
from tests.bridge.conftest import (  # noqa: F401 - fixtures re-exported for this folder
    _cheap_password_hashing,
    build_app,
    pg_database,
    pg_reset_engine,
    session_of,
    sqlite_catalogue_template,
    sqlite_template,
    sqlite_url,
)
from tests.smtp_fixture import smtp_server  # noqa: F401

BASE = "https://solusvm.test"
ADMIN_TOKEN = "web-admin-token"
PASSWORD = "correct horse 42"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Browser:
    """The Flask test client plus the CSRF token handling a browser does implicitly."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.http = app.test_client()

    # buffered=True: the response is read and closed at once, as a WSGI server does; SMTP mail from
    # the sign-up and password pages is queued when the response is closed and sent on a background
    # thread (common.send_after_response): common.flush_mail waits for it.

    def get(self, url: str, **kw: Any) -> Any:
        return self.http.get(url, buffered=True, **kw)

    def submit(self, page_url: str, data: dict[str, Any], action: str | None = None, **kw: Any) -> Any:
        """GET ``page_url``, take its CSRF token, POST ``data`` to ``action`` (default: the page)."""
        page = self.http.get(page_url, buffered=True, **kw)
        token = csrf_of(page.get_data(as_text=True))
        return self.http.post(action or page_url, data={"csrf_token": token, **data}, buffered=True, **kw)


@pytest.fixture(autouse=True)
def _no_mail_left_behind() -> Iterator[None]:
    """Each test's background SMTP sends finish within it (never logging into the next test)."""
    yield
    from bridge.web.common import flush_mail

    assert flush_mail(timeout=30), "background mail still pending after the test"


@pytest.fixture
def mock() -> Iterator[Any]:
    with mock_solusvm(base_url=BASE, api_token=ADMIN_TOKEN, namespace=f"w-{uuid.uuid4().hex[:10]}",
                      config={"VALIDATE_RESPONSES": True}) as m:
        yield m


def web_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"SOLUSVM_URL": BASE, "SOLUSVM_API_TOKEN": ADMIN_TOKEN, "SOLUSVM_RETRIES": 0,
            "WEB_SOLUSVM_RETRIES": 0, "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"), **extra}


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path, mock: Any) -> Iterator[Any]:  # noqa: F811 - fixture use
    application = build_app(sqlite_url, tmp_path, **web_config(tmp_path))
    yield application
    application.extensions["bridge_db"]["engine"].dispose()


@pytest.fixture
def browser(app: Any) -> Browser:
    return Browser(app)


def outbox_mails(app: Any) -> list[email.message.EmailMessage]:
    folder = Path(settings_of(app).mail.outbox_dir)
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]  # type: ignore[misc]


def mail_text(msg: Any) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def link_in(msg: Any) -> str:
    """The path of the first link in a message (the test client needs no host)."""
    url = URL_RE.findall(mail_text(msg))[0]
    return re.sub(r"^https?://[^/]+", "", url)


def sign_up(browser: Browser, email_addr: str = "ann@example.com", password: str = PASSWORD, **extra: Any) -> Any:
    data = {"firstname": "Ann", "lastname": "Lee", "companyname": "Lee Ltd", "email": email_addr,
            "password": password, **extra}
    return browser.submit("/signup", data)


def confirm(browser: Browser, link: str, password: str = PASSWORD) -> Any:
    """Open an e-mailed confirmation link and confirm with the sign-up's password."""
    return browser.submit(link, {"password": password})


def enroll(browser: Browser, email_addr: str = "ann@example.com") -> Any:
    """Sign up, follow the e-mailed link and accept the terms; returns the terms POST response."""
    resp = sign_up(browser, email_addr)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    mails = [m for m in outbox_mails(browser.app) if m["To"] == email_addr]
    resp = confirm(browser, link_in(mails[-1]))
    assert resp.status_code == 302 and resp.location.endswith("/signup/terms")
    return browser.submit("/signup/terms", {"tos": "y"})
