"""Exact invoice amounts (design §3) for the seed's examples and the edge cases.

October 2026 has 31 days = 744 hours; the mock's clock is frozen at 2026-11-01T00:00Z, so
the whole month is over. USD: 1 token = 0.00100 (the default catalogue), 2 decimals.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from tests.invoicing.conftest import plan, server, user


def lines_by_name(inv):
    return {(it.server_name, it.kind): it for it in inv.items}


def test_seed_examples_700h_and_730h(world):
    cid = world.client("ann@example.com")
    world.seed([user(1, cid)], [
        # 2026-10-01 00:00 → 2026-10-30 04:00 = 29 × 24 + 4 = 700 h; 700 × 7 = 4900 tokens (< 5000 cap)
        server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z", name="web-1"),
        # 2026-10-01 14:00 → end of month = 744 - 14 = 730 h; 730 × 7 = 5110 > 5000 → the cap, 5000 tokens
        server(2, 1, "2026-10-01T14:00:00Z", name="web-2"),
    ])
    summary = world.run()
    assert summary.ok, summary.render()
    assert (summary.clients, summary.invoices, summary.lines) == (1, 1, 2)
    [inv] = world.invoices()
    assert inv.client_id == cid and inv.period == "2026-10"
    assert inv.date == date(2026, 11, 1) and inv.duedate == date(2026, 11, 15)  # INVOICE_DUE_DAYS = 14
    lines = lines_by_name(inv)
    web1, web2 = lines["web-1", "server"], lines["web-2", "server"]
    assert (web1.hours, web1.tokens, web1.price_mode, web1.amount) == (700, 4900, "hourly", D("4.90"))
    assert "(deleted)" in web1.description and web1.plan_name == "1 Core, 1 GB RAM"
    assert (web2.hours, web2.tokens, web2.price_mode, web2.amount) == (730, 5000, "monthly", D("5.00"))
    # 4.90 + 5.00, no taxes in the default catalogue
    assert (inv.subtotal, inv.tax, inv.tax2, inv.total) == (D("9.90"), 0, 0, D("9.90"))
    assert summary.totals == {"USD": D("9.90")}


def test_five_minutes_is_one_hour_and_rounds_half_up(world):
    cid = world.client("five@example.com")
    world.seed([user(1, cid)], [server(1, 1, "2026-10-10T10:00:00Z", "2026-10-10T10:05:00Z")])
    world.run()
    [inv] = world.invoices()
    [line] = inv.items
    # 5 minutes → 1 started hour → 7 tokens × 0.001 = 0.007 → half-up to 2 decimals = 0.01
    assert (line.hours, line.tokens, line.amount, inv.total) == (1, 7, D("0.01"), D("0.01"))


def test_tokens_per_month_zero_is_hourly_only(world):
    cid = world.client("hourly@example.com")
    world.seed([user(1, cid)], [server(1, 1, "2026-10-01T00:00:00Z", plan_id=2)], plans=[plan(2, 10, 0)])
    world.run()
    [inv] = world.invoices()
    [line] = inv.items
    # 744 h × 10 = 7440 tokens, no cap → 7.44
    assert (line.hours, line.tokens, line.price_mode, line.amount) == (744, 7440, "hourly", D("7.44"))


def test_tokens_per_hour_zero_is_the_fixed_monthly_price(world):
    cid = world.client("fixed@example.com")
    world.seed([user(1, cid)], [server(1, 1, "2026-10-05T00:00:00Z", "2026-10-05T01:00:00Z", plan_id=3)],
               plans=[plan(3, 0, 3000)])
    world.run()
    [inv] = world.invoices()
    [line] = inv.items
    # one hour of a fixed-price plan is the monthly price: 3000 tokens → 3.00
    assert (line.hours, line.tokens, line.price_mode, line.amount) == (1, 3000, "monthly", D("3.00"))


def test_server_crossing_a_month_boundary_is_billed_in_each_month(world):
    cid = world.client("cross@example.com")
    world.seed([user(1, cid)], [server(1, 1, "2026-09-30T22:30:00Z", "2026-10-01T03:10:00Z", plan_id=2)],
               plans=[plan(2, 10, 0)])
    world.run(2026, 9)
    world.run(2026, 10)
    sep, octo = sorted(world.invoices(), key=lambda i: i.period)
    # September: 22:30 → 24:00 = 1.5 h → 2 started hours × 10 = 20 tokens → 0.02
    assert (sep.period, sep.items[0].hours, sep.items[0].tokens, sep.total) == ("2026-09", 2, 20, D("0.02"))
    assert sep.date == date(2026, 10, 1)
    # October: 00:00 → 03:10 = 4 started hours (a new count in a new month) × 10 = 40 tokens → 0.04
    assert (octo.period, octo.items[0].hours, octo.items[0].tokens, octo.total) == ("2026-10", 4, 40, D("0.04"))


TAXES_DE = {
    "settings": {"TaxEnabled": True, "TaxType": "Exclusive", "TaxL2Compound": True},
    "groups": [{"name": "Resellers", "discount_percent": "10"}],
    "tax_rules": [{"level": 1, "name": "VAT", "country": "DE", "rate": "6"},
                  {"level": 2, "name": "Extra", "country": "DE", "rate": "2"}],
}


def test_group_discount_and_compound_taxes(world):
    world.catalogue(TAXES_DE)
    cid = world.client("reseller@example.de", group="Resellers", country="DE")
    world.seed([user(1, cid)], [
        server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z", name="a"),  # 700 h → 4900 tokens
        server(2, 1, "2026-10-01T00:00:00Z", name="b"),  # 744 h → cap 5000 tokens
    ])
    summary = world.run()
    assert summary.ok, summary.render()
    [inv] = world.invoices()
    a, b = lines_by_name(inv)["a", "server"], lines_by_name(inv)["b", "server"]
    # a: 4900 × 0.001 × 0.9 = 4.41; tax 4.41 × 6 % = 0.2646 → 0.26; tax2 (4.41 + 0.26) × 2 % = 0.0934 → 0.09
    assert (a.amount, a.tax_amount, a.tax2_amount) == (D("4.41"), D("0.26"), D("0.09"))
    # b: 5000 × 0.001 × 0.9 = 4.50; tax 0.27; tax2 (4.50 + 0.27) × 2 % = 0.0954 → 0.10
    assert (b.amount, b.tax_amount, b.tax2_amount) == (D("4.50"), D("0.27"), D("0.10"))
    assert (inv.taxrate, inv.taxrate2) == (D("6"), D("2"))
    # subtotal 8.91 + tax 0.53 + tax2 0.19 = 9.63, to the cent
    assert (inv.subtotal, inv.tax, inv.tax2, inv.total) == (D("8.91"), D("0.53"), D("0.19"), D("9.63"))


def test_tax_exempt_client_is_not_taxed(world):
    world.catalogue(TAXES_DE)
    cid = world.client("exempt@example.de", country="DE", taxexempt=True)
    world.seed([user(1, cid)], [server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z")])
    world.run()
    [inv] = world.invoices()
    # 4900 tokens × 0.001 = 4.90, no discount (no group), no taxes
    assert (inv.subtotal, inv.tax, inv.tax2, inv.total) == (D("4.90"), 0, 0, D("4.90"))
    assert inv.items[0].taxed is False


def test_jpy_client_has_no_decimals(world):
    world.catalogue({"currencies": [{"code": "JPY", "prefix": "¥", "suffix": " JPY", "format": 4,
                                     "decimals": 0, "rate": "150", "token_price": "0.153"}]})
    cid = world.client("yen@example.jp", currency="JPY")
    world.seed([user(1, cid)], [
        server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z", name="big"),  # 4900 tokens
        server(2, 1, "2026-10-10T10:00:00Z", "2026-10-10T10:05:00Z", name="tiny"),  # 7 tokens
    ])
    world.run()
    [inv] = world.invoices()
    lines = lines_by_name(inv)
    # 4900 × 0.153 = 749.7 → 750; 7 × 0.153 = 1.071 → 1; total 751 JPY, no fraction
    assert lines["big", "server"].amount == D("750") and lines["tiny", "server"].amount == D("1")
    assert inv.total == D("751") and inv.currency.code == "JPY"
    assert world.run().ok  # rerun is harmless


def test_inclusive_catalogue_splits_tax_out_of_the_price(world):
    world.catalogue({"settings": {"TaxEnabled": True, "TaxType": "Inclusive"},
                     "tax_rules": [{"level": 1, "name": "VAT", "country": "GB", "rate": "20"}]})
    cid = world.client("uk@example.co.uk", country="GB")
    world.seed([user(1, cid)], [server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z")])
    world.run()
    [inv] = world.invoices()
    [line] = inv.items
    # gross 4900 × 0.001 = 4.90 (the price includes VAT); net 4.90 / 1.2 = 4.0833…;
    # VAT 4.0833 × 20 % = 0.8167 → 0.82; the client pays exactly the gross 4.90
    assert (line.amount, line.tax_amount) == (D("4.90"), D("0.82"))
    assert (inv.subtotal, inv.tax, inv.total) == (D("4.08"), D("0.82"), D("4.90"))


def test_additional_ips_get_their_own_line(world):
    cid = world.client("ips@example.com")
    world.seed([user(1, cid)], [server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z", ips=2, name="ip")])
    world.run()
    [inv] = world.invoices()
    lines = lines_by_name(inv)
    ip = lines["ip", "ip"]
    # per IP: 700 h × 1 = 700 > 500 cap → 500; 2 IPs → 1000 tokens → 1.00
    assert (ip.hours, ip.tokens, ip.price_mode, ip.amount) == (700, 1000, "monthly", D("1.00"))
    assert "2 additional IPs" in ip.description
    assert lines["ip", "server"].amount == D("4.90")
    assert inv.total == D("5.90")


def test_server_deleted_mid_month_still_appears(world):
    cid = world.client("gone@example.com")
    world.seed([user(1, cid)], [server(1, 1, "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", name="gone")])
    world.run()
    [inv] = world.invoices()
    [line] = inv.items
    # 24 h × 7 = 168 tokens → 0.168 → 0.17
    assert (line.server_name, line.hours, line.tokens, line.amount) == ("gone", 24, 168, D("0.17"))
    assert line.description.startswith("gone (deleted)")


def test_clients_without_usage_get_no_invoice_unless_configured(world):
    from bridge.models import Client, utcnow

    busy = world.client("busy@example.com")
    idle = world.client("idle@example.com")
    with world.factory() as s, s.begin():
        s.get(Client, idle).enrolled_at = utcnow().replace(year=2026, month=9, day=1)
    world.seed([user(1, busy)], [server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z")])
    world.run()
    assert [i.client_id for i in world.invoices()] == [busy]
    summary = world.run(INVOICE_EMPTY=True)
    assert summary.empty_invoices == 1 and summary.already_invoiced == 1
    invs = {i.client_id: i for i in world.invoices()}
    assert set(invs) == {busy, idle}
    assert invs[idle].total == D("0.00") and invs[idle].period == "2026-10"


def test_items_without_billing_id_or_client_are_reported_not_invoiced(world):
    cid = world.client("real@example.com")
    world.seed([user(1, cid), user(2, None), user(3, 999)], [
        server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z"),
        server(2, 2, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z"),
        server(3, 3, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z"),
    ])
    summary = world.run()
    assert [i.client_id for i in world.invoices()] == [cid]
    assert len(summary.unbilled) == 1 and "no billing_user_id" in summary.unbilled[0]
    assert summary.failure_count == 1 and "no client 999" in summary.failures[0]
    assert not summary.ok


def test_due_days_are_configurable(world):
    cid = world.client("due@example.com")
    world.seed([user(1, cid)], [server(1, 1, "2026-10-01T00:00:00Z")])
    world.run(INVOICE_DUE_DAYS=30)
    [inv] = world.invoices()
    assert inv.duedate == date(2026, 12, 1)


def test_a_closed_client_with_usage_is_reported_not_priced(world):
    from bridge.models import Client

    cid = world.client("closed@example.com")
    with world.factory() as s, s.begin():
        s.get(Client, cid).status = "Closed"
    world.seed([user(1, cid)], [server(1, 1, "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z")])
    summary = world.run()
    assert not summary.ok and world.invoices() == []
    assert f"client {cid} is Closed; its SolusVM usage in 2026-10 was not invoiced" in summary.failures[0]


def test_backup_charges_get_their_own_line(world):
    # The mock never reports backup tokens, so this page is served as-is by a mock fault rule.
    cid = world.client("backup@example.com")
    world.seed([user(1, cid)], [])
    item = {"user": {"id": 1, "email": "backup@example.com", "billing_user_id": cid},
            "server": {"id": 5, "uuid": "u", "name": "db-1", "is_deleted": False, "deleted_at": None},
            "plan": {"id": 1, "name": "1 Core, 1 GB RAM", "tokens_per_hour": 7, "tokens_per_month": 5000,
                     "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500},
            "period": {"from": "2026-10-01", "to": "2026-10-31"}, "hours": 744, "tokens": 5000,
            "monthly_cap_applied": True, "additional_ips": {"count": 0, "hours": 0, "tokens": 0},
            "backups": {"tokens": 345}, "total_tokens": 5345}
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=200,
                          body={"data": [item], "links": {}, "meta": {"current_page": 1, "last_page": 1}})
    summary = world.run()
    assert summary.ok, summary.render()
    [inv] = world.invoices()
    lines = lines_by_name(inv)
    backup = lines["db-1", "backup"]
    # 345 tokens × 0.001 = 0.345 → half-up 0.35; server 5000 tokens = 5.00; total 5.35
    assert (backup.tokens, backup.amount, backup.price_mode) == (345, D("0.35"), "")
    assert lines["db-1", "server"].amount == D("5.00") and inv.total == D("5.35")
