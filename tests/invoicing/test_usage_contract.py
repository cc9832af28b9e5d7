"""The usage adapter checks each item with contracts.solusvm.UsageItemSchema, then maps it.

A malformed item (a required field missing, any field of the wrong type) is a
``UsageFormatError`` naming the fields (invoicing reports it); the optional parts of the
inferred shape get their documented default when left out. A malformed ``GET usage``
envelope is ``SolusVMUnavailable`` naming the call. Items the mock serves (validated by the
mock against the same schema) pass.
"""

from __future__ import annotations

import copy
from decimal import Decimal as D
from typing import Any

import pytest

from bridge.services import usage
from bridge.services.usage import UsageFormatError, iter_usage_items, parse_item
from contracts.solusvm import UsageItemSchema
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
    # required: what the bridge cannot bill without
    ("hours", ..., "hours"),
    ("tokens", ..., "tokens"),
    ("user", ..., "user"),
    ("user", None, "user"),
    ("user.id", ..., "user.id"),
    ("server", ..., "server"),
    ("server.id", ..., "server.id"),
    ("plan", ..., "plan"),
    ("plan.id", ..., "plan.id"),
    ("plan.tokens_per_hour", ..., "plan.tokens_per_hour"),
    ("plan.tokens_per_month", ..., "plan.tokens_per_month"),
    # wrongly typed, required or optional alike
    ("hours", "700", "hours"),                          # a number as a string
    ("tokens", -1, "tokens"),                           # negative
    ("total_tokens", "5900", "total_tokens"),
    ("monthly_cap_applied", "perhaps", "monthly_cap_applied"),
    ("plan.tokens_per_hour", 7.5, "plan.tokens_per_hour"),
    ("plan.ip_tokens_per_month", "500", "plan.ip_tokens_per_month"),
    ("plan.ip_tokens_per_hour", None, "plan.ip_tokens_per_hour"),
    ("plan.name", 1, "plan.name"),
    ("user.id", "3", "user.id"),
    ("user.email", ["a@example.com"], "user.email"),
    ("server", "vm", "server"),
    ("server.name", 9, "server.name"),
    ("server.is_deleted", "perhaps", "server.is_deleted"),
    ("additional_ips", [], "additional_ips"),
    ("additional_ips.tokens", True, "additional_ips.tokens"),
    ("additional_ips.count", "2", "additional_ips.count"),
    ("backups", 0, "backups"),
    ("backups.tokens", None, "backups.tokens"),
])
def test_a_malformed_item_is_a_usage_format_error_naming_the_field(path, value, field):
    with pytest.raises(UsageFormatError) as exc:
        parse_item(changed(path, value))
    assert "does not match the contract" in str(exc.value) and f"{field}:" in str(exc.value), str(exc.value)


NO_IPS = {"ip_count": 0, "ip_hours": 0, "ip_tokens": 0}


@pytest.mark.parametrize(("path", "value", "expected"), [
    # no IP block (or null): no additional IPs
    ("additional_ips", ..., NO_IPS),
    ("additional_ips", None, NO_IPS),
    ("additional_ips.count", ..., {"ip_count": 0, "ip_hours": 700, "ip_tokens": 1000}),
    ("additional_ips.hours", ..., {"ip_count": 2, "ip_hours": 0, "ip_tokens": 1000}),
    ("additional_ips.tokens", ..., {"ip_count": 2, "ip_hours": 700, "ip_tokens": 0}),
    # no backup block (or null, or no tokens in it): no backup tokens
    ("backups", ..., {"backup_tokens": 0}),
    ("backups", None, {"backup_tokens": 0}),
    ("backups.tokens", ..., {"backup_tokens": 0}),
    # no total (or null): the sum of its parts
    ("total_tokens", ..., {"total_tokens": 5900}),
    ("total_tokens", None, {"total_tokens": 5900}),
    # no IP token prices: 0
    ("plan.ip_tokens_per_hour", ..., {"ip_tokens_per_hour": 0, "ip_tokens_per_month": 500}),
    ("plan.ip_tokens_per_month", ..., {"ip_tokens_per_hour": 1, "ip_tokens_per_month": 0}),
    # no deletion flag: deleted when deleted_at is set
    ("server.is_deleted", ..., {"server_deleted": False}),
    ("server.is_deleted", None, {"server_deleted": False}),
    # no cap flag: what the cap rule gives (700 h × 7 = 4900 < 5000)
    ("monthly_cap_applied", ..., {"monthly_cap_applied": False}),
    ("monthly_cap_applied", None, {"monthly_cap_applied": False}),
    # no (or an empty) name or e-mail
    ("server.name", ..., {"server_name": "server 9"}),
    ("server.name", None, {"server_name": "server 9"}),
    ("server.name", "", {"server_name": "server 9"}),
    ("plan.name", ..., {"plan_name": "plan 1"}),
    ("plan.name", None, {"plan_name": "plan 1"}),
    ("user.email", ..., {"email": ""}),
    ("user.email", None, {"email": ""}),
])
def test_a_missing_optional_part_gets_its_default(path, value, expected):
    item = parse_item(changed(path, value)).as_dict()
    assert {k: item[k] for k in expected} == expected
    untouched = {k: v for k, v in parse_item(ITEM).as_dict().items() if k not in expected}
    assert {k: item[k] for k in untouched} == untouched


def test_without_the_ip_block_the_total_is_the_server_tokens():
    item = parse_item(changed("total_tokens", ...) | {"additional_ips": None})
    assert (item.ip_tokens, item.total_tokens) == (0, 4900) and usage.check_item(item, 2026, 10) == ()


def test_an_item_with_only_the_required_parts():
    raw = {"user": {"id": 3}, "server": {"id": 9}, "hours": 744, "tokens": 5000,
           "plan": {"id": 1, "tokens_per_hour": 7, "tokens_per_month": 5000}}
    item = parse_item(raw)
    assert (item.email, item.billing_user_id, item.server_name, item.server_deleted, item.plan_name) \
        == ("", None, "server 9", False, "plan 1")
    assert (item.ip_tokens_per_hour, item.ip_tokens_per_month, item.ip_count, item.ip_hours, item.ip_tokens) \
        == (0, 0, 0, 0, 0)
    # 744 h × 7 = 5208 > 5000: the cap rule says the monthly price applied
    assert (item.monthly_cap_applied, item.price_mode, item.backup_tokens, item.total_tokens) \
        == (True, "monthly", 0, 5000)
    assert usage.check_item(item, 2026, 10) == ()


def test_the_contract_itself_is_not_relaxed():
    # The mock validates its answers against the full contract: it must stay strict.
    errors = UsageItemSchema().validate(changed("backups", ...))
    assert errors == {"backups": ["Missing data for required field."]}


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
    assert "usage listing unusable" in summary.notes[0] and "hours: Not a valid integer." in summary.notes[0]
    assert "hours: Not a valid integer." in summary.failures[0]


def test_a_malformed_usage_envelope_is_reported_by_invoicing(world):
    cid = world.client("envelope@example.com")
    world.seed([user(1, cid)], [])
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=200,
                          body={"data": [ITEM], "meta": {"current_page": 1, "last_page": "1"}})
    summary = world.run()
    assert not summary.ok and world.invoices() == []
    assert "GET usage (page 1)" in summary.failures[0] and "meta.last_page: Not a valid integer" \
        in summary.failures[0]


def bare(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` without any optional part of the item."""
    item = copy.deepcopy(raw)
    for key in ("additional_ips", "backups", "total_tokens", "monthly_cap_applied", "period"):
        item.pop(key, None)
    for key in ("ip_tokens_per_hour", "ip_tokens_per_month", "name"):
        item["plan"].pop(key, None)
    for key in ("is_deleted", "name", "uuid", "deleted_at"):
        item["server"].pop(key, None)
    item["user"].pop("email", None)
    return item


def test_items_without_their_optional_parts_are_invoiced_at_the_right_amounts(world):
    cid = world.client("lean@example.com")
    world.seed([user(3, cid)], [])
    hourly = bare({**ITEM, "user": {**ITEM["user"], "billing_user_id": cid}})    # 700 h × 7 = 4900 tokens
    capped = {**hourly, "server": {"id": 10}, "hours": 744, "tokens": 5000}      # 5208 > 5000: the cap
    # no meta either: one page, as links.next is null
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=200,
                          body={"data": [hourly, capped], "links": {"next": None}})
    summary = world.run()
    assert summary.ok and not summary.problems, summary
    [inv] = world.invoices()
    lines = sorted((i.server_id, i.server_name, i.price_mode, i.kind, i.tokens, i.amount) for i in inv.items)
    assert lines == [(9, "server 9", "hourly", "server", 4900, D("4.90")),
                     (10, "server 10", "monthly", "server", 5000, D("5.00"))]
    assert inv.total == D("9.90")
