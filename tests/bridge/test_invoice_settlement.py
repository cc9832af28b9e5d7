"""An open invoice that owes nothing is settled (Paid, datepaid) on create and update, as WHMCS
does when credit covers it; a negative invoice total is refused. Such invoices must never
look overdue."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.models import Client, Invoice
from bridge.services import hooks, overdue
from tests.bridge.conftest import err, ok, session_of

PAST = "2020-01-01"


@pytest.fixture
def paid_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(hooks, "on_invoice_paid", lambda session, invoice, actor: calls.append(invoice.id))
    return calls


def stage_of(app: Any, cid: int) -> tuple[str | None, str]:
    with session_of(app) as s:
        return overdue.stage(s, s.get(Client, cid), today=date(2026, 1, 1), lock_days=7, suspend_days=14)


def invoice_count(app: Any) -> int:
    with session_of(app) as s:
        return int(s.scalar(select(func.count()).select_from(Invoice)) or 0)


def test_negative_total_is_refused(app: Any, api: Any, make_client: Any) -> None:
    """The reviewer's case: itemamount1=-5 with a past due date was an Unpaid -5.00 invoice."""
    cid = make_client()
    assert err(api("CreateInvoice", userid=cid, date=PAST, duedate=PAST, itemdescription1="refund?",
                   itemamount1="-5")) == "Invoice total must not be negative"
    assert invoice_count(app) == 0
    assert stage_of(app, cid) == (None, "")


def test_negative_line_as_a_discount_is_fine(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00",
                 itemdescription2="discount", itemamount2="-3.00"))["invoiceid"]
    inv = ok(api("GetInvoice", invoiceid=iid))
    assert (inv["total"], inv["balance"], inv["status"]) == ("7.00", "7.00", "Unpaid")


def test_zero_total_invoice_is_paid_at_once(app: Any, api: Any, make_client: Any, paid_calls: list[int]) -> None:
    cid = make_client()
    body = ok(api("CreateInvoice", userid=cid, date=PAST, duedate=PAST, itemdescription1="a", itemamount1="5.00",
                  itemdescription2="discount", itemamount2="-5.00"))
    assert body["status"] == "Paid"
    inv = ok(api("GetInvoice", invoiceid=body["invoiceid"]))
    assert (inv["total"], inv["balance"], inv["status"]) == ("0.00", "0.00", "Paid")
    assert inv["datepaid"] != "0000-00-00 00:00:00"
    assert paid_calls == [int(body["invoiceid"])]
    assert stage_of(app, cid) == (None, "")


def test_zero_total_draft_stays_draft_until_published(api: Any, make_client: Any, paid_calls: list[int]) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, draft="1", itemdescription1="free", itemamount1="0"))["invoiceid"]
    assert ok(api("GetInvoice", invoiceid=iid))["status"] == "Draft"
    ok(api("UpdateInvoice", invoiceid=iid, publish="1"))
    inv = ok(api("GetInvoice", invoiceid=iid))
    assert (inv["status"], inv["balance"]) == ("Paid", "0.00")
    assert paid_calls == [int(iid)]


def test_update_credit_covering_the_invoice_settles_it(app: Any, api: Any, make_client: Any,
                                                        paid_calls: list[int]) -> None:
    """The reviewer's case: CreateInvoice 5.00 then UpdateInvoice credit=5 stayed Unpaid with balance 0."""
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, date=PAST, duedate=PAST, itemdescription1="a",
                 itemamount1="5.00"))["invoiceid"]
    assert stage_of(app, cid)[0] == "suspended"
    ok(api("AddCredit", clientid=cid, description="prepay", amount="5"))  # credit comes from the client
    ok(api("UpdateInvoice", invoiceid=iid, credit="5"))
    inv = ok(api("GetInvoice", invoiceid=iid))
    assert (inv["credit"], inv["balance"], inv["status"]) == ("5.00", "0.00", "Paid")
    assert inv["datepaid"] != "0000-00-00 00:00:00"
    assert paid_calls == [int(iid)]
    assert stage_of(app, cid) == (None, "")


def test_update_with_datepaid_keeps_it_when_settling(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="5.00"))["invoiceid"]
    ok(api("AddCredit", clientid=cid, description="prepay", amount="5"))  # credit comes from the client
    ok(api("UpdateInvoice", invoiceid=iid, credit="5", datepaid="2026-03-04 05:06:07"))
    inv = ok(api("GetInvoice", invoiceid=iid))
    assert (inv["status"], inv["datepaid"]) == ("Paid", "2026-03-04 05:06:07")


def test_update_removing_the_owed_lines_settles_a_partly_paid_invoice(api: Any, make_client: Any,
                                                                      paid_calls: list[int]) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="4.00",
                 itemdescription2="b", itemamount2="6.00"))["invoiceid"]
    ok(api("AddInvoicePayment", invoiceid=iid, transid="t1", gateway="banktransfer", amount="4.00"))
    lines = ok(api("GetInvoice", invoiceid=iid))["items"]["item"]
    ok(api("UpdateInvoice", invoiceid=iid, **{"deletelineids[]": lines[1]["id"]}))
    inv = ok(api("GetInvoice", invoiceid=iid))
    assert (inv["total"], inv["balance"], inv["status"]) == ("4.00", "0.00", "Paid")
    assert paid_calls == [int(iid)]


def test_update_to_a_negative_total_is_refused(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="5.00"))["invoiceid"]
    before = ok(api("GetInvoice", invoiceid=iid))
    assert err(api("UpdateInvoice", invoiceid=iid, **{"newitemdescription[]": "refund",
                                                      "newitemamount[]": "-6.00"})) == \
        "Invoice total must not be negative"
    assert ok(api("GetInvoice", invoiceid=iid)) == before


def test_explicit_paid_status_calls_the_hook_once(api: Any, make_client: Any, paid_calls: list[int]) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="5.00"))["invoiceid"]
    ok(api("AddCredit", clientid=cid, description="prepay", amount="5"))  # credit comes from the client
    ok(api("UpdateInvoice", invoiceid=iid, status="Paid", credit="5"))
    assert ok(api("GetInvoice", invoiceid=iid))["status"] == "Paid"
    assert paid_calls == [int(iid)]


def test_autoapplycredit_covering_the_invoice_calls_the_hook_once(api: Any, make_client: Any,
                                                                  paid_calls: list[int]) -> None:
    cid = make_client()
    ok(api("AddCredit", clientid=cid, description="prepay", amount="20"))
    iid = ok(api("CreateInvoice", userid=cid, autoapplycredit="1", itemdescription1="a",
                 itemamount1="7.5"))["invoiceid"]
    assert ok(api("GetInvoice", invoiceid=iid))["status"] == "Paid"
    assert paid_calls == [int(iid)]


def test_cancelled_zero_invoice_is_left_alone(api: Any, make_client: Any, paid_calls: list[int]) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="5.00"))["invoiceid"]
    ok(api("AddCredit", clientid=cid, description="prepay", amount="5"))  # credit comes from the client
    ok(api("UpdateInvoice", invoiceid=iid, status="Cancelled", credit="5"))
    assert ok(api("GetInvoice", invoiceid=iid))["status"] == "Cancelled"
    assert paid_calls == []
