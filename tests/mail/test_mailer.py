"""Mail goes over real SMTP when configured, to the outbox folder otherwise."""

import email
import email.policy
import logging

import pytest

from bridge.services.mailer import Mailer, MailError, MailSettings


def test_sends_over_smtp(smtp_server):
    mailer = Mailer.from_config({**smtp_server.config, "MAIL_FROM": "Billing <billing@example.test>"})
    mid = mailer.send("ann@example.test", "Your invoice", "Total: $5.00\nhttps://billing.test/i/1",
                      html="<p>Total: $5.00</p>")
    [msg] = smtp_server.wait_for(1)
    assert msg["To"] == "ann@example.test"
    assert msg["From"] == "Billing <billing@example.test>"
    assert msg["Subject"] == "Your invoice"
    assert msg["Message-ID"] == mid
    assert "Total: $5.00" in smtp_server.body(msg)
    assert msg.get_body(preferencelist=("html",)) is not None


def test_outbox_when_no_server(tmp_path, caplog):
    mailer = Mailer.from_config({"MAIL_OUTBOX_DIR": str(tmp_path)})
    with caplog.at_level(logging.WARNING):
        mailer.send("bob@example.test", "Verify", "Open https://billing.test/verify/abc to continue")
    [path] = list(tmp_path.glob("*.eml"))
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "bob@example.test"
    assert "https://billing.test/verify/abc" in caplog.text


def test_unreachable_server_is_a_clear_error(tmp_path):
    # Port 1 on loopback: nothing listens there.
    mailer = Mailer(MailSettings(server="127.0.0.1", port=1, timeout=2))
    with pytest.raises(MailError, match="could not send mail via 127.0.0.1:1"):
        mailer.send("a@example.test", "s", "t")


def test_header_injection_refused(tmp_path):
    mailer = Mailer.from_config({"MAIL_OUTBOX_DIR": str(tmp_path)})
    with pytest.raises(MailError):
        mailer.send("a@example.test\nBcc: evil@example.test", "s", "t")
    assert not list(tmp_path.glob("*.eml"))
