"""A real SMTP server on loopback (aiosmtpd) for tests: import ``smtp_server`` into a conftest."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


@dataclass
class _Collector:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"


class SMTPServer:
    """A running loopback SMTP server and the messages it received."""

    def __init__(self) -> None:
        self._handler = _Collector()
        # aiosmtpd's start-up check connects to the configured port, so port 0 cannot be
        # used directly: take a free port from the kernel first.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self._port = probe.getsockname()[1]
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self._port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return self._port

    @property
    def config(self) -> dict[str, object]:
        """Bridge config keys that send mail here."""
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port}

    @property
    def messages(self) -> list[EmailMessage]:
        return self._handler.messages

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived (delivery is asynchronous)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.messages) >= count, f"expected {count} message(s), got {len(self.messages)}"
        return self.messages

    @staticmethod
    def body(msg: EmailMessage) -> str:
        """The plain-text body of a message."""
        part = msg.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


@pytest.fixture
def smtp_server():
    """A fresh loopback SMTP server per test."""
    server = SMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
