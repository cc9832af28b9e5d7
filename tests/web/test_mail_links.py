"""Links in e-mails come from SYSTEM_URL, never from the request's Host header."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bridge.flask_glue import settings_of
from bridge.services.mailer import URL_RE
from tests.web.conftest import (
    PASSWORD,
    Browser,
    build_app,
    confirm,
    enroll,
    mail_text,
    outbox_mails,
    web_config,
)

EVIL = "http://evil.example"


def post_from(browser: Browser, base_url: str, url: str, data: dict[str, Any]) -> Any:
    """GET the form and POST it with the given Host (cookies and CSRF token on that host)."""
    return browser.submit(url, data, base_url=base_url)


def links(app: Any) -> list[str]:
    return [url for msg in outbox_mails(app) for url in URL_RE.findall(mail_text(msg))]


SIGNUP = {"firstname": "Ann", "lastname": "Lee", "companyname": "", "password": PASSWORD}


def test_mail_links_ignore_a_forged_host_header(browser: Browser, app: Any) -> None:
    enroll(browser, "ann@example.com")  # verified account: reset mail, "already exists" mail
    post_from(browser, EVIL, "/signup", {**SIGNUP, "email": "bob@example.com"})  # new: verification
    post_from(browser, EVIL, "/signup/resend", {"email": "bob@example.com"})
    post_from(browser, EVIL, "/signup", {**SIGNUP, "email": "ann@example.com"})  # taken: log-in link
    post_from(browser, EVIL, "/password/forgot", {"email": "ann@example.com"})
    subjects = [m["Subject"] for m in outbox_mails(app)]
    assert subjects[1:] == ["Confirm your e-mail address", "Confirm your e-mail address",
                            "Someone tried to sign up with your e-mail address", "Reset your password"]
    found = links(app)
    assert len(found) >= 5
    assert all(url.startswith("https://billing.test/") for url in found), found
    assert not any("evil.example" in url for url in found)
    assert any(url.startswith("https://billing.test/password/reset/") for url in found)
    assert "https://billing.test/login" in found


@pytest.mark.parametrize("system_url", ["https://billing.example.com/", "https://example.com/billing"])
def test_mail_links_join_system_url_and_the_route(sqlite_url: str, tmp_path: Any, mock: Any,
                                                  system_url: str) -> None:
    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, SYSTEM_URL=system_url))
    try:
        b = Browser(app)
        # Mounted under /billing behind a proxy: SYSTEM_URL already names the mount point.
        post_from(b, EVIL + "/billing" if system_url.endswith("/billing") else EVIL, "/signup",
                  {**SIGNUP, "email": "cy@example.com"})
        [url] = links(app)
        assert url.startswith(system_url.rstrip("/") + "/signup/verify/")
        # and the link works (the test client has no host: follow its path)
        resp = confirm(b, url.replace(system_url.rstrip("/"), ""), SIGNUP["password"])
        assert resp.status_code == 302 and resp.location.endswith("/signup/terms")
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_a_system_url_broken_after_start_up_fails_like_at_start_up(app: Any) -> None:
    """create_app checks SYSTEM_URL; a link built later meets the same check (one definition,
    ``bridge.settings.check_system_url``), never a half-valid link."""
    from bridge.settings import check_system_url
    from bridge.web.common import public_url

    with pytest.raises(ValueError) as at_start_up:
        check_system_url("billing.example.com")  # no scheme
    # A running app's settings changed after start-up, bypassing the check (as a bug would).
    app.extensions["bridge.settings"] = dataclasses.replace(settings_of(app), system_url="billing.example.com")
    with app.test_request_context("/signup"), pytest.raises(ValueError) as in_a_link:
        public_url("web_auth.login")
    assert str(in_a_link.value) == str(at_start_up.value)
