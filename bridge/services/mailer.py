"""Outgoing e-mail: real SMTP when configured, an outbox folder otherwise.

The settings are ``bridge.settings.MailSettings`` (the ``MAIL_*`` keys). With ``MAIL_SERVER``
set, messages go over SMTP (optionally STARTTLS or SSL, optionally authenticated). With nothing set, each message is written as an ``.eml`` file to the
outbox folder, so the demo and a fresh checkout work offline; the log names the file only
(links in these messages carry sign-up and password-reset tokens, and secrets never go to
the logs). With ``MAIL_PRINT_LINKS`` on (the demo), the links of each outbox message are
also printed to standard output for the person at the console, never through logging.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import sys
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from bridge.settings import MailSettings

log = logging.getLogger(__name__)

URL_RE = re.compile(r"https?://[^\s<>\"']+")


class MailError(Exception):
    """The message could not be handed to the mail server."""


class Mailer:
    """Sends plain-text (optionally HTML) messages per :class:`MailSettings`."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def build(self, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
        """The message as it will be sent."""
        if "\n" in to or "\r" in to or "\n" in subject or "\r" in subject:
            raise MailError("header injection refused")  # user input never reaches headers raw
        msg = EmailMessage()
        msg["From"] = self.settings.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="solus-bridge")
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
        return msg

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        """Send one message; return its Message-ID. Raises :class:`MailError` on failure."""
        msg = self.build(to, subject, text, html)
        if self.settings.server:
            self._send_smtp(msg)
        else:
            self._write_outbox(msg, text)
        return str(msg["Message-ID"])

    def _send_smtp(self, msg: EmailMessage) -> None:
        s = self.settings
        server = s.server or ""  # set: send() chose SMTP because of it
        try:
            if s.use_ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(server, s.port, timeout=s.timeout,
                                                       context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(server, s.port, timeout=s.timeout)
            with smtp:
                if s.use_tls and not s.use_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"could not send mail via {s.server}:{s.port}: {exc}") from exc

    def _write_outbox(self, msg: EmailMessage, text: str) -> None:
        folder = Path(self.settings.outbox_dir)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        (folder / name).write_bytes(bytes(msg))
        # The path only: the message's links carry tokens, and the logs are shipped and kept.
        log.warning("mail written to %s (no MAIL_SERVER configured)", folder / name)
        if self.settings.print_links:
            # Explicitly asked for (the demo): the person at the console follows the link from here.
            lines = [f"Mail {msg['Subject']!r} to {msg['To']} ({folder / name}):"]
            lines += [f"  {url}" for url in URL_RE.findall(text)]
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
