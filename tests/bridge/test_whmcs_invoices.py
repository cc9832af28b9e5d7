"""Invoice actions through /includes/api.php, with design §3 totals."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bridge.flask_glue import settings_of
from bridge.models import Invoice, InvoiceItem
from bridge.services import catalogue
from contracts.whmcs import GetInvoiceResponseSchema, GetInvoicesResponseSchema
from tests.bridge.conftest import err, session_of


def taxes(app: Any, compound: bool, inclusive: bool = False) -> None:
    with session_of(app) as s, s.begin():
        catalogue.load_catalogue(s, {
            "tax_rules": [{"level": 1, "name": "L1", "rate": "10"}, {"level": 2, "name": "L2", "rate": "20"}],
            "settings": {"TaxEnabled": True, "TaxL2Compound": compound,
                         "TaxType": "Inclusive" if inclusive else "Exclusive"}}, actor="test")


def test_create_and_get_invoice_untaxed(api: Any, make_client: Any) -> None:
    cid = make_client()
    resp = api("CreateInvoice", userid=cid, date="2026-10-01", duedate="2026-10-15",
               itemdescription1="Server web-1", itemamount1="4.90", itemtaxed1="0",
               itemdescription2="Extra IP", itemamount2="0.50")
    body = resp.get_json()
    assert body["result"] == "success" and body["status"] == "Unpaid"
    inv = api("GetInvoice", invoiceid=body["invoiceid"]).get_json()
    GetInvoiceResponseSchema().load(inv)
    assert (inv["userid"], inv["date"], inv["duedate"]) == (cid, "2026-10-01", "2026-10-15")
    assert (inv["subtotal"], inv["tax"], inv["tax2"], inv["total"], inv["balance"]) == \
        ("5.40", "0.00", "0.00", "5.40", "5.40")
    assert [i["description"] for i in inv["items"]["item"]] == ["Server web-1", "Extra IP"]
    assert inv["items"]["item"][0]["amount"] == "4.90"
    assert inv["transactions"] == ""
    assert inv["datepaid"] == "0000-00-00 00:00:00"


def test_compound_tax_example_from_reference(app: Any, api: Any, make_client: Any) -> None:
    taxes(app, compound=True)
    cid = make_client()
    iid = api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="100.00", itemtaxed1="1").get_json()["invoiceid"]
    inv = api("GetInvoice", invoiceid=iid).get_json()
    assert (inv["subtotal"], inv["tax"], inv["tax2"], inv["total"]) == ("100.00", "10.00", "22.00", "132.00")
    assert (inv["taxrate"], inv["taxrate2"]) == ("10.000", "20.000")


def test_non_compound_tax_and_per_line_rounding(app: Any, api: Any, make_client: Any) -> None:
    taxes(app, compound=False)
    cid = make_client()
    # 0.05 × 10 % = 0.005 → 0.01 per line (half-up), twice; on the total it would be 0.01 once.
    iid = api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="0.05", itemtaxed1="1",
              itemdescription2="b", itemamount2="0.05", itemtaxed2="1",
              itemdescription3="c", itemamount3="1.00", itemtaxed3="0").get_json()["invoiceid"]
    inv = api("GetInvoice", invoiceid=iid).get_json()
    assert (inv["subtotal"], inv["tax"], inv["tax2"], inv["total"]) == ("1.10", "0.02", "0.02", "1.14")


def test_inclusive_invoice_adds_up(app: Any, api: Any, make_client: Any) -> None:
    taxes(app, compound=False, inclusive=True)
    cid = make_client()
    iid = api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="13.00", itemtaxed1="1").get_json()["invoiceid"]
    inv = api("GetInvoice", invoiceid=iid).get_json()
    # gross 13.00 = net 10.00 + 1.00 + 2.00
    assert (inv["subtotal"], inv["tax"], inv["tax2"], inv["total"]) == ("10.00", "1.00", "2.00", "13.00")


def test_tax_exempt_client_pays_no_tax(app: Any, api: Any, make_client: Any) -> None:
    taxes(app, compound=True)
    cid = make_client(taxexempt="1")
    iid = api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="100", itemtaxed1="1").get_json()["invoiceid"]
    assert api("GetInvoice", invoiceid=iid).get_json()["total"] == "100.00"


def test_taxrate_override(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = api("CreateInvoice", userid=cid, taxrate="5", itemdescription1="x", itemamount1="10",
              itemtaxed1="1").get_json()["invoiceid"]
    inv = api("GetInvoice", invoiceid=iid).get_json()
    assert (inv["taxrate"], inv["tax"], inv["total"]) == ("5.000", "0.50", "10.50")


def test_create_invoice_errors(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    assert err(api("CreateInvoice", userid="999", itemdescription1="x", itemamount1="1")) == "Client ID Not Found"
    assert err(api("CreateInvoice", itemdescription1="x", itemamount1="1")) == "Client ID Not Found"
    assert err(api("CreateInvoice", userid="abc")) == "Client ID Not Found"
    assert err(api("CreateInvoice", userid=cid, draft="1", sendinvoice="1")) == (
        "Cannot create and send a draft invoice in a single API request. Please create and send separately.")
    assert err(api("CreateInvoice", userid=cid, date="2026-13-01")) == "Invalid date format (YYYY-MM-DD required)"
    assert err(api("CreateInvoice", userid=cid, duedate="01/02/2026")) == "Invalid duedate format (YYYY-MM-DD required)"
    assert err(api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="abc")) == "Invalid amount for item 1"
    assert err(api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="NaN")) == "Invalid amount for item 1"
    assert err(api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="1e20")) == "Invalid amount for item 1"
    assert err(api("CreateInvoice", userid=cid, itemamount1="3")) == "Missing Variables: itemdescription1 is required"
    assert err(api("CreateInvoice", userid=cid, status="Bogus")) == "Invalid status"
    assert err(api("CreateInvoice", userid=cid, taxrate="-1")) == "Invalid taxrate"
    with session_of(app) as s:
        assert s.query(Invoice).count() == 0 and s.query(InvoiceItem).count() == 0


def test_draft_publish(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = api("CreateInvoice", userid=cid, draft="1", itemdescription1="x", itemamount1="1").get_json()["invoiceid"]
    assert api("GetInvoice", invoiceid=iid).get_json()["status"] == "Draft"
    assert api("UpdateInvoice", invoiceid=iid, publish="1").get_json() == {"result": "success", "invoiceid": iid}
    assert api("GetInvoice", invoiceid=iid).get_json()["status"] == "Unpaid"
    assert err(api("UpdateInvoice", invoiceid=iid, publish="1")) == "Invoice must be in Draft status to be published"


def test_update_invoice_lines_and_totals(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="1",
              itemdescription2="b", itemamount2="2").get_json()["invoiceid"]
    items = api("GetInvoice", invoiceid=iid).get_json()["items"]["item"]
    first, second = items[0]["id"], items[1]["id"]
    resp = api("UpdateInvoice", invoiceid=iid, notes="hello", duedate="2027-01-31",
               **{f"itemdescription[{first}]": "a2", f"itemamount[{first}]": "3.00", f"itemtaxed[{first}]": "0",
                  "newitemdescription[0]": "c", "newitemamount[0]": "4.25", "newitemtaxed[0]": "0",
                  "deletelineids[]": second})
    assert resp.get_json()["result"] == "success"
    inv = api("GetInvoice", invoiceid=iid).get_json()
    assert [(i["description"], i["amount"]) for i in inv["items"]["item"]] == [("a2", "3.00"), ("c", "4.25")]
    assert inv["total"] == "7.25" and inv["notes"] == "hello" and inv["duedate"] == "2027-01-31"


def test_update_invoice_errors(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="1").get_json()["invoiceid"]
    item = api("GetInvoice", invoiceid=iid).get_json()["items"]["item"][0]["id"]
    assert err(api("UpdateInvoice", invoiceid="999")) == "Invoice ID Not Found"
    assert err(api("UpdateInvoice")) == "Invoice ID Not Found"
    assert err(api("UpdateInvoice", invoiceid=iid, status="Whatever")) == "Invalid status Whatever"
    assert err(api("UpdateInvoice", invoiceid=iid, **{f"itemdescription[{item}]": "x"})) == (
        "Missing Variables: itemdescription, itemamount and itemtaxed are required for each item being changed")
    assert err(api("UpdateInvoice", invoiceid=iid, **{"itemdescription[9999]": "x", "itemamount[9999]": "1",
                                                     "itemtaxed[9999]": "0"})) == "Invalid line item id 9999"
    assert err(api("UpdateInvoice", invoiceid=iid, **{"deletelineids[]": "abc"})) == \
        "Malformed array parameter deletelineids"
    assert err(api("UpdateInvoice", invoiceid=iid, itemamount="5")) == (
        "Malformed array parameter itemamount")
    # nothing half-written by the failed attempts
    assert api("GetInvoice", invoiceid=iid).get_json()["total"] == "1.00"


def test_payment_marks_paid(app: Any, api: Any, make_client: Any, monkeypatch: Any) -> None:
    calls: list[int] = []
    from bridge.services import hooks

    monkeypatch.setattr(hooks, "on_invoice_paid", lambda session, invoice, actor: calls.append(invoice.id))
    cid = make_client()
    iid = api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10").get_json()["invoiceid"]
    assert api("AddInvoicePayment", invoiceid=iid, transid="T1", gateway="banktransfer", amount="4",
               date="2026-10-02 10:00:00").get_json() == {"result": "success"}
    inv = api("GetInvoice", invoiceid=iid).get_json()
    assert (inv["status"], inv["balance"]) == ("Unpaid", "6.00")
    assert calls == []
    api("AddInvoicePayment", invoiceid=iid, transid="T2", gateway="banktransfer", date="2026-10-03 11:00:00")
    inv = api("GetInvoice", invoiceid=iid).get_json()
    assert (inv["status"], inv["balance"], inv["datepaid"]) == ("Paid", "0.00", "2026-10-03 11:00:00")
    assert [t["transid"] for t in inv["transactions"]["transaction"]] == ["T1", "T2"]
    assert calls == [int(iid)]


def test_payment_errors(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10").get_json()["invoiceid"]
    assert err(api("AddInvoicePayment", invoiceid="999", transid="t", gateway="g")) == "Invoice ID Not Found"
    assert err(api("AddInvoicePayment", invoiceid=iid, gateway="g")) == "Missing Variables: transid is required"
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="t")) == "Missing Variables: gateway is required"
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="t", gateway="g", amount="-1")) == \
        "Amount must be in decimal format: ### or ###.##"
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="t", gateway="g", amount="0")) == \
        "Amount must be greater than zero"
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="t", gateway="g", date="yesterday")) == \
        "Invalid date format"
    api("UpdateInvoice", invoiceid=iid, status="Cancelled")
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="t", gateway="g")) == \
        "It is not possible to add a payment to an invoice that is Cancelled"
    assert api("GetInvoice", invoiceid=iid).get_json()["transactions"] == ""


def test_autoapplycredit(api: Any, make_client: Any) -> None:
    cid = make_client()
    api("AddCredit", clientid=cid, description="prepay", amount="20")
    iid = api("CreateInvoice", userid=cid, autoapplycredit="1", itemdescription1="a", itemamount1="7.5").get_json()["invoiceid"]
    inv = api("GetInvoice", invoiceid=iid).get_json()
    assert (inv["credit"], inv["balance"], inv["status"]) == ("7.50", "0.00", "Paid")
    assert api("GetClientsDetails", clientid=cid).get_json()["client"]["credit"] == "12.50"


def test_get_invoices_filters(api: Any, make_client: Any) -> None:
    a, b = make_client(), make_client()
    past = api("CreateInvoice", userid=a, date="2020-01-01", duedate="2020-01-15", itemdescription1="x",
               itemamount1="1").get_json()["invoiceid"]
    future = api("CreateInvoice", userid=a, date="2099-01-01", duedate="2099-01-15", itemdescription1="x",
                 itemamount1="2").get_json()["invoiceid"]
    other = api("CreateInvoice", userid=b, date="2020-01-01", duedate="2020-01-02", itemdescription1="x",
                itemamount1="3").get_json()["invoiceid"]
    api("AddInvoicePayment", invoiceid=other, transid="t", gateway="g")
    body = api("GetInvoices", userid=a).get_json()
    GetInvoicesResponseSchema().load(body)
    assert [i["id"] for i in body["invoices"]["invoice"]] == [int(past), int(future)]
    assert body["invoices"]["invoice"][0]["currencycode"] == "USD"
    overdue = api("GetInvoices", status="Overdue").get_json()
    assert [i["id"] for i in overdue["invoices"]["invoice"]] == [int(past)]
    paid = api("GetInvoices", status="Paid").get_json()
    assert [i["id"] for i in paid["invoices"]["invoice"]] == [int(other)]
    page = api("GetInvoices", limitstart="1", limitnum="1", orderby="total", order="desc").get_json()
    assert (page["totalresults"], page["numreturned"]) == (3, 1)
    assert page["invoices"]["invoice"][0]["id"] == int(future)
    assert err(api("GetInvoices", status="Nope")) == "Invalid status"
    assert err(api("GetInvoices", orderby="drop table")) == "Invalid orderby"


def test_client_stats(api: Any, make_client: Any) -> None:
    cid = make_client()
    api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="2.5")
    stats = api("GetClientsDetails", clientid=cid, stats="true").get_json()["stats"]
    assert stats["numunpaidinvoices"] == 1 and stats["unpaidinvoicesamount"] == "$2.50 USD"


def test_client_stats_sum_exactly(api: Any, make_client: Any) -> None:
    # 21 invoices at the money ceiling: SQL SUM on SQLite (floats) says ...99.785, a cent off.
    cid = make_client()
    for _ in range(21):
        assert api("CreateInvoice", userid=cid, itemdescription1="x",
                   itemamount1="999999999999.99").get_json()["result"] == "success"
    stats = api("GetClientsDetails", clientid=cid, stats="true").get_json()["stats"]
    assert stats["numunpaidinvoices"] == 21 and stats["unpaidinvoicesamount"] == "$20,999,999,999,999.79 USD"


# --- the service, as the invoicing engineer will call it ---------------------------------


def test_create_invoice_service_duplicate_period(app: Any, make_client: Any) -> None:
    from bridge.errors import DuplicateInvoice
    from bridge.services import invoices

    cid = make_client()
    lines = [{"description": "Server web-1 (700 h)", "amount": "4.90", "taxed": True, "server_id": 1,
              "server_name": "web-1", "plan_name": "1 Core", "hours": 700, "tokens": 4900,
              "price_mode": "hourly", "kind": "server"}]
    with session_of(app) as s, s.begin():
        inv = invoices.create_invoice(s, cid, lines, date=date(2026, 11, 1), duedate=date(2026, 11, 15),
                                      period="2026-10", actor="system")
        assert inv.items[0].tokens == 4900
    with session_of(app) as s, s.begin():
        with pytest.raises(DuplicateInvoice):
            invoices.create_invoice(s, cid, lines, date=date(2026, 11, 1), duedate=date(2026, 11, 15),
                                    period="2026-10", actor="system")
        # the session is still usable: a different period works in the same transaction
        invoices.create_invoice(s, cid, lines, date=date(2026, 12, 1), duedate=date(2026, 12, 15),
                                period="2026-11", actor="system")
    with session_of(app) as s:
        assert s.query(Invoice).filter_by(client_id=cid).count() == 2


def test_unique_constraint_backs_up_the_check(app: Any, make_client: Any, monkeypatch: Any) -> None:
    """Even when the pre-check misses (a concurrent run), the database refuses the duplicate."""
    from bridge.errors import DuplicateInvoice
    from bridge.services import invoices

    cid = make_client()
    with session_of(app) as s, s.begin():
        invoices.create_invoice(s, cid, [], date=date(2026, 11, 1), duedate=date(2026, 11, 1), period="2026-10",
                                actor="system")
    real_scalar = None

    with session_of(app) as s, s.begin():
        real_scalar = s.scalar
        monkeypatch.setattr(s, "scalar", lambda stmt, *a, **k: None if "invoices.period" in str(stmt) else
                            real_scalar(stmt, *a, **k))
        with pytest.raises(DuplicateInvoice):
            invoices.create_invoice(s, cid, [{"description": "x", "amount": "1"}], date=date(2026, 11, 1),
                                    duedate=date(2026, 11, 1), period="2026-10", actor="system")
        # only the savepoint was rolled back: the transaction goes on and commits
        invoices.create_invoice(s, cid, [{"description": "y", "amount": "2"}], date=date(2026, 12, 1),
                                duedate=date(2026, 12, 1), period="2026-11", actor="system")
    with session_of(app) as s:
        assert sorted(i.period for i in s.query(Invoice)) == ["2026-10", "2026-11"]
        assert [i.description for i in s.query(InvoiceItem)] == ["y"]


def test_hook_failure_rolls_back_the_whole_write(app: Any, api: Any, monkeypatch: Any) -> None:
    from bridge.errors import Conflict
    from bridge.models import AuditLog, Client
    from bridge.services import hooks
    from tests.bridge.conftest import CLIENT

    def refuse(session: Any, client: Any, actor: str) -> None:
        raise Conflict("The email address entered is not available for use.")

    monkeypatch.setattr(hooks, "on_client_created", refuse)
    assert err(api("AddClient", **CLIENT)) == "The email address entered is not available for use."
    with session_of(app) as s:
        assert s.query(Client).count() == 0
        assert s.query(AuditLog).filter_by(entity="client").count() == 0


def test_overlapping_runs_never_create_two_invoices(app: Any, make_client: Any) -> None:
    """Two transactions race for the same (client, period): one invoice, the other gets DuplicateInvoice."""
    import threading

    from bridge.errors import DuplicateInvoice
    from bridge.services import invoices

    cid = make_client()
    factory = app.extensions["bridge_db"]["session_factory"]
    line = [{"description": "x", "amount": "1"}]
    outcome: dict[str, str] = {}

    from sqlalchemy.exc import OperationalError

    def second_run() -> None:
        try:
            with factory() as b, b.begin():
                invoices.create_invoice(b, cid, line, date=date(2026, 11, 1), duedate=date(2026, 11, 1),
                                        period="2026-10", actor="system")
                outcome["second"] = "created"
        except DuplicateInvoice:
            outcome["second"] = "duplicate"
        except OperationalError as exc:
            # SQLite only: the later of two overlapping writers is refused (its snapshot is stale)
            outcome["second"] = "locked" if "locked" in str(exc) else repr(exc)

    with factory() as a, a.begin():
        invoices.create_invoice(a, cid, line, date=date(2026, 11, 1), duedate=date(2026, 11, 1),
                                period="2026-10", actor="system")
        worker = threading.Thread(target=second_run)
        worker.start()
        worker.join(0.3)  # give it the chance to block on our uncommitted row (not an assertion)
    worker.join(30)
    expected = {"duplicate", "locked"} if settings_of(app).database_url.startswith("sqlite") else {"duplicate"}
    assert outcome["second"] in expected
    with session_of(app) as s:
        assert s.query(Invoice).filter_by(client_id=cid, period="2026-10").count() == 1
