"""Sign-up, resend and forgotten password answer alike whether or not the address has an account:
the same page, the same status, the same work in the request, also when the mail server is down."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from bridge.flask_glue import replace_settings
from bridge.services import clients
from bridge.web.common import flush_mail
from tests.web.conftest import PASSWORD, Browser, build_app, outbox_mails, sign_up, web_config
from tests.web.test_clientarea import make_client


def dead_port() -> int:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["outbox", "smtp-down"])
def any_mail_app(request: Any, sqlite_url: str, tmp_path: Any, mock: Any,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from bridge.web import common

    monkeypatch.setattr(common, "MAIL_RETRY_SECONDS", 0)
    extra = {} if request.param == "outbox" else {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": dead_port(),
                                                  "MAIL_TIMEOUT": 2}
    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, **extra))
    app.config["TEST_MAIL_MODE"] = request.param
    yield app
    app.extensions["bridge_db"]["engine"].dispose()


def answer(resp: Any, email_addr: str) -> tuple[int, str]:
    return resp.status_code, resp.get_data(as_text=True).replace(email_addr, "EMAIL")


def accounts_for(app: Any) -> None:
    make_client(app, "verified@example.com")
    make_client(app, "pending@example.com", verified=False)


FORMS = [  # (page, existing address, extra form fields)
    ("/signup", "verified@example.com", {"firstname": "Ann", "lastname": "Lee", "password": PASSWORD}),
    ("/signup", "pending@example.com", {"firstname": "Ann", "lastname": "Lee", "password": PASSWORD}),
    ("/signup/resend", "pending@example.com", {}),
    ("/password/forgot", "verified@example.com", {}),
]


@pytest.mark.parametrize(("page", "existing", "fields"), FORMS)
def test_same_answer_for_existing_and_unknown_addresses(any_mail_app: Any, page: str, existing: str,
                                                        fields: dict[str, str], caplog: Any) -> None:
    app = any_mail_app
    accounts_for(app)
    with caplog.at_level(logging.WARNING, logger="bridge"):
        known = answer(Browser(app).submit(page, {**fields, "email": existing}), existing)
        unknown = answer(Browser(app).submit(page, {**fields, "email": "nobody@example.com"}), "nobody@example.com")
        assert flush_mail(timeout=30)  # SMTP mail goes out on a background thread
    assert known == unknown
    assert known[0] == 200
    if app.config["TEST_MAIL_MODE"] == "smtp-down":
        # Not shown to the visitor (it would tell an account exists), but logged for the operator.
        assert "could not be sent" in caplog.text
        assert outbox_mails(app) == []
    else:
        assert any(m["To"] == existing for m in outbox_mails(app))


def test_signup_hashes_the_password_for_taken_addresses_too(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a new account needs the hash, but every branch pays for one: no timing difference."""
    accounts_for(app)
    closed = make_client(app, "closed@example.com")
    from bridge.models import Client
    from tests.web.conftest import session_of

    with session_of(app) as s, s.begin():
        s.get(Client, closed).status = "Closed"  # type: ignore[union-attr]
    calls: list[str] = []
    real = clients.hash_password
    monkeypatch.setattr(clients, "hash_password", lambda pw: calls.append(pw) or real(pw))
    for addr in ("new@example.com", "verified@example.com", "pending@example.com", "closed@example.com"):
        calls.clear()
        assert sign_up(Browser(app), addr).status_code == 200
        assert calls == [PASSWORD], addr


def test_mail_is_sent_after_the_response(sqlite_url: str, tmp_path: Any, mock: Any, smtp_server: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The SMTP round trip (or its timeout) is not part of the answer's time: sent once the response is out."""
    from bridge.web import common

    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, **smtp_server.config))
    accounts_for(app)
    sent: list[str] = []
    monkeypatch.setattr(common.Mailer, "send", lambda self, to, subject, text: sent.append(to))
    b = Browser(app)
    page = b.get("/password/forgot").get_data(as_text=True)
    from tests.web.conftest import csrf_of

    resp = b.http.post("/password/forgot", data={"csrf_token": csrf_of(page), "email": "verified@example.com"})
    assert resp.status_code == 200 and sent == []
    resp.close()  # the server closes the response once it is written: the message is queued
    assert flush_mail(timeout=10)
    assert sent == ["verified@example.com"]
    app.extensions["bridge_db"]["engine"].dispose()


def test_outbox_mode_writes_the_file_before_the_page_is_answered(app: Any) -> None:
    """No MAIL_SERVER (development, the demo): the .eml is there when the page arrives."""
    accounts_for(app)
    b = Browser(app)
    from tests.web.conftest import csrf_of

    page = b.get("/password/forgot").get_data(as_text=True)
    resp = b.http.post("/password/forgot", data={"csrf_token": csrf_of(page), "email": "verified@example.com"})
    assert resp.status_code == 200
    assert [m["To"] for m in outbox_mails(app)] == ["verified@example.com"]
    resp.close()


@pytest.mark.parametrize("mode", ["outbox", "smtp"])
def test_a_failed_mail_is_retried_once(app: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any, mode: str) -> None:
    from bridge.services.mailer import MailError
    from bridge.web import common

    monkeypatch.setattr(common, "MAIL_RETRY_SECONDS", 0)
    if mode == "smtp":
        replace_settings(app, {"MAIL_SERVER": "smtp.invalid"})  # never reached: Mailer.send is replaced below
    accounts_for(app)
    tries: list[str] = []

    def flaky(self: Any, to: str, subject: str, text: str) -> str:
        tries.append(to)
        if len(tries) == 1:
            raise MailError("could not send mail via smtp:25: timed out")
        return "<id>"

    monkeypatch.setattr(common.Mailer, "send", flaky)
    with caplog.at_level(logging.WARNING, logger="bridge"):
        assert Browser(app).submit("/password/forgot", {"email": "verified@example.com"}).status_code == 200
        assert flush_mail(timeout=10)
    assert tries == ["verified@example.com", "verified@example.com"]
    assert "could not be sent" not in caplog.text


def test_smtp_mail_is_sent_off_the_request_worker(sqlite_url: str, tmp_path: Any, mock: Any, smtp_server: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow or dead SMTP server never holds the worker that served the page: closing the
    response only queues the message, a background sender of the process does the attempts."""
    import threading

    from bridge import logs
    from bridge.web import common
    from tests.web.conftest import csrf_of

    app = build_app(sqlite_url, tmp_path, **web_config(tmp_path, **smtp_server.config))
    accounts_for(app)
    release = threading.Event()  # the SMTP server "answers" only when the test says so
    senders: list[threading.Thread] = []
    request_ids: list[str] = []

    def slow_send(self: Any, to: str, subject: str, text: str) -> str:
        senders.append(threading.current_thread())
        request_ids.append(logs.current_request_id())  # its log lines name the page's request
        release.wait(5)
        return "<id>"

    monkeypatch.setattr(common.Mailer, "send", slow_send)
    b = Browser(app)
    try:
        page = b.get("/password/forgot").get_data(as_text=True)
        resp = b.http.post("/password/forgot", data={"csrf_token": csrf_of(page), "email": "verified@example.com"})
        assert resp.status_code == 200
        resp.close()  # what the WSGI server does once the page is written: returns at once
        assert not release.is_set()
        release.set()
        assert common.flush_mail(timeout=10)
        assert len(senders) == 1 and senders[0] is not threading.current_thread()
        assert senders[0].daemon  # never keeps a stopping worker alive
        assert request_ids == [resp.headers["X-Request-ID"]]
    finally:
        release.set()
        app.extensions["bridge_db"]["engine"].dispose()


def test_mail_still_queued_at_exit_is_waited_for_then_logged(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    import threading

    from bridge.web import common

    release = threading.Event()
    common.mail_sender().submit(lambda: release.wait(10))
    monkeypatch.setattr(common, "MAIL_EXIT_WAIT_SECONDS", 0.05)
    try:
        with caplog.at_level(logging.ERROR, logger="bridge"):
            common._drain_at_exit()
        assert "1 mail(s) to clients not sent: the process exited first" in caplog.text
    finally:
        release.set()
    assert flush_mail(timeout=10)
    caplog.clear()
    common._drain_at_exit()  # nothing pending: silent
    assert caplog.text == ""
