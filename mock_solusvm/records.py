"""Looking records up by a foreign key that may be null or of the wrong type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def find(table: Mapping[int, T], key: object) -> T | None:
    """``table[key]``, or None when ``key`` is null, not an id, or unknown (a dangling reference)."""
    return table.get(key) if isinstance(key, int) else None
