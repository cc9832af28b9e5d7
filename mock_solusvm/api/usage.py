"""GET usage (billing, INFERRED shape) and the per-server metric endpoints."""

from __future__ import annotations

from flask import Response, request

from contracts.solusvm import MetricsSchema, UsageItemSchema

from ..errors import NotFound
from ..pagecache import cacheable
from ..usage import metrics, parse_period, period_end, usage_items
from .common import api_bp, backend, int_arg, one, page, principal, require_admin


@api_bp.get("/usage")
@cacheable(clock=True)
def billing_usage() -> Response:
    require_admin()
    b = backend()
    with b.lock.held_quietly():
        date_from, date_to = parse_period(request.args.get("date_from"), request.args.get("date_to"), b.clock.now())
        user_id, billing_user_id = int_arg("filter[user_id]"), int_arg("filter[billing_user_id]")
        # the list is computed once per state version and query, then each page is a slice of it
        key = ("usage", date_from, date_to, period_end(date_to, b.clock.now()), user_id, billing_user_id)
        items = b.cached(key, lambda: usage_items(b, date_from, date_to, user_id=user_id,
                                                  billing_user_id=billing_user_id))
    return page(UsageItemSchema, items)


@api_bp.get("/usage/<any(cpu,network,disks,memory):kind>/<uuid>")
def server_metrics(kind: str, uuid: str) -> Response:
    b, p = backend(), principal()
    for s in b.servers.values():
        if s["uuid"] == uuid and s["deleted_at"] is None and (p.is_admin or s["user_id"] == p.user_id):
            return one(MetricsSchema, metrics(kind, b.clock.now()))
    raise NotFound(f"No query results for model [VirtualServer] {uuid}")
