"""The one adapter over SolusVM's ``GET /api/v1/usage`` (INFERRED shape, reference §5.3).

Everything the bridge knows about the wire shape of a usage item lives in ``parse_item``,
which checks each item with ``contracts.solusvm.UsageItemSchema`` (the mock's own
definition) and then maps it; the rest of the bridge sees :class:`UsageItem`. The shape is a
guess, so the check is relaxed for the parts the bridge can do without (the IP and backup
blocks, the IP token prices, names, flags and the total): left out, they get a documented
default. What is sent must still have the contract's type. Each item is checked against the
cap rule (``contracts.solusvm_usage.capped_tokens``) with the plan's token prices; a disagreement is
listed in ``UsageItem.problems`` and reported by the caller, never silently fixed here.
"""

from __future__ import annotations

import calendar
import contextvars
import copy
import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, cast

from marshmallow import Schema, ValidationError, fields

from bridge.services.ports import SolusVM
from bridge.services.solusvm_client import contract_errors
from contracts.solusvm import (
    UsageBackupsSchema,
    UsageIpsSchema,
    UsageItemSchema,
    UsagePlanRefSchema,
    UsageServerRefSchema,
    UserRefSchema,
)
from contracts.solusvm_usage import capped_tokens


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
        """A JSON-able dict."""
        d = asdict(self)
        d["problems"] = list(self.problems)
        return d


#: The fields of a usage item the bridge reads, checked with the contract's rules (strict
#: non-negative integers, booleans, strings). Left out: ``period`` (the bridge asked for it),
#: ``server.uuid``, ``server.deleted_at`` (only its presence counts; its timestamp format is a
#: guess) and ``user.billing_user_id``, which SolusVM stores loosely typed (an int, a numeric
#: string or null) and is read below.
ITEM_FIELDS = (
    "user.id", "user.email",
    "server.id", "server.name", "server.is_deleted",
    "plan",
    "hours", "tokens", "monthly_cap_applied", "additional_ips", "backups", "total_tokens",
)


def _relaxed(contract: type[Schema], defaults: Mapping[str, Any] | None = None,
             nested: Mapping[str, type[Schema]] | None = None) -> type[Schema]:
    """``contract`` with the fields in ``defaults`` optional, and ``nested`` schemas swapped in.

    An optional field keeps the contract's type and validators; left out, it loads as its
    default. A default of ``None`` also accepts null and means "SolusVM did not say":
    ``parse_item`` derives the value. The contract's classes are not changed.
    """
    defaults, nested = defaults or {}, nested or {}
    relaxed: dict[str, fields.Field] = {}
    for name in (*defaults, *(n for n in nested if n not in defaults)):
        field = copy.copy(contract._declared_fields[name])
        if name in defaults:
            field.required = False
            field.load_default = defaults[name]
            field.allow_none = field.allow_none or defaults[name] is None
        if name in nested:
            cast(fields.Nested, field).nested = nested[name]
        relaxed[name] = field
    return contract.from_dict(relaxed, name=f"Relaxed{contract.__name__}")


# The parts of the (INFERRED) item the bridge can do without, and what it assumes then:
# no IP or backup block: nothing charged for them; no IP token prices: 0; no e-mail, server
# name, plan name, deletion flag, cap flag or total: derived in ``parse_item``. Required
# still: the user, server and plan ids, the plan's token prices, hours and tokens.
_IPS = _relaxed(UsageIpsSchema, {"count": 0, "hours": 0, "tokens": 0})
_BACKUPS = _relaxed(UsageBackupsSchema, {"tokens": 0})
#: An item without ``additional_ips`` / ``backups`` (or with null) has these: the empty block, loaded.
NO_IPS: Mapping[str, int] = _IPS().load({})
NO_BACKUPS: Mapping[str, int] = _BACKUPS().load({})
_ITEM = _relaxed(
    UsageItemSchema,
    {"monthly_cap_applied": None, "total_tokens": None, "additional_ips": None, "backups": None},
    nested={
        "user": _relaxed(UserRefSchema, {"email": None}),
        "server": _relaxed(UsageServerRefSchema, {"name": None, "is_deleted": None}),
        "plan": _relaxed(UsagePlanRefSchema, {"name": None, "ip_tokens_per_hour": 0, "ip_tokens_per_month": 0}),
        "additional_ips": _IPS,
        "backups": _BACKUPS,
    },
)
#: Built once: invoicing parses every item of a month (tens of thousands) through it.
ITEM_SCHEMA = _ITEM(only=ITEM_FIELDS)


def _billing_user_id(user: Mapping[str, Any]) -> int | None:
    billing = user.get("billing_user_id")
    if isinstance(billing, str) and billing.isdigit():  # SolusVM stores it loosely typed
        return int(billing)
    if isinstance(billing, bool) or not isinstance(billing, int):
        return None
    return billing


def parse_item(raw: Any) -> UsageItem:
    """Turn one wire item into a :class:`UsageItem` (no rule check); ``UsageFormatError`` if malformed."""
    if not isinstance(raw, Mapping):
        raise UsageFormatError("usage item must be an object")
    try:
        item = ITEM_SCHEMA.load(raw)
    except ValidationError as exc:
        raise UsageFormatError(f"usage item does not match the contract (UsageItemSchema): "
                               f"{contract_errors(exc.messages)}") from None
    user, server, plan = item["user"], item["server"], item["plan"]
    ips, backups = item["additional_ips"] or NO_IPS, item["backups"] or NO_BACKUPS
    tokens = item["tokens"]
    cap_applied = item["monthly_cap_applied"]
    if cap_applied is None:  # not said: what the cap rule gives for these hours and prices
        cap_applied = capped_tokens(item["hours"], plan["tokens_per_hour"], plan["tokens_per_month"]).monthly_cap_applied
    total = item["total_tokens"]
    if total is None:  # not said: the sum of its parts
        total = tokens + ips["tokens"] + backups["tokens"]
    return UsageItem(
        solus_user_id=user["id"],
        email=user["email"] or "",
        billing_user_id=_billing_user_id(raw["user"]),
        server_id=server["id"],
        server_name=server["name"] or f"server {server['id']}",
        server_deleted=bool(server["is_deleted"]) or bool(raw["server"].get("deleted_at")),
        plan_id=plan["id"],
        plan_name=plan["name"] or f"plan {plan['id']}",
        tokens_per_hour=plan["tokens_per_hour"],
        tokens_per_month=plan["tokens_per_month"],
        ip_tokens_per_hour=plan["ip_tokens_per_hour"],
        ip_tokens_per_month=plan["ip_tokens_per_month"],
        hours=item["hours"],
        tokens=tokens,
        monthly_cap_applied=cap_applied,
        ip_count=ips["count"],
        ip_hours=ips["hours"],
        ip_tokens=ips["tokens"],
        backup_tokens=backups["tokens"],
        total_tokens=total,
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


def iter_usage_items(solus: SolusVM, year: int, month: int, *, user_id: int | None = None,
                     per_page: int | None = 100, until: date | None = None,
                     complete: bool = False, prefetch: bool = False) -> Iterator[UsageItem]:
    """Every usage item of one month, page by page, each checked against the cap rule.

    ``solus`` is a ``SolusVMClient``; its errors (``SolusVMUnavailable`` after retries)
    propagate. Malformed items raise ``UsageFormatError``. ``until`` cuts a running month
    (the client area's usage so far). ``complete``: the listing must be provably whole
    (``SolusVMIncomplete`` otherwise), as invoicing needs. ``prefetch``: the pages are read by
    a thread of their own (``prefetched``) while the items already read are checked here.
    """
    date_from, date_to = month_dates(year, month)
    if until is not None:
        date_to = max(date_from, min(date_to, until))
    raws = solus.iter_usage(date_from, date_to, user_id=user_id, per_page=per_page, complete=complete)
    for raw in prefetched(raws) if prefetch else raws:
        item = parse_item(raw)
        problems = check_item(item, year, month)
        yield replace(item, problems=problems) if problems else item


PREFETCH_CHUNK = 200  # items handed over at a time
PREFETCH_CHUNKS = 10  # chunks read ahead at most: memory stays bounded however long the listing
_END = object()


def prefetched(source: Iterator[Any]) -> Iterator[Any]:
    """``source``'s items, read by a producer thread while the caller works on the previous ones.

    The producer runs in a copy of the caller's context (the request id its SolusVM calls carry),
    stays at most ``PREFETCH_CHUNKS`` chunks ahead, and hands over an exception where it happened,
    after the items before it. When the caller stops early, the producer is told to stop and
    joined before this returns, so nothing else uses ``source``'s client afterwards.
    """
    handover: queue.Queue[Any] = queue.Queue(maxsize=PREFETCH_CHUNKS)
    stop = threading.Event()

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                handover.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        chunk: list[Any] = []
        end: Any = _END
        try:
            for raw in source:
                chunk.append(raw)
                if len(chunk) >= PREFETCH_CHUNK:
                    if not put(chunk):
                        return
                    chunk = []
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            end = exc
        if not chunk or put(chunk):
            put(end)

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(produce,), name="usage-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            got = handover.get()
            if got is _END:
                return
            if isinstance(got, BaseException):
                raise got
            yield from got
    finally:
        stop.set()
        thread.join()


def usage_items_so_far(solus: SolusVM, solusvm_user_id: int, *, now: datetime) -> list[UsageItem]:
    """The running month's usage items of one SolusVM user, up to ``now`` (SolusVM errors propagate)."""
    now = now.astimezone(UTC)
    return list(iter_usage_items(solus, now.year, now.month, user_id=solusvm_user_id, until=now.date()))
