"""Outgoing e-mail: real SMTP when configured, an outbox folder otherwise.

With ``MAIL_SERVER`` set, messages go over SMTP (optionally STARTTLS or SSL, optionally
authenticated). With nothing set, each message is written as an ``.eml`` file to the
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
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

URL_RE = re.compile(r"https?://[^\s<>\"']+")


class MailError(Exception):
    """The message could not be handed to the mail server."""


@dataclass(frozen=True)
class MailSettings:
    """Where mail goes. ``server=None`` means the outbox folder."""

    server: str | None = None
    port: int = 25
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "SolusVM Billing <billing@localhost>"
    outbox_dir: str = "instance/outbox"
    timeout: float = 10.0
    print_links: bool = False  # outbox mode: print each message's links to stdout (the demo)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        """Read the ``MAIL_*`` keys of an app config (``BRIDGE_MAIL_*`` in the environment)."""

        def flag(key: str) -> bool:
            value = config.get(key, False)
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes", "on"}

        outbox = config.get("MAIL_OUTBOX_DIR") or str(Path(config.get("INSTANCE_PATH", "instance")) / "outbox")
        return cls(
            server=config.get("MAIL_SERVER") or None,
            port=int(config.get("MAIL_PORT") or (465 if flag("MAIL_USE_SSL") else 25)),
            use_tls=flag("MAIL_USE_TLS"),
            use_ssl=flag("MAIL_USE_SSL"),
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            sender=config.get("MAIL_FROM") or cls.sender,
            outbox_dir=outbox,
            timeout=float(config.get("MAIL_TIMEOUT") or 10.0),
            print_links=flag("MAIL_PRINT_LINKS"),
        )


class Mailer:
    """Sends plain-text (optionally HTML) messages per :class:`MailSettings`."""

    def __init__(self, settings: MailSettings):
        self.settings = settings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Mailer:
        """A mailer for an app config mapping."""
        return cls(MailSettings.from_config(config))

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
        try:
            if s.use_ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.server, s.port, timeout=s.timeout,
                                                       context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.server, s.port, timeout=s.timeout)
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
