"""The billing bridge: a WHMCS-compatible billing system for SolusVM 2 postpaid billing.

The Flask app is built by :func:`bridge.app.create_app`. It is reachable as ``bridge.create_app``
too (``flask --app bridge``, ``granian bridge:create_app``), but loaded only when asked for, so
that importing a Flask-free part (``bridge.services``, ``bridge.billing``) does not load Flask.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        # Deferred on purpose (see the module docstring): the app factory imports Flask.
        from bridge.app import create_app

        return create_app
    raise AttributeError(f"module 'bridge' has no attribute {name!r}")
