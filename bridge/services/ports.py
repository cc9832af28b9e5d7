"""What the services need from the outside world, as Protocols.

``SolusVM`` is the part of ``bridge.services.solusvm_client.SolusVMClient`` the services call;
``Mailer`` the part of ``bridge.services.mailer.Mailer``. Signatures name these, not the
concrete classes, so a test double or another client fits without ``Any``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, Protocol


class SolusVM(Protocol):
    """SolusVM's admin API as the services use it (see ``SolusVMClient`` for each call)."""

    base_url: str
    #: Provisioning options (limit group, roles, outbox retry policy); see ``solusvm_client.connect``.
    options: dict[str, Any]

    def account(self) -> dict[str, Any]:
        """``GET account``."""
        ...

    def get_settings(self) -> dict[str, Any]:
        """``GET settings``."""
        ...

    def iter_users(self, *, search: str | None = None, status: str | None = None,
                   per_page: int | None = None, complete: bool = False) -> Iterator[dict[str, Any]]:
        """Every user, optionally filtered."""
        ...

    def find_user_by_email(self, email_address: str) -> dict[str, Any] | None:
        """The user with exactly this e-mail, or None."""
        ...

    def get_user(self, user_id: int) -> dict[str, Any]:
        """``GET users/{id}``."""
        ...

    def create_user(self, **fields: Any) -> dict[str, Any]:
        """``POST users``."""
        ...

    def update_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        """``PUT users/{id}``."""
        ...

    def patch_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        """``PATCH users/{id}``."""
        ...

    def delete_user(self, user_id: int) -> None:
        """``DELETE users/{id}``."""
        ...

    def create_token(self, user_id: int, *, one_time: bool = True) -> str:
        """A (one-time) access token acting as the user."""
        ...

    def iter_servers(self, *, user_id: int | None = None) -> Iterator[dict[str, Any]]:
        """Every server, optionally of one user."""
        ...

    def delete_server(self, server_id: int) -> dict[str, Any]:
        """``DELETE servers/{id}``."""
        ...

    def iter_usage(self, date_from: date, date_to: date, *, user_id: int | None = None,
                   per_page: int | None = None, complete: bool = False) -> Iterator[dict[str, Any]]:
        """Billing usage items of ``[date_from, date_to]``."""
        ...

    def iter_plans(self) -> Iterator[dict[str, Any]]:
        """Every plan."""
        ...


class Mailer(Protocol):
    """Outgoing mail."""

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> str:
        """Send one message; return its Message-ID; raise ``MailError`` on failure."""
        ...
