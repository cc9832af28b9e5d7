"""The money ceiling (bridge.billing.MONEY_CEILING): sums beyond it are refused, values up
to it come back exact to the cent on SQLite (floats) and PostgreSQL (DECIMAL(16,2))."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.billing import MONEY_CEILING, check_ceiling
from bridge.errors import ValidationFailed
from bridge.models import Client, CreditLog, Invoice, InvoiceItem, Transaction
from bridge.services import clients, invoices
from tests.bridge.conftest import err, ok, session_of

TOP = "999999999999.99"
MSG = f"the maximum of {TOP}"


def credit_of(api: Any, cid: int) -> str:
    return str(ok(api("GetClientsDetails", clientid=cid))["client"]["credit"])


def count(app: Any, model: Any) -> int:
    with session_of(app) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_ceiling_fits_a_double_to_the_cent() -> None:
    assert MONEY_CEILING == Decimal(TOP)
    assert len(MONEY_CEILING.as_tuple().digits) <= 15  # a double holds 15 significant digits
    assert float(MONEY_CEILING) == float(TOP) and Decimal(f"{float(MONEY_CEILING):.2f}") == MONEY_CEILING
    assert check_ceiling(-MONEY_CEILING, "x") == -MONEY_CEILING
    with pytest.raises(ValidationFailed, match="Thing exceeds the maximum of 999999999999.99"):
        check_ceiling(MONEY_CEILING + Decimal("0.01"), "Thing")


# --- credit balance ---------------------------------------------------------------------


def test_credit_up_to_the_ceiling_round_trips(api: Any, make_client: Any) -> None:
    cid = make_client()
    assert ok(api("AddCredit", clientid=cid, description="a", amount="999999999999"))["newbalance"] == "999999999999.00"
    assert ok(api("AddCredit", clientid=cid, description="b", amount="0.99"))["newbalance"] == TOP
    assert credit_of(api, cid) == TOP
    assert ok(api("AddCredit", clientid=cid, description="c", amount="0.01", type="remove"))["newbalance"] == \
        "999999999999.98"
    assert credit_of(api, cid) == "999999999999.98"


def test_credit_balance_crossing_the_ceiling_is_refused(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    ok(api("AddCredit", clientid=cid, description="a", amount=TOP))
    logs = count(app, CreditLog)
    assert MSG in err(api("AddCredit", clientid=cid, description="b", amount="0.01"))
    assert credit_of(api, cid) == TOP
    assert count(app, CreditLog) == logs  # nothing written


def test_reviewer_example_credit_is_refused_not_rounded(app: Any, api: Any, make_client: Any) -> None:
    """AddCredit 99999999999999 (within the field's limit) then 0.99 lost a cent on SQLite."""
    cid = make_client()
    assert MSG in err(api("AddCredit", clientid=cid, description="a", amount="99999999999999"))
    assert credit_of(api, cid) == "0.00"
    assert count(app, CreditLog) == 0


def test_add_credit_service_checks_the_new_balance(app: Any, make_client: Any) -> None:
    cid = make_client()
    with session_of(app) as s:
        client = s.get(Client, cid)
        clients.add_credit(s, client, Decimal("999999999999.00"), "a", remove=False, actor="t")
        with pytest.raises(ValidationFailed, match="Credit balance would exceed the maximum"):
            clients.add_credit(s, client, Decimal("1.00"), "b", remove=False, actor="t")
        assert client.credit == Decimal("999999999999.00")
        s.rollback()


# --- invoice totals ---------------------------------------------------------------------


def test_invoice_total_just_under_the_ceiling_round_trips(api: Any, make_client: Any) -> None:
    cid = make_client()
    inv = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="500000000000.00",
                 itemdescription2="b", itemamount2="499999999999.99"))["invoiceid"]
    got = ok(api("GetInvoice", invoiceid=inv))
    assert (got["subtotal"], got["total"], got["balance"]) == (TOP, TOP, TOP)
    assert [i["amount"] for i in got["items"]["item"]] == ["500000000000.00", "499999999999.99"]
    listed = ok(api("GetInvoices", userid=cid))["invoices"]["invoice"][0]
    assert listed["total"] == TOP


def test_invoice_total_crossing_the_ceiling_is_refused(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    assert MSG in err(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="500000000000.00",
                          itemdescription2="b", itemamount2="500000000000.00"))
    # the reviewer's example: each line within the field's limit, the total beyond DECIMAL(16,2)
    assert MSG in err(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="50000000000000.00",
                          itemdescription2="b", itemamount2="49999999999999.99"))
    assert ok(api("GetInvoices", userid=cid))["totalresults"] == 0
    assert count(app, InvoiceItem) == 0


def test_tax_pushing_the_total_over_is_refused(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    assert "Invoice total exceeds " + MSG in err(api("CreateInvoice", userid=cid, taxrate="10", itemdescription1="a",
                                             itemamount1="999999999999.00", itemtaxed1="1"))
    assert count(app, Invoice) == 0


def test_update_invoice_crossing_the_ceiling_changes_nothing(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    inv = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="999999999999.00"))["invoiceid"]
    before = ok(api("GetInvoice", invoiceid=inv))
    resp = api("UpdateInvoice", invoiceid=inv, notes="changed", **{"newitemdescription[]": "b",
                                                                     "newitemamount[]": "1.00"})
    assert MSG in err(resp)
    item_id = before["items"]["item"][0]["id"]
    resp = api("UpdateInvoice", invoiceid=inv, **{f"itemdescription[{item_id}]": "a",
                                                  f"itemamount[{item_id}]": "1000000000000.00",
                                                  f"itemtaxed[{item_id}]": "0"})
    assert MSG in err(resp)
    after = ok(api("GetInvoice", invoiceid=inv))
    assert after == before
    assert after["total"] == "999999999999.00" and after["notes"] == ""


def test_update_invoice_credit_beyond_the_ceiling_is_refused(api: Any, make_client: Any) -> None:
    cid = make_client()
    inv = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="5.00"))["invoiceid"]
    assert MSG in err(api("UpdateInvoice", invoiceid=inv, credit="99999999999999"))
    assert ok(api("GetInvoice", invoiceid=inv))["credit"] == "0.00"


# --- payments ---------------------------------------------------------------------------


def test_payments_up_to_the_ceiling_and_beyond(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    inv = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1=TOP))["invoiceid"]
    ok(api("AddInvoicePayment", invoiceid=inv, transid="t1", gateway="banktransfer", amount="500000000000.00"))
    ok(api("AddInvoicePayment", invoiceid=inv, transid="t2", gateway="banktransfer", amount="499999999999.99"))
    got = ok(api("GetInvoice", invoiceid=inv))
    assert (got["status"], got["balance"]) == ("Paid", "0.00")
    assert [t["amountin"] for t in got["transactions"]["transaction"]] == ["500000000000.00", "499999999999.99"]
    # the invoice is paid: one more cent is refused (it would also pass the ceiling)
    assert err(api("AddInvoicePayment", invoiceid=inv, transid="t3", gateway="banktransfer", amount="0.01")) == \
        "It is not possible to add a payment to an invoice that is Paid"
    assert count(app, Transaction) == 2


def test_oversized_payment_and_fees_are_refused(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    inv = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="5.00"))["invoiceid"]
    assert MSG in err(api("AddInvoicePayment", invoiceid=inv, transid="t", gateway="g", amount="99999999999999"))
    assert "Fees exceeds " + MSG in err(api("AddInvoicePayment", invoiceid=inv, transid="t", gateway="g", amount="5",
                                    fees="99999999999999"))
    assert count(app, Transaction) == 0
    assert ok(api("GetInvoice", invoiceid=inv))["status"] == "Unpaid"


def test_invoice_service_refuses_before_touching_the_lines(app: Any, make_client: Any) -> None:
    cid = make_client()
    with session_of(app) as s:
        inv = invoices.create_invoice(s, cid, [{"description": "a", "amount": Decimal("999999999999.00")}],
                                      date=date(2026, 1, 1),
                                      duedate=date(2026, 1, 15), actor="t")
        item = inv.items[0]
        item.amount = Decimal("1000000000000.00")
        with pytest.raises(ValidationFailed, match="Invoice line amount exceeds"):
            invoices.recompute_totals(s, inv)
        assert inv.total == Decimal("999999999999.00")
        s.rollback()
