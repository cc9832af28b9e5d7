"""The one adapter over SolusVM's ``GET /api/v1/usage`` (INFERRED shape, reference §5.3).

Everything the bridge knows about the wire shape of a usage item lives in ``parse_item``;
the rest of the bridge sees :class:`UsageItem`. Each item is checked against the cap rule
(``contracts.rules.capped_tokens``) with the plan's token prices; a disagreement is listed
in ``UsageItem.problems`` and reported by the caller, never silently fixed here.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

from contracts.rules import capped_tokens


class UsageFormatError(ValueError):
    """A usage item does not have the shape this adapter understands."""


@dataclass(frozen=True)
class UsageItem:
    """One (SolusVM user, server) usage record for one billing month."""

    solus_user_id: int
    email: str
    billing_user_id: int | None
    server_id: int
    server_name: str
    server_deleted: bool
    plan_id: int
    plan_name: str
    tokens_per_hour: int
    tokens_per_month: int
    ip_tokens_per_hour: int
    ip_tokens_per_month: int
    hours: int
    tokens: int
    monthly_cap_applied: bool
    ip_count: int = 0
    ip_hours: int = 0
    ip_tokens: int = 0
    backup_tokens: int = 0
    total_tokens: int = 0
    problems: tuple[str, ...] = field(default=())

    @property
    def price_mode(self) -> str:
        """``monthly`` when the monthly price applied (cap reached or fixed monthly plan), else ``hourly``."""
        return "monthly" if self.monthly_cap_applied else "hourly"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict (round-trips through :meth:`from_dict`)."""
        d = asdict(self)
        d["problems"] = list(self.problems)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UsageItem:
        """Inverse of :meth:`as_dict`."""
        return cls(**{**d, "problems": tuple(d.get("problems", ()))})


def _int(obj: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageFormatError(f"usage item: {where}{key} must be a non-negative integer, got {value!r}")
    return value


def _obj(raw: Mapping[str, Any], key: str, required: bool = True) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise UsageFormatError(f"usage item: {key} must be an object")
    return value


def parse_item(raw: Any) -> UsageItem:
    """Turn one wire item into a :class:`UsageItem` (no rule check); ``UsageFormatError`` if malformed."""
    if not isinstance(raw, Mapping):
        raise UsageFormatError("usage item must be an object")
    user, server, plan = _obj(raw, "user"), _obj(raw, "server"), _obj(raw, "plan")
    ips, backups = _obj(raw, "additional_ips", False), _obj(raw, "backups", False)
    billing = user.get("billing_user_id")
    if isinstance(billing, str) and billing.isdigit():  # SolusVM stores it loosely typed
        billing = int(billing)
    if billing is not None and (isinstance(billing, bool) or not isinstance(billing, int)):
        billing = None
    ip_tokens = _int(ips, "tokens", "additional_ips.", 0)
    backup_tokens = _int(backups, "tokens", "backups.", 0)
    tokens = _int(raw, "tokens", "")
    total = raw.get("total_tokens", tokens + ip_tokens + backup_tokens)
    return UsageItem(
        solus_user_id=_int(user, "id", "user."),
        email=str(user.get("email") or ""),
        billing_user_id=billing,
        server_id=_int(server, "id", "server."),
        server_name=str(server.get("name") or f"server {server.get('id')}"),
        server_deleted=bool(server.get("is_deleted") or server.get("deleted_at")),
        plan_id=_int(plan, "id", "plan."),
        plan_name=str(plan.get("name") or ""),
        tokens_per_hour=_int(plan, "tokens_per_hour", "plan."),
        tokens_per_month=_int(plan, "tokens_per_month", "plan."),
        ip_tokens_per_hour=_int(plan, "ip_tokens_per_hour", "plan.", 0),
        ip_tokens_per_month=_int(plan, "ip_tokens_per_month", "plan.", 0),
        hours=_int(raw, "hours", ""),
        tokens=tokens,
        monthly_cap_applied=bool(raw.get("monthly_cap_applied")),
        ip_count=_int(ips, "count", "additional_ips.", 0),
        ip_hours=_int(ips, "hours", "additional_ips.", 0),
        ip_tokens=ip_tokens,
        backup_tokens=backup_tokens,
        total_tokens=total if isinstance(total, int) and not isinstance(total, bool) else -1,
    )


def check_item(item: UsageItem, year: int, month: int) -> tuple[str, ...]:
    """Disagreements between an item and the cap rule for one calendar month (empty: consistent)."""
    problems: list[str] = []
    max_hours = calendar.monthrange(year, month)[1] * 24
    label = f"server {item.server_id} ({item.server_name}) of SolusVM user {item.solus_user_id}"
    if item.hours > max_hours:
        problems.append(f"{label}: {item.hours} h is more than the {max_hours} h of {year:04d}-{month:02d}")
    expected = capped_tokens(item.hours, item.tokens_per_hour, item.tokens_per_month)
    if item.tokens != expected.tokens:
        problems.append(f"{label}: SolusVM says {item.tokens} tokens, the cap rule gives {expected.tokens} "
                        f"({item.hours} h × {item.tokens_per_hour}/h, cap {item.tokens_per_month})")
    elif item.monthly_cap_applied != expected.monthly_cap_applied and item.hours:
        problems.append(f"{label}: monthly_cap_applied is {item.monthly_cap_applied}, "
                        f"the cap rule says {expected.monthly_cap_applied}")
    if item.ip_count or item.ip_tokens:
        per_ip = capped_tokens(min(item.ip_hours, max_hours), item.ip_tokens_per_hour, item.ip_tokens_per_month)
        if item.ip_tokens != item.ip_count * per_ip.tokens:
            problems.append(f"{label}: SolusVM says {item.ip_tokens} IP tokens, the cap rule gives "
                            f"{item.ip_count * per_ip.tokens} ({item.ip_count} IP × {item.ip_hours} h)")
    if item.total_tokens != item.tokens + item.ip_tokens + item.backup_tokens:
        problems.append(f"{label}: total_tokens {item.total_tokens} is not tokens + IP + backup tokens")
    return tuple(problems)


def month_dates(year: int, month: int) -> tuple[date, date]:
    """The inclusive ``date_from``/``date_to`` of a calendar month."""
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def iter_usage_items(solus: Any, year: int, month: int, *, user_id: int | None = None,
                     per_page: int | None = 100, until: date | None = None) -> Iterator[UsageItem]:
    """Every usage item of one month, page by page, each checked against the cap rule.

    ``solus`` is a ``SolusVMClient``; its errors (``SolusVMUnavailable`` after retries)
    propagate. Malformed items raise ``UsageFormatError``. ``until`` cuts a running month
    (the client area's usage so far).
    """
    date_from, date_to = month_dates(year, month)
    if until is not None:
        date_to = max(date_from, min(date_to, until))
    for raw in solus.iter_usage(date_from, date_to, user_id=user_id, per_page=per_page):
        item = parse_item(raw)
        problems = check_item(item, year, month)
        yield replace(item, problems=problems) if problems else item
