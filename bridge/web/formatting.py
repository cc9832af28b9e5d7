"""Template filters: money (from ``bridge.billing.formatting``, its one home) and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.billing import format_money, format_number

__all__ = ["format_money", "format_number", "format_when"]


def format_when(value: datetime | None) -> str:
    """A timestamp as ``2026-11-22 04:51 UTC`` (SQLite hands back naive UTC values)."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
