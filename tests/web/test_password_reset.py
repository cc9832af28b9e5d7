"""Forgotten password: neutral answer, single-use expiring link, policy on the new password."""

from __future__ import annotations

import logging
from typing import Any

import time_machine

from tests.web.conftest import PASSWORD, Browser, enroll, link_in, mail_text, outbox_mails

NEW = "brand new secret 7"


def reset_link(browser: Browser, app: Any, email_addr: str = "ann@example.com") -> str:
    resp = browser.submit("/password/forgot", {"email": email_addr})
    assert resp.status_code == 200 and "Check your e-mail" in resp.get_data(as_text=True)
    msg = outbox_mails(app)[-1]
    assert msg["Subject"] == "Reset your password" and "/password/reset/" in mail_text(msg)
    return link_in(msg)


def test_reset_changes_the_password_and_logs_in(browser: Browser, app: Any) -> None:
    enroll(browser)
    browser.http.delete_cookie("bridge_session")
    link = reset_link(browser, app)
    resp = browser.submit(link, {"password": NEW})
    assert resp.status_code == 302 and resp.location.endswith("/clientarea")
    other = Browser(app)
    assert other.submit("/login", {"email": "ann@example.com", "password": PASSWORD}).status_code == 401
    assert other.submit("/login", {"email": "ann@example.com", "password": NEW}).status_code == 302
    # the link worked once
    again = Browser(app).get(link)
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)


def test_unknown_address_gets_the_same_page_and_no_mail(browser: Browser, app: Any) -> None:
    resp = browser.submit("/password/forgot", {"email": "nobody@example.com"})
    assert resp.status_code == 200 and "Check your e-mail" in resp.get_data(as_text=True)
    assert outbox_mails(app) == []


def test_weak_new_password_is_refused(browser: Browser, app: Any) -> None:
    enroll(browser)
    link = reset_link(browser, app)
    resp = browser.submit(link, {"password": "short"})
    assert resp.status_code == 400 and "too short" in resp.get_data(as_text=True)
    assert Browser(app).submit("/login", {"email": "ann@example.com", "password": PASSWORD}).status_code == 302


def test_expired_and_damaged_reset_links(browser: Browser, app: Any) -> None:
    with time_machine.travel("2026-11-01 10:00:00Z", tick=False):
        enroll(browser)
        link = reset_link(browser, app)
    with time_machine.travel("2026-11-01 11:00:01Z", tick=False):  # one hour max age
        resp = Browser(app).get(link)
    assert resp.status_code == 400 and "expired" in resp.get_data(as_text=True)
    bad = Browser(app).get(link[:-2] + ("xx" if not link.endswith("xx") else "yy"))
    assert bad.status_code == 400 and "damaged" in bad.get_data(as_text=True)


def test_no_token_reaches_the_logs(browser: Browser, app: Any, caplog: Any) -> None:
    """Outbox mode (no MAIL_SERVER): the log names the .eml file, never the link or its token."""
    with caplog.at_level(logging.DEBUG):
        enroll(browser)
        verify_token = link_in(outbox_mails(app)[0]).rsplit("/", 1)[1]
        link = reset_link(browser, app)
        browser.submit(link, {"password": NEW})
    reset_token = link.rsplit("/", 1)[1]
    assert "mail written to" in caplog.text
    for token in (verify_token, reset_token):
        assert token not in caplog.text
        assert token.split(".")[-1] not in caplog.text  # not even the signature part


def test_reset_logs_out_every_other_session(browser: Browser, app: Any) -> None:
    enroll(browser)
    other = Browser(app)  # e.g. the phone left logged in, or an attacker's session
    assert other.submit("/login", {"email": "ann@example.com", "password": PASSWORD}).status_code == 302
    assert other.get("/clientarea").status_code == 200
    resetter = Browser(app)
    resp = resetter.submit(reset_link(resetter, app), {"password": NEW})
    assert resp.status_code == 302
    # The browser that chose the new password is logged in; every older session is not.
    assert resetter.get("/clientarea").status_code == 200
    for stale in (browser, other):
        resp = stale.get("/clientarea")
        assert resp.status_code == 302 and "/login" in resp.location
    assert other.submit("/login", {"email": "ann@example.com", "password": NEW}).status_code == 302
    assert other.get("/clientarea").status_code == 200


def test_password_changed_elsewhere_ends_the_session(browser: Browser, app: Any) -> None:
    from sqlalchemy import select

    from bridge.models import Client
    from bridge.services import clients
    from tests.web.conftest import session_of

    enroll(browser)
    assert browser.get("/clientarea").status_code == 200
    with session_of(app) as s, s.begin():  # e.g. UpdateClient password2 through the WHMCS API
        client = s.scalar(select(Client).where(Client.email_normalized == "ann@example.com"))
        clients.update(s, client, {"password2": NEW}, actor="api")
    assert browser.get("/clientarea").status_code == 302


def test_session_without_the_password_tag_is_refused(browser: Browser, app: Any) -> None:
    enroll(browser)
    with browser.http.session_transaction() as sess:  # a cookie minted before the tag existed
        sess.pop("client_tag", None)
    assert browser.get("/clientarea").status_code == 302
