"""A stateful mock of the SolusVM 2 API with a control API, a virtual clock, faults and a journal.

Run it live (``mock-solusvm serve`` or ``mock_solusvm.server.MockServer``) or in-process
(``mock_solusvm.inprocess.mock_solusvm``); both use the app made by ``create_app``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the mock's Flask app (config keys: API_TOKENS, VALIDATE_RESPONSES, SEED, BILLING_TIMEOUT)."""
    # Imported here, not at the top: ``import mock_solusvm.pytest_plugin`` (loaded by every pytest
    # run of an integrator, through the ``pytest11`` entry point) must not load Flask.
    from .app import create_app as build

    return build(config)


__all__ = ["create_app"]
