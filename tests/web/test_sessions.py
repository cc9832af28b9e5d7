"""Server-side sessions: log-out ends the session on the server (a copied cookie is dead), an
admin can see and end a client's sessions, and lock / close / password reset end them all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.models import Client, WebSession
from bridge.services import clients as client_service
from tests.bridge.conftest import db_url  # noqa: F401 - both backends
from tests.web.conftest import Browser, build_app, enroll, session_of, web_config
from tests.web.test_admin import admin_login, make_admin


def cookie_of(browser: Browser) -> str:
    cookie = browser.http.get_cookie("bridge_session")
    assert cookie is not None
    return cookie.value


def replay(app: Any, value: str) -> Browser:
    """A new browser holding a copy of a session cookie."""
    other = Browser(app)
    other.http.set_cookie("bridge_session", value)
    return other


def assert_client_logged_out(browser: Browser) -> None:
    resp = browser.get("/clientarea")
    assert resp.status_code == 302 and resp.location.startswith("/login"), resp.status_code


def ann(app: Any) -> Client:
    with session_of(app) as s:
        client = s.scalar(select(Client).where(Client.email_normalized == "ann@example.com"))
    assert client is not None
    return client


def test_client_logout_ends_the_session_on_the_server(db_url: str, tmp_path: Any, mock: Any) -> None:  # noqa: F811
    app = build_app(db_url, tmp_path, **web_config(tmp_path))
    try:
        browser = Browser(app)
        enroll(browser)
        copied = cookie_of(browser)
        assert replay(app, copied).get("/clientarea").status_code == 200  # the copy works before
        assert browser.submit("/clientarea", {}, action="/logout").status_code == 302
        assert_client_logged_out(replay(app, copied))
        assert_client_logged_out(browser)
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_admin_logout_ends_the_session_on_the_server(app: Any) -> None:
    make_admin(app)
    browser = Browser(app)
    assert admin_login(browser).status_code == 302
    copied = cookie_of(browser)
    assert replay(app, copied).get("/admin/clients").status_code == 200
    assert browser.submit("/admin/clients", {}, action="/admin/logout").status_code == 302
    for url in ("/admin/clients", "/admin/invoices", "/admin/pricing"):
        resp = replay(app, copied).get(url)
        assert resp.status_code == 302 and resp.location.endswith("/admin/login"), url


def test_admin_sees_and_ends_a_clients_sessions(app: Any) -> None:
    user = Browser(app)
    enroll(user)
    laptop = Browser(app)
    assert laptop.submit("/login", {"email": "ann@example.com", "password": "correct horse 42"},
                         headers={"User-Agent": "LaptopBrowser/1.0"}).status_code == 302
    cid = ann(app).id
    make_admin(app)
    admin = Browser(app)
    admin_login(admin)
    page = admin.get(f"/admin/clients/{cid}").get_data(as_text=True)
    assert 'id="sessions"' in page and "LaptopBrowser/1.0" in page
    with session_of(app) as s:
        rows = list(s.scalars(select(WebSession).where(WebSession.account_id == cid, WebSession.kind == "client")))
    assert len(rows) == 2
    laptop_row = next(r for r in rows if r.user_agent == "LaptopBrowser/1.0")
    # End one session: the laptop is out, the other browser stays in.
    resp = admin.submit(f"/admin/clients/{cid}", {},
                        action=f"/admin/clients/{cid}/sessions/{laptop_row.id}/end")
    assert resp.status_code == 302
    assert_client_logged_out(laptop)
    assert user.get("/clientarea").status_code == 200
    # End all.
    assert admin.submit(f"/admin/clients/{cid}", {}, action=f"/admin/clients/{cid}/sessions/end").status_code == 302
    assert_client_logged_out(user)
    assert 'id="no-sessions"' in admin.get(f"/admin/clients/{cid}").get_data(as_text=True)


def test_locking_a_client_ends_its_sessions(app: Any) -> None:
    user = Browser(app)
    enroll(user)
    cid = ann(app).id
    make_admin(app)
    admin = Browser(app)
    admin_login(admin)
    resp = admin.submit(f"/admin/clients/{cid}", {}, action=f"/admin/clients/{cid}/lock")
    assert resp.status_code == 302
    assert_client_logged_out(user)


def test_closing_a_client_ends_its_sessions_even_after_reopening(app: Any) -> None:
    user = Browser(app)
    enroll(user)
    copied = cookie_of(user)
    with session_of(app) as s, s.begin():
        client_service.close(s, s.get(Client, ann(app).id), actor="test")
    assert_client_logged_out(replay(app, copied))
    with session_of(app) as s, s.begin():  # re-opened: the old sessions stay ended
        s.get(Client, ann(app).id).status = "Active"
    assert_client_logged_out(replay(app, copied))


def test_password_reset_ends_every_session(app: Any) -> None:
    from tests.web.conftest import link_in, outbox_mails

    user = Browser(app)
    enroll(user)
    other = Browser(app)
    other.submit("/password/forgot", {"email": "ann@example.com"})
    link = link_in(outbox_mails(app)[-1])
    assert other.submit(link, {"password": "brand new pass 7"}).status_code == 302
    assert_client_logged_out(user)
    with session_of(app) as s:
        assert len(list(s.scalars(select(WebSession).where(WebSession.account_id == ann(app).id)))) == 1


def test_a_new_log_in_in_the_same_browser_ends_the_previous_session(app: Any) -> None:
    """Logging in as a client where an admin was logged in: the admin session is ended on the
    server too, so a copy of the earlier cookie does not stay an admin."""
    user = Browser(app)
    enroll(user)
    make_admin(app)
    shared = Browser(app)
    assert admin_login(shared).status_code == 302
    copied = cookie_of(shared)
    assert shared.submit("/login", {"email": "ann@example.com", "password": "correct horse 42"}).status_code == 302
    resp = replay(app, copied).get("/admin/clients")
    assert resp.status_code == 302 and resp.location.endswith("/admin/login")
