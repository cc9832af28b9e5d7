"""Sign-up journey and its error paths through the Flask test client (in-process SolusVM mock)."""

from __future__ import annotations

from typing import Any

import time_machine
from sqlalchemy import select

from bridge.flask_glue import replace_settings
from bridge.models import Client, Outbox
from tests.bridge.conftest import db_url  # noqa: F401 - both backends
from tests.web.conftest import (
    PASSWORD,
    Browser,
    build_app,
    confirm,
    enroll,
    link_in,
    mail_text,
    outbox_mails,
    session_of,
    sign_up,
    web_config,
)


def client_row(app: Any, email_addr: str) -> Client | None:
    with session_of(app) as s:
        return s.scalar(select(Client).where(Client.email_normalized == email_addr.lower()))


def test_landing_page_has_the_form_and_terms_link(browser: Browser) -> None:
    resp = browser.get("/signup")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for name in ("firstname", "lastname", "companyname", "email", "password", "csrf_token"):
        assert f'name="{name}"' in html
    assert 'name="viewport"' in html
    assert "Terms of Service" in html


def test_sign_up_creates_unverified_client_and_mails_a_link(browser: Browser, app: Any) -> None:
    resp = sign_up(browser)
    assert resp.status_code == 200
    assert "Check your e-mail" in resp.get_data(as_text=True)
    client = client_row(app, "ann@example.com")
    assert client is not None and not client.email_verified and client.enrolled_at is None
    assert client.companyname == "Lee Ltd" and client.password_hash.startswith("pbkdf2")
    [msg] = outbox_mails(app)
    assert msg["To"] == "ann@example.com"
    assert "/signup/verify/" in mail_text(msg)


def test_full_flow_provisions_the_solusvm_user(browser: Browser, app: Any, mock: Any) -> None:
    resp = enroll(browser)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "Log in to SolusVM" in html
    client = client_row(app, "ann@example.com")
    assert client is not None and client.email_verified and client.terms_accepted_at and client.enrolled_at
    assert client.solusvm_user_id
    users = [u for u in mock.backend.users.values() if u["email"] == "ann@example.com"]
    assert len(users) == 1 and users[0]["billing_user_id"] == client.id
    # the dashboard now shows the enrolled panel
    dash = browser.get("/clientarea").get_data(as_text=True)
    assert 'id="panel-enrolled"' in dash and "Log in to SolusVM" in dash


def test_sso_button_redirects_to_a_one_time_solusvm_login(browser: Browser, mock: Any) -> None:
    enroll(browser)
    resp = browser.submit("/clientarea", {}, action="/clientarea/solusvm")
    assert resp.status_code == 303
    assert resp.location.startswith("https://solusvm.test/auth/by_token?token=")


def test_weak_password_is_refused_with_the_rule(browser: Browser, app: Any) -> None:
    for weak, why in (("short1", "too short"), ("onlyletterslong", "digit or symbol"),
                      ("password1234", "too easy"), ("annlee-9-annlee", "too easy")):
        resp = sign_up(browser, "annlee@example.com", weak)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400
        assert why in html
    assert client_row(app, "annlee@example.com") is None
    assert outbox_mails(app) == []


def test_missing_fields_and_bad_email_say_what_is_wrong(browser: Browser, app: Any) -> None:
    resp = browser.submit("/signup", {"firstname": "", "lastname": "Lee", "email": "not-an-email",
                                      "password": PASSWORD})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Please fill this in." in html and "valid e-mail address" in html
    assert client_row(app, "not-an-email") is None


def test_taken_email_shows_the_same_page_and_mails_the_owner(browser: Browser, app: Any) -> None:
    enroll(browser)
    other = Browser(app)
    first = sign_up(other, "ANN@example.com", "another pass 9")
    assert first.status_code == 200
    assert "Check your e-mail" in first.get_data(as_text=True)
    # Same neutral page as for a new address (no enumeration) ...
    new = sign_up(other, "bob@example.com")
    strip = lambda r, e: r.get_data(as_text=True).replace(e, "")  # noqa: E731
    assert strip(first, "ANN@example.com") == strip(new, "bob@example.com") or \
        "Check your e-mail" in new.get_data(as_text=True)
    # ... but the owner learns it by mail, and the account is unchanged.
    owner_mails = [m for m in outbox_mails(app) if m["To"].lower() == "ann@example.com"]
    assert "already exists" in mail_text(owner_mails[-1])
    with session_of(app) as s:
        assert len(list(s.scalars(select(Client).where(Client.email_normalized == "ann@example.com")))) == 1


def test_unverified_taken_email_gets_a_fresh_link(browser: Browser, app: Any) -> None:
    sign_up(browser)
    sign_up(Browser(app))
    mails = outbox_mails(app)
    assert len(mails) == 2
    assert all("/signup/verify/" in mail_text(m) for m in mails)


def test_reused_link_says_already_used(browser: Browser, app: Any) -> None:
    sign_up(browser)
    link = link_in(outbox_mails(app)[-1])
    assert confirm(browser, link).status_code == 302
    again = Browser(app).get(link)
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)


def test_expired_link_says_expired_and_offers_a_new_one(browser: Browser, app: Any) -> None:
    with time_machine.travel("2026-11-01 10:00:00Z", tick=False):
        sign_up(browser)
    link = link_in(outbox_mails(app)[-1])
    with time_machine.travel("2026-11-02 10:00:01Z", tick=False):  # max age is 24 h
        resp = browser.get(link)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "expired" in html and 'action="/signup/resend"' in html
    assert not client_row(app, "ann@example.com").email_verified  # type: ignore[union-attr]


def test_tampered_link_is_invalid(browser: Browser, app: Any) -> None:
    sign_up(browser)
    link = link_in(outbox_mails(app)[-1])
    resp = browser.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert resp.status_code == 400
    assert "not valid" in resp.get_data(as_text=True)


def test_resend_sends_a_new_link_only_to_unverified_accounts(browser: Browser, app: Any) -> None:
    sign_up(browser)
    resp = browser.submit("/signup/resend", {"email": "ann@example.com"})
    assert resp.status_code == 200 and "Check your e-mail" in resp.get_data(as_text=True)
    assert len(outbox_mails(app)) == 2
    unknown = browser.submit("/signup/resend", {"email": "nobody@example.com"})
    assert unknown.status_code == 200 and "Check your e-mail" in unknown.get_data(as_text=True)
    assert len(outbox_mails(app)) == 2


def test_terms_must_be_accepted(browser: Browser, app: Any) -> None:
    sign_up(browser)
    confirm(browser, link_in(outbox_mails(app)[-1]))
    resp = browser.submit("/signup/terms", {})
    assert resp.status_code == 400
    assert "accept the Terms of Service" in resp.get_data(as_text=True)
    assert client_row(app, "ann@example.com").enrolled_at is None  # type: ignore[union-attr]


def test_postpay_terms_asked_when_configured(sqlite_url: str, tmp_path: Any, mock: Any) -> None:
    from tests.web.conftest import build_app, web_config

    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, POSTPAY_TERMS_URL="https://example.com/postpay"))
    b = Browser(app)
    sign_up(b)
    confirm(b, link_in(outbox_mails(app)[-1]))
    page = b.get("/signup/terms").get_data(as_text=True)
    assert "https://example.com/postpay" in page and 'name="postpay"' in page
    assert b.submit("/signup/terms", {"tos": "y"}).status_code == 400
    resp = b.submit("/signup/terms", {"tos": "y", "postpay": "y"})
    assert resp.status_code == 200
    client = client_row(app, "ann@example.com")
    assert client is not None and client.postpay_terms_accepted_at is not None
    app.extensions["bridge_db"]["engine"].dispose()


def test_solusvm_unreachable_keeps_the_account_and_retries(browser: Browser, app: Any, mock: Any) -> None:
    mock.faults.add(method="POST", path="/api/v1/users", status=503, times=5)
    resp = enroll(browser)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "could not reach SolusVM" in html and "Try again" in html
    client = client_row(app, "ann@example.com")
    assert client is not None and client.enrolled_at is not None and client.solusvm_user_id is None
    with session_of(app) as s:
        assert s.scalar(select(Outbox).where(Outbox.client_id == client.id, Outbox.status == "pending"))
    dash = browser.get("/clientarea").get_data(as_text=True)
    assert 'id="panel-provisioning"' in dash
    # SolusVM is back: "Try again" provisions the user.
    mock.faults.clear()
    retry = browser.submit("/clientarea", {}, action="/clientarea/provision")
    assert retry.status_code == 200, retry.get_data(as_text=True)
    assert "Log in to SolusVM" in retry.get_data(as_text=True)
    assert client_row(app, "ann@example.com").solusvm_user_id  # type: ignore[union-attr]


def test_journey_on_each_backend(db_url: str, tmp_path: Any, mock: Any) -> None:  # noqa: F811
    """Sign-up to SSO on SQLite and PostgreSQL (rate-limit upserts, timestamps, outbox)."""
    app = build_app(db_url, tmp_path, **web_config(tmp_path))
    try:
        b = Browser(app)
        assert "Log in to SolusVM" in enroll(b).get_data(as_text=True)
        assert client_row(app, "ann@example.com").solusvm_user_id  # type: ignore[union-attr]
        resp = b.submit("/clientarea", {}, action="/clientarea/solusvm")
        assert resp.status_code == 303 and "/auth/by_token?token=" in resp.location
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_mail_server_down_keeps_the_account_and_logs_it(sqlite_url: str, tmp_path: Any, mock: Any,
                                                          monkeypatch: Any, caplog: Any) -> None:
    """The visitor gets the usual page (saying more would tell whether an account exists);
    the operator gets the log line; the resend page works once the server is back."""
    import socket

    from bridge.web import common

    monkeypatch.setattr(common, "MAIL_RETRY_SECONDS", 0)
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                                                         MAIL_TIMEOUT=2))
    try:
        resp = sign_up(Browser(app))
        assert resp.status_code == 200
        assert "Check your e-mail" in resp.get_data(as_text=True)
        assert "ask for a new link" in resp.get_data(as_text=True)
        assert client_row(app, "ann@example.com") is not None
        assert common.flush_mail(timeout=30)  # SMTP mail goes out on a background thread
        assert "'Confirm your e-mail address' to a client could not be sent (2 attempt(s))" in caplog.text
        replace_settings(app, {"MAIL_SERVER": ""})  # back (to the outbox folder)
        assert Browser(app).submit("/signup/resend", {"email": "ann@example.com"}).status_code == 200
        assert "/signup/verify/" in mail_text(outbox_mails(app)[-1])
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_verification_mail_over_smtp(sqlite_url: str, tmp_path: Any, mock: Any, smtp_server: Any) -> None:
    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, **smtp_server.config))
    try:
        assert sign_up(Browser(app)).status_code == 200
        [msg] = smtp_server.wait_for(1)
        assert msg["To"] == "ann@example.com" and "/signup/verify/" in smtp_server.body(msg)
        assert outbox_mails(app) == []
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_pre_account_takeover_at_sign_up_fails(browser: Browser, app: Any) -> None:
    """An attacker signs up first with the victim's address and their own password and name; the
    victim signs up later with their own password and follows the link: the account must carry the
    victim's name and password, never the attacker's."""
    attacker = Browser(app)
    sign_up(attacker, "victim@example.com", "red fox 66 jump", firstname="Mallory", lastname="Evil")
    sign_up(browser, "victim@example.com", "blue sky 77 walk", firstname="Vera", lastname="Victim")
    mails = [m for m in outbox_mails(app) if m["To"] == "victim@example.com"]
    assert len(mails) == 2
    victim_link = link_in(mails[-1])
    page = browser.get(victim_link).get_data(as_text=True)
    assert "Vera" in page and "Mallory" not in page
    resp = confirm(browser, victim_link, "blue sky 77 walk")
    assert resp.status_code == 302 and resp.location.endswith("/signup/terms")
    row = client_row(app, "victim@example.com")
    assert row is not None and row.email_verified and (row.firstname, row.lastname) == ("Vera", "Victim")
    # The attacker's password does not log in; the victim's does.
    bad = Browser(app).submit("/login", {"email": "victim@example.com", "password": "red fox 66 jump"})
    assert bad.status_code == 401
    good = Browser(app).submit("/login", {"email": "victim@example.com", "password": "blue sky 77 walk"})
    assert good.status_code == 302
    # The attacker's own (earlier) link, had it reached the mailbox, is dead.
    assert Browser(app).get(link_in(mails[0])).status_code == 400


def test_confirming_needs_the_password_of_that_sign_up(browser: Browser, app: Any) -> None:
    """An attacker who signs up after the owner does: the newest link (the attacker's) cannot be
    confirmed by the mailbox owner's password, so the attacker's password is never activated."""
    sign_up(browser, "vic@example.com", "blue sky 77 walk", firstname="Vera")
    sign_up(Browser(app), "vic@example.com", "red fox 66 jump", firstname="Mallory")
    mails = [m for m in outbox_mails(app) if m["To"] == "vic@example.com"]
    owner_first, attacker_last = link_in(mails[0]), link_in(mails[-1])
    assert browser.get(owner_first).status_code == 400  # replaced by the newer sign-up
    wrong = confirm(browser, attacker_last, "blue sky 77 walk")
    assert wrong.status_code == 401 and "not the password" in wrong.get_data(as_text=True)
    row = client_row(app, "vic@example.com")
    assert row is not None and not row.email_verified
    # Opening the link alone (as a mail scanner does) changes nothing either.
    assert browser.get(attacker_last).status_code == 200
    assert not client_row(app, "vic@example.com").email_verified  # type: ignore[union-attr]


def test_parallel_sign_ups_for_one_new_address_get_the_same_page(db_url: str, tmp_path: Any,  # noqa: F811
                                                                 mock: Any) -> None:
    app = build_app(db_url, tmp_path, **web_config(tmp_path))
    try:
        _four_parallel_sign_ups(app)
        with session_of(app) as s:
            assert len(list(s.scalars(select(Client).where(Client.email_normalized == "par@example.com")))) == 1
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def _four_parallel_sign_ups(app: Any) -> None:
    import threading

    browsers = [Browser(app) for _ in range(4)]
    pages = [b.get("/signup") for b in browsers]
    from tests.web.conftest import csrf_of

    tokens = [csrf_of(p.get_data(as_text=True)) for p in pages]
    barrier = threading.Barrier(4)
    results: list[Any] = [None] * 4

    def go(i: int) -> None:
        barrier.wait()
        results[i] = browsers[i].http.post("/signup", buffered=True, data={
            "csrf_token": tokens[i], "firstname": "Ann", "lastname": "Lee", "companyname": "",
            "email": "par@example.com", "password": PASSWORD})

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = [r.status_code for r in results]
    assert statuses == [200] * 4, [r.get_data(as_text=True)[:300] for r in results]
    assert all("Check your e-mail" in r.get_data(as_text=True) for r in results)
    assert len({r.get_data(as_text=True) for r in results}) == 1
