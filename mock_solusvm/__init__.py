"""A stateful mock of the SolusVM 2 API with a control API, a virtual clock, faults and a journal.

Run it live (``mock-solusvm serve`` or ``mock_solusvm.server.MockServer``) or in-process
(``mock_solusvm.inprocess.mock_solusvm``); both use the app made by ``create_app``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the mock's Flask app (config keys: API_TOKENS, VALIDATE_RESPONSES, SEED, BILLING_TIMEOUT)."""
    from .app import create_app as _create

    return _create(config)


__all__ = ["create_app"]
