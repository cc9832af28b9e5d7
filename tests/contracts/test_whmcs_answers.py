"""The WHMCS answer schemas write the wire's spellings; money comes from the serving side."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from contracts import whmcs


def plain(amount: Any, currency: Any) -> str:
    """A stand-in formatter: the schemas have no money rules of their own."""
    return f"{amount:.2f}" if currency is None else f"{currency.prefix}{amount:.2f}{currency.suffix}"


def test_every_answer_schema_can_be_made() -> None:
    for schema in whmcs.ACTION_RESPONSES.values():
        written = schema(money=plain).dump(SimpleNamespace())  # a row without the fields: the fixed values
        assert all(isinstance(schema._declared_fields[name], whmcs.Fixed) for name in written)


def test_ids_dates_rates_and_flags_take_the_wire_spelling() -> None:
    txn = SimpleNamespace(id=3, client_id=1, gateway="bank", date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                          description="d", amount_in=Decimal("10"), fees=Decimal("0.25"),
                          amount_out=Decimal(0), rate=Decimal("1.5"), transid="T", invoice_id=None)
    row = whmcs.TransactionRowSchema(money=plain).dump(txn)
    assert row == {"id": "3", "userid": "1", "currency": "0", "gateway": "bank", "date": "2026-01-02 03:04:05",
                   "description": "d", "amountin": "10.00", "fees": "0.25", "amountout": "0.00",
                   "rate": "1.50000", "transid": "T", "invoiceid": "0", "refundid": "0"}
    group = SimpleNamespace(id=2, name="VIP", colour="#fff", discount_percent=Decimal("12.5"),
                            susp_term_exempt=True, separate_invoices=False)
    assert whmcs.GroupRowSchema(money=plain).dump(group) == {
        "id": 2, "groupname": "VIP", "groupcolour": "#fff", "discountpercent": "12.50", "susptermexempt": "on",
        "separateinvoices": ""}
    client = SimpleNamespace(id=1, firstname="A", lastname="B", companyname="", email="e",
                             datecreated=date(2026, 1, 2), group_id=None, status="Active")
    assert whmcs.ClientRowSchema().dump(client)["groupid"] == 0
    assert whmcs.ClientRowSchema().dump(client)["datecreated"] == "2026-01-02"


def test_lists_are_double_wrapped_and_may_be_empty_strings() -> None:
    inv = SimpleNamespace(items=[], transactions=[])
    body = whmcs.GetInvoiceResponseSchema(money=plain).dump(inv)
    assert body["items"] == {"item": []}
    assert body["transactions"] == ""
    whmcs.GetInvoiceResponseSchema().load({
        "result": "success", "invoiceid": 1, "userid": 1, "date": "2026-01-01", "duedate": "2026-01-01",
        "datepaid": "0000-00-00 00:00:00", "subtotal": "1.00", "credit": "0.00", "tax": "0.00", "tax2": "0.00",
        "total": "1.00", "balance": "1.00", "taxrate": "0.000", "taxrate2": "0.000", "status": "Unpaid",
        "items": {"item": []}, "transactions": ""})


def test_money_is_written_by_the_formatter_given_to_the_schema() -> None:
    # Nested and listed rows get the formatter of the schema being dumped.
    rows = [SimpleNamespace(id=1, date=date(2026, 1, 1), description="x", amount=Decimal("-1.5"), invoice_id=7)]
    body = whmcs.GetCreditsResponseSchema(money=plain).dump({"totalresults": 1, "clientid": 5, "credits": rows})
    assert body == {"totalresults": "1", "clientid": "5", "credits": {"credit": [
        {"id": "1", "date": "2026-01-01", "description": "x", "amount": "-1.50", "relid": "7"}]}}
    with pytest.raises(TypeError, match="money="):
        whmcs.AddCreditResponseSchema().dump({"newbalance": Decimal(1)})


def test_stats_amounts_are_in_the_rows_currency() -> None:
    zero = SimpleNamespace(count=0, total=Decimal(0), due=Decimal(0))
    stats = SimpleNamespace(
        currency=SimpleNamespace(prefix="$", suffix=" USD"),
        by_status={"Unpaid": SimpleNamespace(count=2, total=Decimal(9), due=Decimal(7)), "Draft": zero, "Paid": zero,
                   "Cancelled": zero, "Refunded": zero, "Collections": zero, "Payment Pending": zero},
        in_credit=False, credit=Decimal(0), gross=Decimal(3), expenses=Decimal(1), income=Decimal(2),
        overdue_count=1, overdue_balance=Decimal(7), products=1, active_products=0)
    body = whmcs.ClientStatsSchema(money=plain).dump(stats)
    assert (body["numunpaidinvoices"], body["unpaidinvoicesamount"], body["dueinvoicesbalance"]) == \
        (2, "$7.00 USD", "$7.00 USD")
    assert (body["productsnumtotal"], body["productsnumactive"], body["numtickets"]) == (1, 0, 0)
    assert body["isAffiliate"] is False and body["incredit"] is False
    assert list(body)[:3] == ["numdueinvoices", "dueinvoicesbalance", "incredit"]  # WHMCS's order
