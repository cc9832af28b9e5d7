"""``GET /api/v1/usage``: the billing usage items (INFERRED shape, reference §5.3).

The shape lives only here (and in ``contracts.solusvm.UsageItemSchema``) so it can change.
The arithmetic is ``contracts.solusvm_usage``: started hours per month segment, cap per server per
calendar month, a period spanning months sums the months. Stopped and suspended servers
accrue like running ones (the docs bill from creation to termination).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from contracts.solusvm_usage import capped_tokens, month_bounds, overlap, started_hours

from .errors import Invalid
from .extras import history_segments

MAX_PERIOD_DAYS = 3660  # ten years: keeps the per-month loop bounded


def parse_period(date_from: str | None, date_to: str | None, now: datetime) -> tuple[date, date]:
    """Inclusive UTC dates; defaults: the first of the current (virtual) month to today."""
    errors: dict[str, list[str]] = {}
    parsed: dict[str, date] = {}
    for key, raw, default in (("date_from", date_from, now.date().replace(day=1)), ("date_to", date_to, now.date())):
        if raw in (None, ""):
            parsed[key] = default
            continue
        try:
            if len(raw) != 10:
                raise ValueError
            parsed[key] = date.fromisoformat(raw)
        except ValueError:
            errors[key] = [f"The {key.replace('_', ' ')} must be a date in the format YYYY-MM-DD."]
    if errors:
        raise Invalid(errors)
    if parsed["date_from"] > parsed["date_to"]:
        raise Invalid({"date_to": ["The date to must be a date after or equal to date from."]})
    if parsed["date_from"].year < 1970 or parsed["date_to"].year > 9000:
        raise Invalid({"date_from": ["Dates must fall in the years 1970-9000."]})
    if (parsed["date_to"] - parsed["date_from"]).days > MAX_PERIOD_DAYS:
        raise Invalid({"date_to": [f"A usage period is at most {MAX_PERIOD_DAYS} days."]})
    return parsed["date_from"], parsed["date_to"]


def period_end(date_to: date, now: datetime) -> datetime:
    """The exclusive end of a usage period: the day after ``date_to``, or ``now`` if earlier.

    The clock enters usage only through this instant, so it is what a cache of usage keys on.
    """
    return min(datetime.combine(date_to + timedelta(days=1), datetime.min.time(), UTC), now)


def _months(lo: datetime, hi: datetime) -> list[tuple[int, int]]:
    out, y, m = [], lo.year, lo.month
    while datetime(y, m, 1, tzinfo=UTC) < hi:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def server_usage(server: dict[str, Any], plan: dict[str, Any], lo: datetime, hi: datetime) -> dict[str, Any]:
    """Hours and tokens of one server over ``[lo, hi)``, cap applied per calendar month."""
    hours = tokens = ip_hours = ip_tokens = 0
    cap = False
    ips = server["additional_ip_count"]
    for y, m in _months(lo, hi):
        m_lo, m_hi = month_bounds(y, m)
        span = overlap(server["created_at"], server["deleted_at"], max(lo, m_lo), min(hi, m_hi))
        h = started_hours(*span) if span else 0
        charge = capped_tokens(h, plan["tokens_per_hour"], plan["tokens_per_month"])
        hours += charge.hours
        tokens += charge.tokens
        cap = cap or charge.monthly_cap_applied
        if ips:
            ip_charge = capped_tokens(h, plan["ip_tokens_per_hour"], plan["ip_tokens_per_month"])
            ip_hours += h
            ip_tokens += ips * ip_charge.tokens
    return {"hours": hours, "tokens": tokens, "monthly_cap_applied": cap,
            "additional_ips": {"count": ips, "hours": ip_hours, "tokens": ip_tokens}}


def _plan_groups(server: dict[str, Any]) -> list[list[tuple[datetime, datetime | None, int, int]]]:
    """The server's history segments, consecutive ones on the same plan grouped (one usage item each)."""
    groups: list[list[tuple[datetime, datetime | None, int, int]]] = []
    for seg in history_segments(server):
        if groups and groups[-1][-1][2] == seg[2]:
            groups[-1].append(seg)
        else:
            groups.append([seg])
    return groups


def _group_usage(plan: dict[str, Any], group: list[tuple[datetime, datetime | None, int, int]], lo: datetime,
                 hi: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Usage of one plan's stretch of a server's life; each IP count billed for the time it was in force."""
    u = server_usage({"created_at": group[0][0], "deleted_at": group[-1][1], "additional_ip_count": 0}, plan, lo, hi)
    ip_hours = ip_tokens = 0
    for seg_from, seg_to, _plan, ips in group:
        if ips:
            ipu = server_usage({"created_at": seg_from, "deleted_at": seg_to, "additional_ip_count": ips},
                               plan, lo, hi)["additional_ips"]
            ip_hours += ipu["hours"]
            ip_tokens += ipu["tokens"]
    u["additional_ips"] = {"count": group[-1][3], "hours": ip_hours, "tokens": ip_tokens}
    return plan, u


def backup_tokens(backend: Any, server: dict[str, Any], plan: dict[str, Any], tokens: int, hi: datetime) -> int:
    """Backup charge of one item (guess): ``backup_price`` percent of its server tokens, rounded half up,
    when the server has a backup that was made before ``hi`` and not deleted by then."""
    raw = plan.get("backup_price")
    if not tokens or raw in (None, 0, "0"):
        return 0  # the common case, without building a Decimal per server
    price = Decimal(str(raw))
    if not price:
        return 0
    backups = getattr(backend, "backups", {})
    if not any(b["server_id"] == server["id"] and b["created_at"] < hi
               and (b["deleted_at"] is None or b["deleted_at"] >= hi) for b in backups.values()):
        return 0
    return int((Decimal(tokens) * price / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def usage_items(backend: Any, date_from: date, date_to: date, user_id: int | None = None,
                billing_user_id: int | None = None) -> list[dict[str, Any]]:
    """One item per (user, server, plan in force) with hours in the period; deleted servers included.

    A resize starts a new item on the new plan at that instant; additional IPs are billed for
    the time each count was in force.
    """
    lo = datetime.combine(date_from, datetime.min.time(), UTC)
    hi = period_end(date_to, backend.clock.now())
    items = []
    for server in backend.servers.values():
        if user_id is not None and server["user_id"] != user_id:
            continue
        user = backend.users.get(server["user_id"])
        if user is None or (billing_user_id is not None and user["billing_user_id"] != billing_user_id):
            continue
        if hi <= lo:
            break
        if not server.get("history"):  # never resized nor re-addressed: one span, one plan (the common case)
            parts = [(backend.plans[server["plan_id"]], server_usage(server, backend.plans[server["plan_id"]], lo, hi))]
        else:
            parts = [_group_usage(backend.plans[group[0][2]], group, lo, hi) for group in _plan_groups(server)]
        for plan, u in parts:
            if u["hours"] == 0:
                continue
            ip_tokens = u["additional_ips"]["tokens"]
            backups = backup_tokens(backend, server, plan, u["tokens"], hi)
            items.append({
                "user": {"id": user["id"], "email": user["email"], "billing_user_id": user["billing_user_id"]},
                "server": {"id": server["id"], "uuid": server["uuid"], "name": server["name"],
                           "is_deleted": server["deleted_at"] is not None, "deleted_at": server["deleted_at"]},
                "plan": {k: plan[k] for k in ("id", "name", "tokens_per_hour", "tokens_per_month",
                                              "ip_tokens_per_hour", "ip_tokens_per_month")},
                "period": {"from_": date_from, "to": date_to},
                **u,
                "backups": {"tokens": backups},
                "total_tokens": u["tokens"] + ip_tokens + backups,
            })
    return items


def metrics(kind: str, now: datetime) -> dict[str, Any]:
    """Synthetic, deterministic per-server metrics: 12 five-minute points ending at ``now``."""
    points = []
    for i in range(12):
        t = (now - timedelta(minutes=5 * (11 - i))).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        if kind == "cpu":
            points.append({"time": t, "load_average": round(0.1 * (i % 4), 2)})
        elif kind == "memory":
            points.append({"time": t, "memory": 512 * 1024 * (1 + i % 3)})
        else:
            points.append({"time": t, "derivative": {"read_kb": 10 * i, "write_kb": 5 * i}})
    return {"items": points}
