"""Runs: idempotency, faults, e-mail, the cap-rule check, visibility through the WHMCS API."""

from __future__ import annotations

import socket
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from bridge.billing import format_money
from bridge.flask_glue import settings_of
from bridge.models import Invoice, InvoiceRun
from bridge.services import credentials, invoice_document
from bridge.services.mailer import Mailer
from bridge.settings import MailSettings
from tests.invoicing.conftest import server, user
from tests.smtp_fixture import SMTPServer

OCT = "2026-10-01T00:00:00Z"
DEL_700 = "2026-10-30T04:00:00Z"  # 700 h after OCT


def three_clients(world):
    ids = [world.client(f"c{i}@example.com") for i in range(3)]
    world.seed([user(i + 1, cid) for i, cid in enumerate(ids)],
               [server(i + 1, i + 1, OCT, DEL_700) for i in range(3)])
    return ids


def count_invoices(world) -> int:
    with world.factory() as s:
        return s.scalar(select(func.count(Invoice.id)))


def test_running_a_period_twice_keeps_one_invoice_per_client(any_world):
    ids = three_clients(any_world)
    first = any_world.run()
    second = any_world.run()
    assert (first.invoices, first.already_invoiced) == (3, 0)
    assert (second.invoices, second.already_invoiced) == (0, 3) and second.ok
    invs = any_world.invoices()
    assert [i.client_id for i in invs] == ids
    assert all(i.total == D("4.90") for i in invs)
    with any_world.factory() as s:
        runs = list(s.scalars(select(InvoiceRun).order_by(InvoiceRun.id)))
    assert [(r.period, r.status) for r in runs] == [("2026-10", "done"), ("2026-10", "done")]
    assert runs[0].summary["invoices"] == 3 and runs[0].summary["totals"] == {"USD": "14.70"}


def test_transient_faults_are_retried(world):
    ids = three_clients(world)
    # a fixed-seed share of usage requests fail in each way; the client's retries absorb them
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=503, probability=0.3, seed=1)
    world.mock.faults.add(method="GET", path="/api/v1/usage", drop=True, probability=0.3, seed=2)
    world.mock.faults.add(method="GET", path="/api/v1/usage", delay=0.01, probability=0.5, seed=3)
    summary = world.run()
    assert summary.ok, summary.render()
    assert [i.client_id for i in world.invoices()] == ids
    assert world.mock.journal.count(method="GET", path="/api/v1/usage") >= 1


def test_a_failing_user_is_reported_and_the_next_run_completes(world):
    ids = three_clients(world)
    # 4 attempts (1 + 3 retries) kill the bulk listing, the next 4 the first user's own request
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=502, times=8)
    first = world.run()
    assert not first.ok and first.fetch_mode == "per-user"
    assert [i.client_id for i in world.invoices()] == ids[1:]
    assert any(f"client {ids[0]}:" in f and "next run will retry" in f for f in first.failures)
    second = world.run()
    assert second.ok, second.render()
    assert (second.invoices, second.already_invoiced) == (1, 2)
    invs = world.invoices()
    assert [i.client_id for i in invs] == ids and count_invoices(world) == 3
    assert all(i.total == D("4.90") for i in invs)


def test_solusvm_down_invoices_nothing_and_says_so(world):
    three_clients(world)
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=503)
    world.mock.faults.add(method="GET", path="/api/v1/users", status=503)
    summary = world.run()
    assert not summary.ok and count_invoices(world) == 0
    assert "could not read usage nor the SolusVM user list" in summary.render()
    with world.factory() as s:
        assert s.scalar(select(InvoiceRun.status)) == "failed"
    world.mock.faults.clear()
    assert world.run().invoices == 3


def test_usage_disagreeing_with_the_cap_rule_is_reported_not_fixed(world):
    cid = world.client("odd@example.com")
    world.seed([user(1, cid)], [server(1, 1, OCT, DEL_700)])
    item = {"user": {"id": 1, "email": "odd@example.com", "billing_user_id": cid},
            "server": {"id": 1, "uuid": "x", "name": "vm-1", "is_deleted": True, "deleted_at": DEL_700},
            "plan": {"id": 1, "name": "p", "tokens_per_hour": 7, "tokens_per_month": 5000,
                     "ip_tokens_per_hour": 1, "ip_tokens_per_month": 500},
            "period": {"from": "2026-10-01", "to": "2026-10-31"},
            "hours": 700, "tokens": 5000, "monthly_cap_applied": True,  # the rule says 4900, hourly
            "additional_ips": {"count": 0, "hours": 0, "tokens": 0}, "backups": {"tokens": 0},
            "total_tokens": 5000}
    body = {"data": [item], "links": {}, "meta": {"current_page": 1, "last_page": 1, "total": 1}}
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=200, body=body)
    held = world.run()
    assert not held.ok and count_invoices(world) == 0
    assert any("SolusVM says 5000 tokens, the cap rule gives 4900" in p for p in held.problems)
    billed = world.run(INVOICE_ON_MISMATCH="solusvm")
    assert held.problems == billed.problems and not billed.ok  # still reported
    [inv] = world.invoices()
    assert inv.items[0].tokens == 5000 and inv.total == D("5.00")


def test_each_client_gets_the_invoice_summary_by_mail(world, smtp_server):
    ids = three_clients(world)
    summary = world.run(mailer=Mailer(MailSettings(server=smtp_server.host, port=smtp_server.port)))
    assert summary.mails_sent == 3
    msgs = smtp_server.wait_for(3)
    by_to = {m["To"]: m for m in msgs}
    assert set(by_to) == {f"c{i}@example.com" for i in range(3)}
    text = SMTPServer.body(by_to["c0@example.com"])
    inv = next(i for i in world.invoices() if i.client_id == ids[0])
    assert f"Invoice #{inv.id}" in by_to["c0@example.com"]["Subject"]
    # Money as on the invoice page: the currency once (the code, when a currency has both).
    assert "vm-1 (deleted), 1 Core, 1 GB RAM, 2026-10: 700 h × 7 tokens/h = 4900 tokens: 4.90 USD" in text
    assert "Total: 4.90 USD" in text and "Due date: 2026-11-15" in text
    assert world.run(mailer=Mailer(MailSettings(server=smtp_server.host, port=smtp_server.port))).mails_sent == 0  # no second mail


def test_the_invoice_mail_names_the_taxes_and_formats_money_like_the_invoice_page(world, smtp_server):
    # A format-3 EUR client (1.234,56) with two named, compound taxes: the mail must read
    # like the page and the PDF ("City Tax 6%", "4,90 EUR"), not "Tax (6%)" or "€4.90".
    world.catalogue({
        "currencies": [{"code": "USD", "prefix": "$", "suffix": " USD", "format": 2, "rate": "1",
                        "token_price": "0.001", "default": True},
                       {"code": "EUR", "prefix": "€", "suffix": " EUR", "format": 3, "rate": "1",
                        "token_price": "0.001"}],
        "tax_rules": [{"level": 1, "name": "City Tax", "rate": "6.000"},
                      {"level": 2, "name": "State Tax", "rate": "2.000"}],
        "settings": {"TaxEnabled": True, "TaxL2Compound": True}})
    cid = world.client("eur@example.com", currency="EUR")
    world.seed([user(1, cid)], [server(1, 1, OCT, DEL_700)])
    assert world.run(mailer=Mailer(MailSettings(server=smtp_server.host, port=smtp_server.port))).mails_sent == 1
    text = SMTPServer.body(smtp_server.wait_for(1)[0])
    with world.factory() as s:
        inv = s.scalar(select(Invoice).where(Invoice.client_id == cid))
        page = invoice_document.document(s, inv)
        expected = {tax.label: format_money(tax.amount, page.currency) for tax in page.taxes}
        total = format_money(page.total, page.currency)
    assert expected == {"City Tax 6%": "0,29 EUR", "State Tax 2%": "0,10 EUR"}
    assert "Subtotal before tax: 4,90 EUR" in text and "Tax (" not in text and "€" not in text
    for label, amount in expected.items():
        assert f"{label}: {amount}" in text
    assert f"Total: {total}" in text and total == "5,29 EUR"


def test_a_mail_failure_keeps_the_invoice_and_the_next_run_resends(world, smtp_server):
    three_clients(world)
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    broken = Mailer(MailSettings(server="127.0.0.1", port=dead_port, timeout=2))
    first = world.run(mailer=broken)
    assert first.invoices == 3 and len(first.mail_failures) == 3 and not first.ok
    assert count_invoices(world) == 3
    second = world.run(mailer=Mailer(MailSettings(server=smtp_server.host, port=smtp_server.port)))
    assert second.mails_sent == 3 and second.already_invoiced == 3 and second.ok
    assert len(smtp_server.wait_for(3)) == 3


def test_invoices_are_visible_through_get_invoices_and_get_invoice(world):
    ids = three_clients(world)
    world.run()
    with world.factory() as s, s.begin():
        cred = credentials.create(s, "tests", actor="test")
    http = world.app.test_client()
    auth = {"identifier": cred.identifier, "secret": cred.secret, "responsetype": "json"}
    listing = http.post("/includes/api.php", data={**auth, "action": "GetInvoices", "userid": ids[0]}).get_json()
    assert listing["result"] == "success" and int(listing["totalresults"]) == 1
    inv_id = listing["invoices"]["invoice"][0]["id"]
    one = http.post("/includes/api.php", data={**auth, "action": "GetInvoice", "invoiceid": inv_id}).get_json()
    assert one["result"] == "success" and one["total"] == "4.90" and one["status"] == "Unpaid"
    [item] = one["items"]["item"]
    assert item["description"].startswith("vm-1 (deleted)") and item["amount"] == "4.90"


@pytest.mark.parametrize("bad", [{"hours": -1}, {"tokens": "many"}, {"user": None}])
def test_a_malformed_usage_listing_is_a_reported_failure(world, bad):
    cid = world.client("m@example.com")
    world.seed([user(1, cid)], [server(1, 1, OCT, DEL_700)])
    item = {"user": {"id": 1, "billing_user_id": cid}, "server": {"id": 1, "name": "vm"},
            "plan": {"id": 1, "name": "p", "tokens_per_hour": 7, "tokens_per_month": 5000},
            "hours": 700, "tokens": 4900, **bad}
    body = {"data": [item], "meta": {"current_page": 1, "last_page": 1}}
    world.mock.faults.add(method="GET", path="/api/v1/usage", status=200, body=body)
    summary = world.run()
    assert not summary.ok and count_invoices(world) == 0
    assert "usage listing unusable" in summary.notes[0]
    assert "not invoiced, the next run will retry" in summary.failures[0]


def test_the_usage_spool_leaves_no_file_behind(world, tmp_path, monkeypatch):
    import tempfile

    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    three_clients(world)
    assert world.run().invoices == 3
    assert list(spool_dir.iterdir()) == []


def test_a_month_that_has_not_ended_is_refused_before_anything_is_written(world):
    from datetime import UTC, datetime

    from bridge.services import invoicing

    three_clients(world)
    with pytest.raises(invoicing.PeriodNotOver, match="2026-10 has not ended yet"):
        invoicing.generate_period(world.factory, world.solus, 2026, 10, settings=settings_of(world.app),
                                  now=datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    assert count_invoices(world) == 0
    with world.factory() as s:
        assert s.scalar(select(func.count(InvoiceRun.id))) == 0
