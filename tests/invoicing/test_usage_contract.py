"""The usage adapter checks each item with contracts.solusvm.UsageItemSchema, then maps it.

A malformed item is a ``UsageFormatError`` naming the fields (invoicing reports it); a
malformed ``GET usage`` envelope is ``SolusVMUnavailable`` naming the call. Items the mock
serves (validated by the mock against the same schema) pass.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bridge.services import usage
from bridge.services.usage import UsageFormatError, iter_usage_items, parse_item
from tests.invoicing.conftest import server, user

OCT, DEL_700 = "2026-10-01T00:00:00.000000Z", "2026-10-30T04:00:00.000000Z"

ITEM: dict[str, Any] = {
    "user": {"id": 3, "email": "a@example.com", "billing_user_id": 12},
    "server": {"id": 9, "uuid": "9-uuid", "name": "vm", "is_deleted": False, "deleted_at": None},
    "plan": {"id": 1, "name": "p", "tokens_per_hour": 7, "tokens_per_month": 5000,
             "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500},
    "period": {"from": "2026-10-01", "to": "2026-10-31"},
    "hours": 700, "tokens": 4900, "monthly_cap_applied": False,
    "additional_ips": {"count": 2, "hours": 700, "tokens": 1000}, "backups": {"tokens": 0},
    "total_tokens": 5900,
}


def changed(path: str, value: Any) -> dict[str, Any]:
    """ITEM with ``path`` (dotted) set to ``value``, or removed when ``value`` is ``...``."""
    item = copy.deepcopy(ITEM)
    *parents, last = path.split(".")
    target = item
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return item


def test_a_good_item_maps_every_field():
    item = parse_item(ITEM)
    assert (item.solus_user_id, item.email, item.billing_user_id) == (3, "a@example.com", 12)
    assert (item.server_id, item.server_name, item.server_deleted) == (9, "vm", False)
    assert (item.plan_id, item.plan_name, item.tokens_per_hour, item.tokens_per_month) == (1, "p", 7, 5000)
    assert (item.ip_tokens_per_hour, item.ip_tokens_per_month) == (1, 500)
    assert (item.hours, item.tokens, item.monthly_cap_applied) == (700, 4900, False)
    assert (item.ip_count, item.ip_hours, item.ip_tokens, item.backup_tokens, item.total_tokens) == (2, 700, 1000, 0,
                                                                                                     5900)
    assert item.problems == ()


@pytest.mark.parametrize(("path", "value", "field"), [
    ("hours", "700", "hours"),                          # a number as a string
    ("tokens", -1, "tokens"),                           # negative
    ("total_tokens", "5900", "total_tokens"),
    ("total_tokens", ..., "total_tokens"),              # missing
    ("monthly_cap_applied", "perhaps", "monthly_cap_applied"),
    ("plan.tokens_per_hour", 7.5, "plan.tokens_per_hour"),
    ("plan.ip_tokens_per_month", ..., "plan.ip_tokens_per_month"),
    ("plan.name", ..., "plan.name"),
    ("user", None, "user"),
    ("user.id", "3", "user.id"),
    ("user.email", ..., "user.email"),
    ("server", "vm", "server"),
    ("server.is_deleted", ..., "server.is_deleted"),
    ("additional_ips", ..., "additional_ips"),
    ("additional_ips.tokens", True, "additional_ips.tokens"),
    ("backups.tokens", None, "backups.tokens"),
])
def test_a_malformed_item_is_a_usage_format_error_naming_the_field(path, value, field):
    with pytest.raises(UsageFormatError) as exc:
        parse_item(changed(path, value))
    assert "does not match the contract" in str(exc.value) and f"{field}:" in str(exc.value), str(exc.value)


@pytest.mark.parametrize("raw", [None, [], "item", 5])
def test_an_item_that_is_not_an_object(raw):
    with pytest.raises(UsageFormatError, match="usage item must be an object"):
        parse_item(raw)


@pytest.mark.parametrize(("billing", "expected"), [(12, 12), ("12", 12), (None, None), ("abc", None), (True, None)])
def test_billing_user_id_stays_loosely_typed(billing, expected):
    # SolusVM may send the billing id as a numeric string (reference §2.1): read, not refused.
    assert parse_item(changed("user.billing_user_id", billing)).billing_user_id == expected


def test_fields_the_bridge_does_not_read_are_not_required():
    item = changed("period", ...)
    del item["server"]["uuid"], item["server"]["deleted_at"], item["user"]["billing_user_id"]
    assert parse_item(item).billing_user_id is None


def test_booleans_are_read_through_the_schema():
    # "false" is False for the contract's Boolean (a raw truthiness test would say True).
    assert parse_item(changed("monthly_cap_applied", "false")).monthly_cap_applied is False
    assert parse_item(changed("server.deleted_at", DEL_700)).server_deleted is True


def test_the_schema_is_built_once(monkeypatch):
    def no_new_schema(*_a: Any, **_k: Any) -> None:
        raise AssertionError("parse_item must reuse the module-level schema")

    monkeypatch.setattr(usage, "UsageItemSchema", no_new_schema)
    assert parse_item(ITEM).tokens == 4900


def test_items_served_by_the_mock_pass(world):
    cid = world.client("good@example.com")
    world.seed([user(1, cid)], [server(1, 1, OCT, DEL_700, ips=1, name="web")])
    [item] = iter_usage_items(world.solus, 2026, 10)
    assert (item.solus_user_id, item.billing_user_id, item.server_name, item.server_deleted) == (1, cid, "web", True)
    assert (item.hours, item.tokens, item.ip_count) == (700, 4900, 1) and item.problems == ()


def test_a_malformed_item_from_solusvm_is_reported_by_invoicing(world):
    cid = world.client("bad@example.com")
    world.seed([user(1, cid)], [])
    body = {"data": [changed("hours", "700")], "links": {}, "meta": {"current_page": 1, "last_page": 1}}
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=200, body=body)
    summary = world.run()
    assert not summary.ok and world.invoices() == []
    assert "usage listing failed" in summary.failures[0] and "hours: Not a valid integer." in summary.failures[0]


def test_a_malformed_usage_envelope_is_reported_by_invoicing(world):
    cid = world.client("envelope@example.com")
    world.seed([user(1, cid)], [])
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=200, body={"data": [ITEM]})
    summary = world.run()
    assert not summary.ok and world.invoices() == []
    assert "GET usage (page 1)" in summary.failures[0] and "meta: Missing data" in summary.failures[0]
