"""Mail goes over real SMTP when configured, to the outbox folder otherwise."""

import email
import email.policy
import logging

import pytest

from bridge import settings
from bridge.services.mailer import Mailer, MailError
from bridge.settings import MailSettings


def test_sends_over_smtp(smtp_server):
    mailer = Mailer(MailSettings(server=smtp_server.host, port=smtp_server.port, sender="Billing <billing@example.test>"))
    mid = mailer.send("ann@example.test", "Your invoice", "Total: $5.00\nhttps://billing.test/i/1",
                      html="<p>Total: $5.00</p>")
    [msg] = smtp_server.wait_for(1)
    assert msg["To"] == "ann@example.test"
    assert msg["From"] == "Billing <billing@example.test>"
    assert msg["Subject"] == "Your invoice"
    assert msg["Message-ID"] == mid
    assert "Total: $5.00" in smtp_server.body(msg)
    assert msg.get_body(preferencelist=("html",)) is not None


SECRET_LINK = "https://billing.test/password/reset/eyJjIjoxfQ.secret-token-part"


def bridge_log(caplog) -> str:
    """What the bridge's loggers wrote (the test SMTP server logs whole messages at DEBUG)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.split(".")[0] == "bridge")


def test_outbox_when_no_server(tmp_path, caplog, capsys):
    mailer = Mailer(MailSettings(outbox_dir=str(tmp_path)))
    with caplog.at_level(logging.DEBUG):
        mailer.send("bob@example.test", "Verify", f"Open {SECRET_LINK} to continue")
    [path] = list(tmp_path.glob("*.eml"))
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "bob@example.test"
    assert SECRET_LINK in msg.get_body(preferencelist=("plain",)).get_content()
    # The log names the file only: links carry tokens, and secrets never go to the logs.
    assert str(path) in caplog.text
    assert "secret-token-part" not in bridge_log(caplog) and "eyJjIjoxfQ" not in caplog.text
    assert "bob@example.test" not in caplog.text
    assert "secret-token-part" not in capsys.readouterr().out  # nothing printed unless asked


def test_outbox_prints_links_to_the_console_only_when_asked(tmp_path, caplog, capsys):
    """The demo's way to follow a link offline: printed to stdout, never through logging."""
    mailer = Mailer(MailSettings(outbox_dir=str(tmp_path), print_links=True))
    assert mailer.settings.print_links
    with caplog.at_level(logging.DEBUG):
        mailer.send("bob@example.test", "Verify", f"Open {SECRET_LINK} to continue")
    out = capsys.readouterr().out
    assert SECRET_LINK in out
    assert "secret-token-part" not in caplog.text
    assert settings.load(tmp_path, {"MAIL_PRINT_LINKS": "true"}, environ={}).mail.print_links
    assert not settings.load(tmp_path, {"MAIL_PRINT_LINKS": "0"}, environ={}).mail.print_links


def test_smtp_mode_never_prints_links(smtp_server, caplog, capsys):
    mailer = Mailer(MailSettings(server=smtp_server.host, port=smtp_server.port, print_links=True))
    with caplog.at_level(logging.DEBUG):
        mailer.send("bob@example.test", "Verify", f"Open {SECRET_LINK} to continue")
    smtp_server.wait_for(1)
    assert "secret-token-part" not in capsys.readouterr().out
    assert "secret-token-part" not in bridge_log(caplog)


def test_unreachable_server_is_a_clear_error(tmp_path):
    # Port 1 on loopback: nothing listens there.
    mailer = Mailer(MailSettings(server="127.0.0.1", port=1, timeout=2))
    with pytest.raises(MailError, match="could not send mail via 127.0.0.1:1"):
        mailer.send("a@example.test", "s", "t")


def test_header_injection_refused(tmp_path):
    mailer = Mailer(MailSettings(outbox_dir=str(tmp_path)))
    with pytest.raises(MailError):
        mailer.send("a@example.test\nBcc: evil@example.test", "s", "t")
    assert not list(tmp_path.glob("*.eml"))
