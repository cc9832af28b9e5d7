"""The money ceiling: the largest amount the bridge stores or computes as a sum."""

from __future__ import annotations

from decimal import Decimal

from bridge.errors import ValidationFailed

#: The largest amount (in absolute value) the bridge stores or computes as a sum. SQLite keeps
#: ``Numeric`` columns as 8-byte floats, which hold at most 15 significant digits exactly
#: (99999999999999.99 comes back as ...98). This ceiling has 14, so even a SQL SUM of a few
#: such amounts stays exact to the cent, and it fits PostgreSQL's DECIMAL(16,2).
MONEY_CEILING = Decimal("999999999999.99")


def check_ceiling(value: Decimal, what: str) -> Decimal:
    """``value`` itself, or ValidationFailed("<what> exceeds the maximum of 999999999999.99").

    Services call it on every computed sum before they store it, so an oversized value is a
    WHMCS ``result=error`` and the caller's transaction rolls back, never a cent lost
    silently on SQLite or a numeric overflow (500) on PostgreSQL.
    """
    if abs(value) > MONEY_CEILING:
        raise ValidationFailed(f"{what} exceeds the maximum of {MONEY_CEILING}")
    return value
