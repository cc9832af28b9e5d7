"""The ``/api/v1`` blueprint with every route module's routes registered on it."""

from __future__ import annotations

from . import actions, admin, catalog, resources, servers, usage, users  # noqa: F401  (routes register on api_bp)
from .common import api_bp

__all__ = ["api_bp"]
