"""Money moves exactly once: payments, overpayments, credit on invoices, transactions.

A payment on a settled invoice or with a transid the gateway already used is refused; what
is paid beyond the balance lands on the client's credit; UpdateInvoice ``credit`` and
ApplyCredit take real credit from the client; concurrent CreateInvoice with
``autoapplycredit`` never deadlocks and applies the credit once (PostgreSQL).
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from bridge.models import Client, CreditLog, Invoice, Transaction
from tests.bridge.conftest import err, ok, session_of

PAID = "It is not possible to add a payment to an invoice that is Paid"


def _credit(api: Any, cid: int) -> str:
    return str(ok(api("GetClientsDetails", clientid=cid))["client"]["credit"])


def _count(app: Any, model: Any) -> int:
    with session_of(app) as s:
        return s.query(model).count()


def test_payment_on_a_paid_invoice_is_refused(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00"))["invoiceid"]
    ok(api("AddInvoicePayment", invoiceid=iid, transid="T1", gateway="bank"))
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="T2", gateway="bank", amount="10.00")) == PAID
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="T3", gateway="bank")) == PAID
    assert _count(app, Transaction) == 1 and _credit(api, cid) == "0.00"


def test_refunded_invoice_takes_no_payment(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00"))["invoiceid"]
    ok(api("UpdateInvoice", invoiceid=iid, status="Refunded"))
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="T", gateway="bank")) == \
        "It is not possible to add a payment to an invoice that is Refunded"


def test_a_transid_is_recorded_once_per_gateway(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    a = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00"))["invoiceid"]
    b = ok(api("CreateInvoice", userid=cid, itemdescription1="b", itemamount1="10.00"))["invoiceid"]
    ok(api("AddInvoicePayment", invoiceid=a, transid="PAY-1", gateway="paypal", amount="4.00"))
    assert err(api("AddInvoicePayment", invoiceid=a, transid="PAY-1", gateway="paypal", amount="4.00")) == \
        "Transaction ID must be Unique"
    assert err(api("AddInvoicePayment", invoiceid=b, transid="PAY-1", gateway="paypal")) == \
        "Transaction ID must be Unique"
    ok(api("AddInvoicePayment", invoiceid=b, transid="PAY-1", gateway="banktransfer", amount="1.00"))
    assert _count(app, Transaction) == 2
    assert ok(api("GetInvoice", invoiceid=a))["balance"] == "6.00"


def test_overpayment_goes_to_the_clients_credit(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00"))["invoiceid"]
    ok(api("AddInvoicePayment", invoiceid=iid, transid="T1", gateway="bank", amount="4.00"))
    ok(api("AddInvoicePayment", invoiceid=iid, transid="T2", gateway="bank", amount="15.50"))
    inv = ok(api("GetInvoice", invoiceid=iid))
    assert (inv["status"], inv["balance"]) == ("Paid", "0.00")
    assert _credit(api, cid) == "9.50"
    credits = ok(api("GetCredits", clientid=cid))
    assert credits["credits"]["credit"][-1] | {"id": "x", "date": "x"} == {
        "id": "x", "date": "x", "description": f"Overpayment on Invoice #{iid}", "amount": "9.50", "relid": iid}


@pytest.mark.parametrize("amount,message", [
    ("0", "Amount must be greater than zero"),
    ("0.00", "Amount must be greater than zero"),
    ("-1", "Amount must be in decimal format: ### or ###.##"),
    ("abc", "Amount must be in decimal format: ### or ###.##"),
    ("NaN", "Amount must be in decimal format: ### or ###.##"),
    ("999999999999999999", "Amount must be in decimal format: ### or ###.##"),
])
def test_zero_or_absurd_payments_are_refused(app: Any, api: Any, make_client: Any, amount: str,
                                             message: str) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00"))["invoiceid"]
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="T", gateway="bank", amount=amount)) == message
    assert _count(app, Transaction) == 0


def test_update_invoice_credit_takes_real_credit(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00"))["invoiceid"]
    # no credit: refused, nothing marked paid out of nothing
    assert err(api("UpdateInvoice", invoiceid=iid, credit="10")) == "Amount exceeds customer credit balance"
    inv = ok(api("GetInvoice", invoiceid=iid))
    assert (inv["credit"], inv["status"]) == ("0.00", "Unpaid")
    ok(api("AddCredit", clientid=cid, description="top-up", amount="6.00"))
    assert err(api("UpdateInvoice", invoiceid=iid, credit="6.01")) == "Amount exceeds customer credit balance"
    ok(api("UpdateInvoice", invoiceid=iid, credit="4.00"))
    assert (ok(api("GetInvoice", invoiceid=iid))["balance"], _credit(api, cid)) == ("6.00", "2.00")
    ok(api("UpdateInvoice", invoiceid=iid, credit="1.00"))  # lowering it gives the difference back
    assert (ok(api("GetInvoice", invoiceid=iid))["balance"], _credit(api, cid)) == ("9.00", "5.00")
    assert err(api("UpdateInvoice", invoiceid=iid, credit="-1")) == "Invalid credit"


def test_apply_credit(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00"))["invoiceid"]
    assert err(api("ApplyCredit", invoiceid=iid)) == "Credit Amount to apply must be greater than zero"
    ok(api("AddCredit", clientid=cid, description="top-up", amount="25.00"))
    assert err(api("ApplyCredit", invoiceid=iid, amount="0")) == "Credit Amount to apply must be greater than zero"
    assert err(api("ApplyCredit", invoiceid=iid, amount="26")) == "Amount exceeds customer credit balance"
    assert err(api("ApplyCredit", invoiceid=iid, amount="10.01")) == "Amount Exceeds Invoice Balance"
    assert err(api("ApplyCredit", invoiceid="999")) == "Invoice ID Not Found"
    assert ok(api("ApplyCredit", invoiceid=iid, amount="4")) == {
        "result": "success", "invoiceid": iid, "amount": "4.00", "invoicepaid": "false"}
    assert ok(api("ApplyCredit", invoiceid=iid)) == {  # the rest: as much as the balance allows
        "result": "success", "invoiceid": iid, "amount": "6.00", "invoicepaid": "true"}
    assert _credit(api, cid) == "15.00"
    assert err(api("ApplyCredit", invoiceid=iid, amount="1")) == "Invoice Not in Unpaid Status"
    log = ok(api("GetCredits", clientid=cid))["credits"]["credit"]
    assert [(c["amount"], c["relid"]) for c in log] == [("25.00", "0"), ("-4.00", iid), ("-6.00", iid)]


def test_add_transaction(app: Any, api: Any, make_client: Any) -> None:
    cid, other = make_client(), make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00"))["invoiceid"]
    assert err(api("AddTransaction", userid=cid)) == "Payment Method is required"
    assert err(api("AddTransaction", paymentmethod="paypal")) == \
        "A Currency ID is required for non-customer related transactions"
    assert err(api("AddTransaction", paymentmethod="paypal", userid=other, invoiceid=iid, amountin="1")) == \
        "User ID does not own the given Invoice ID"
    assert err(api("AddTransaction", paymentmethod="paypal", userid="999")) == "Client ID Not Found"
    assert err(api("AddTransaction", paymentmethod="paypal", userid=cid, currencyid="2", amountin="1")) == \
        "Currency ID does not match Client currency"
    # with an invoice: a payment of it (settles, overpayment to credit)
    ok(api("AddTransaction", paymentmethod="paypal", userid=cid, invoiceid=iid, transid="X1", amountin="12.00",
           date="01/01/2026"))
    assert ok(api("GetInvoice", invoiceid=iid))["status"] == "Paid" and _credit(api, cid) == "2.00"
    assert err(api("AddTransaction", paymentmethod="paypal", userid=cid, transid="X1", amountin="1")) == \
        "Transaction ID must be Unique"
    ok(api("AddTransaction", paymentmethod="paypal", userid=cid, transid="X1", amountin="1",
           allowduplicatetransid="1"))
    # credit=1: to the client's credit
    ok(api("AddTransaction", paymentmethod="bank", userid=cid, transid="X2", amountin="5.00", credit="true"))
    assert _credit(api, cid) == "7.00"
    listed = ok(api("GetTransactions", clientid=cid))
    assert listed["totalresults"] == 3 and [t["transid"] for t in listed["transactions"]["transaction"]] == \
        ["X1", "X1", "X2"]
    first = listed["transactions"]["transaction"][0]
    assert (first["invoiceid"], first["amountin"], first["date"][:10]) == (iid, "12.00", "2026-01-01")
    assert ok(api("GetTransactions", invoiceid=iid))["totalresults"] == 1
    assert ok(api("GetTransactions", transid="X2"))["transactions"]["transaction"][0]["description"] == "Transaction"


def test_autoapplycredit_on_sqlite_and_postgres(api: Any, make_client: Any) -> None:
    cid = make_client()
    ok(api("AddCredit", clientid=cid, description="top-up", amount="4.00"))
    a = ok(api("CreateInvoice", userid=cid, autoapplycredit="True", itemdescription1="a", itemamount1="3.00"))
    b = ok(api("CreateInvoice", userid=cid, autoapplycredit="yes", itemdescription1="b", itemamount1="3.00"))
    assert (a["status"], b["status"]) == ("Paid", "Unpaid")
    assert ok(api("GetInvoice", invoiceid=b["invoiceid"]))["credit"] == "1.00" and _credit(api, cid) == "0.00"


@pytest.mark.postgres
def test_six_concurrent_autoapplycredit_invoices_never_deadlock(app: Any, cred: Any, make_client: Any,
                                                                 db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks and deadlocks are PostgreSQL's (SQLite serialises writers)")
    cid = make_client()
    client = app.test_client()
    auth = {"identifier": cred.identifier, "secret": cred.secret}
    ok(client.post("/includes/api.php", data={"action": "AddCredit", "clientid": cid, "description": "top-up",
                                              "amount": "10.00", **auth}))
    start = threading.Barrier(6)
    answers: list[Any] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        c = app.test_client()
        start.wait()
        resp = c.post("/includes/api.php", data={"action": "CreateInvoice", "userid": cid, "autoapplycredit": "1",
                                                 "itemdescription1": f"line {n}", "itemamount1": "3.00", **auth})
        with lock:
            answers.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == 6 and all(code == 200 and body["result"] == "success" for code, body in answers), answers
    with session_of(app) as s:
        invoices = list(s.query(Invoice).filter(Invoice.client_id == cid))
        applied = sum((Decimal(i.credit) for i in invoices), Decimal(0))
        logged = sum((Decimal(r.amount) for r in s.query(CreditLog).filter(CreditLog.client_id == cid)), Decimal(0))
        assert len(invoices) == 6
        assert applied == Decimal("10.00")  # the credit, applied once in all
        assert s.get(Client, cid).credit == Decimal("0.00") == logged
        assert sorted(Decimal(i.credit) for i in invoices) == [0, 0, 1, 3, 3, 3]
