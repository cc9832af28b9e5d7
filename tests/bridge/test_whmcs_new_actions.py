"""The actions integrations use that were missing: ValidateLogin, SendEmail, AddBillableItem,
GetPaymentMethods, GetClientsProducts, GetCredits (ApplyCredit, AddTransaction and
GetTransactions are in test_whmcs_money_once.py)."""

from __future__ import annotations

import email
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.models import BillableItem, Client, Currency
from bridge.services.solusvm_client import SolusVMUnavailable
from tests.bridge.conftest import CLIENT, err, ok, session_of


def test_validate_login(api: Any, make_client: Any, app: Any) -> None:
    cid = make_client(email="login@example.com", password2="correct horse")
    body = ok(api("ValidateLogin", email="LOGIN@example.com", password2="correct horse"))
    assert (body["userid"], body["twoFactorEnabled"]) == (str(cid), "false")
    assert len(body["passwordhash"]) == 64
    with session_of(app) as s:
        assert body["passwordhash"] != s.get(Client, cid).password_hash  # a token, never the stored hash
    # stable for the same password, different after a change
    assert ok(api("ValidateLogin", email="login@example.com", password2="correct horse"))["passwordhash"] == \
        body["passwordhash"]
    for email_, password in [("login@example.com", "wrong"), ("nobody@example.com", "correct horse"),
                             ("", "x"), ("login@example.com", "")]:
        assert err(api("ValidateLogin", email=email_, password2=password)) == "Email or Password Invalid"
    ok(api("CloseClient", clientid=cid))
    assert err(api("ValidateLogin", email="login@example.com", password2="correct horse")) == \
        "Email or Password Invalid"


def _outbox(app: Any) -> list[email.message.Message]:
    folder = Path(app.instance_path) / "outbox"
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.exists() else []
    return [email.message_from_bytes(p.read_bytes()) for p in files]


def test_send_email_templates(api: Any, make_client: Any, app: Any) -> None:
    cid = make_client(email="mail@example.com")
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="12.00"))["invoiceid"]
    for name in ("Invoice Created", "Invoice Payment Confirmation", "First Invoice Overdue Notice",
                 "Second Invoice Overdue Notice", "Third Invoice Overdue Notice"):
        assert ok(api("SendEmail", messagename=name, id=iid)) == {"result": "success"}
    sent = _outbox(app)
    assert len(sent) == 5 and {m["To"] for m in sent} == {"mail@example.com"}
    by_subject = {m["Subject"]: m for m in sent}
    assert set(by_subject) == {f"Customer Invoice #{iid}", f"Invoice Payment Confirmation #{iid}",
                               f"First Overdue Notice - Invoice #{iid}", f"Second Overdue Notice - Invoice #{iid}",
                               f"Third Overdue Notice - Invoice #{iid}"}
    assert "for 12.00 USD was created" in by_subject[f"Customer Invoice #{iid}"].get_payload(decode=True).decode()
    assert err(api("SendEmail", messagename="Nope", id=iid)) == "Email Template not found"
    assert err(api("SendEmail", messagename="Invoice Created")) == "A related ID is required"
    assert err(api("SendEmail", messagename="Invoice Created", id="999")) == "Invoice ID Not Found"
    assert err(api("SendEmail")) == \
        "You must provide either an existing email template name or a custom message type"


def test_send_email_money_follows_the_currency_format(api: Any, make_client: Any, app: Any) -> None:
    # Regression: the templates wrote prefix + "1234.56" + suffix whatever the currency's format;
    # a format-3 EUR client read "€1234.56 EUR" here and "1.234,56 EUR" in the client area and
    # the monthly run's mail. Now all three write the amount alike.
    with session_of(app) as s:
        eur = s.scalar(select(Currency.id).where(Currency.code == "EUR"))
    cid = make_client(email="eur@example.com", currency=str(eur))
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="1234.56"))["invoiceid"]
    ok(api("SendEmail", messagename="Invoice Created", id=iid))
    [msg] = _outbox(app)
    assert "for 1.234,56 EUR was created" in msg.get_payload(decode=True).decode()


def test_send_email_custom(api: Any, make_client: Any, app: Any) -> None:
    cid = make_client(email="custom@example.com")
    ok(api("SendEmail", customtype="general", id=cid, customsubject="Hello",
           custommessage="<p>Maintenance &amp; news</p>"))
    [msg] = _outbox(app)
    assert (msg["To"], msg["Subject"]) == ("custom@example.com", "Hello")
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert parts["text/plain"].strip() == "Maintenance & news" and "<p>" in parts["text/html"]
    assert err(api("SendEmail", customtype="general", id=cid, custommessage="x")) == \
        "A subject is required for a custom message"
    assert err(api("SendEmail", customtype="general", id=cid, customsubject="s")) == \
        "A message body is required for a custom message"
    assert err(api("SendEmail", customtype="weird", id=cid, customsubject="s", custommessage="m")) == \
        "Invalid message type provided"
    assert err(api("SendEmail", customtype="general", id="999", customsubject="s", custommessage="m")) == \
        "Client ID Not Found"


def test_send_email_failure_is_reported(api: Any, make_client: Any, db_url: str, tmp_path: Any) -> None:
    from bridge.services import credentials
    from tests.bridge.conftest import build_app

    app = build_app(db_url, tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=1, MAIL_TIMEOUT=2)
    try:
        with session_of(app) as s, s.begin():
            cred = credentials.create(s, "mail", actor="test")
            from bridge.services import clients

            cid = clients.create(s, {**CLIENT}, actor="test").id
        resp = app.test_client().post("/includes/api.php", data={
            "action": "SendEmail", "identifier": cred.identifier, "secret": cred.secret, "customtype": "general",
            "id": cid, "customsubject": "s", "custommessage": "m"})
        assert err(resp) == "Sending Failed. Please see documentation."
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


def test_add_billable_item(api: Any, make_client: Any, app: Any) -> None:
    cid = make_client()
    kept = ok(api("AddBillableItem", clientid=cid, description="Consulting", amount="90.00", unit="hours",
                  quantity="1.5"))
    assert isinstance(kept["billableid"], int)
    invoiced = ok(api("AddBillableItem", clientid=cid, description="Setup", amount="25.00", unit="quantity",
                      invoiceaction="duedate", duedate="2030-01-31"))
    with session_of(app) as s:
        item = s.get(BillableItem, invoiced["billableid"])
        assert s.get(BillableItem, kept["billableid"]).invoice_id is None and item.invoice_id is not None
        iid = item.invoice_id
    inv = ok(api("GetInvoice", invoiceid=iid))
    assert (inv["total"], inv["duedate"], inv["items"]["item"][0]["relid"]) == \
        ("25.00", "2030-01-31", invoiced["billableid"])
    assert err(api("AddBillableItem", clientid="999", description="x", amount="1", unit="hours")) == \
        "Client ID not Found"
    assert err(api("AddBillableItem", clientid=cid, amount="1", unit="hours")) == "You must provide a description"
    assert err(api("AddBillableItem", clientid=cid, description="x", amount="1")) == \
        "Invalid Unit, please specify either 'hours' or 'quantity'"
    assert err(api("AddBillableItem", clientid=cid, description="x", amount="1", unit="hours",
                   invoiceaction="later")) == "Invalid Invoice Action"
    assert err(api("AddBillableItem", clientid=cid, description="x", amount="1", unit="hours",
                   invoiceaction="duedate")) == "Due date is required"
    assert err(api("AddBillableItem", clientid=cid, description="x", amount="1", unit="hours",
                   invoiceaction="recur", duedate="2030-01-01")) == "Recurring must have a unit, cycle and limit"
    assert err(api("AddBillableItem", clientid=cid, description="x", amount="1", unit="hours",
                   invoiceaction="duedate", duedate="31/01/2030")) == "Invalid Date Format - Expected: 'YYYY-mm-dd'"


def test_get_payment_methods(api: Any, db_url: str, tmp_path: Any) -> None:
    body = ok(api("GetPaymentMethods"))
    assert body == {"result": "success", "totalresults": 1,
                    "paymentmethods": {"paymentmethod": [{"module": "banktransfer", "displayname": "Bank Transfer"}]}}


def test_get_credits(api: Any, make_client: Any) -> None:
    cid = make_client()
    assert ok(api("GetCredits", clientid=cid)) == {"result": "success", "totalresults": "0", "clientid": str(cid),
                                                   "credits": {"credit": []}}
    ok(api("AddCredit", clientid=cid, description="Goodwill", amount="10.00"))
    ok(api("AddCredit", clientid=cid, description="Fix", amount="2.50", type="remove"))
    rows = ok(api("GetCredits", clientid=cid))["credits"]["credit"]
    assert [(r["description"], r["amount"], r["relid"]) for r in rows] == \
        [("Goodwill", "10.00", "0"), ("Fix", "-2.50", "0")]
    assert err(api("GetCredits", clientid="999")) == "Client ID Not Found"
    assert err(api("GetCredits")) == "Client ID Not Found"


class _Solus:
    servers: list[dict[str, Any]] = []
    fail = False

    def __init__(self, *_a: Any, **_k: Any) -> None:
        pass

    def iter_servers(self, *, user_id: int | None = None) -> Any:
        if self.fail:
            raise SolusVMUnavailable("connection refused")
        return iter([s for s in self.servers if s["user"]["id"] == user_id])


def _server(sid: int, user: int, *, suspended: bool = False) -> dict[str, Any]:
    return {"id": sid, "name": f"vm-{sid}", "is_suspended": suspended, "plan": {"id": 3, "name": "Small"},
            "user": {"id": user}, "ip_addresses": {"ipv4": [{"ip": f"192.0.2.{sid}"}]},
            "created_at": "2026-10-01T12:00:00Z"}


@pytest.fixture
def solus(monkeypatch: pytest.MonkeyPatch) -> type[_Solus]:
    from bridge.api.whmcs import products

    monkeypatch.setattr(products, "connect", _Solus)
    _Solus.servers, _Solus.fail = [], False
    return _Solus


def test_get_clients_products(api: Any, make_client: Any, app: Any, solus: type[_Solus]) -> None:
    a, b, c = make_client(), make_client(), make_client()
    with session_of(app) as s, s.begin():
        s.get(Client, a).solusvm_user_id = 11
        s.get(Client, b).solusvm_user_id = 12
    solus.servers = [_server(1, 11), _server(2, 11, suspended=True), _server(3, 12)]
    body = ok(api("GetClientsProducts", clientid=a))
    assert (body["clientid"], body["totalresults"], body["startnumber"], body["numreturned"]) == (str(a), "2", 0, 2)
    rows = body["products"]["product"]
    assert [(p["id"], p["domain"], p["status"], p["dedicatedip"], p["regdate"]) for p in rows] == [
        ("1", "vm-1", "Active", "192.0.2.1", "2026-10-01"), ("2", "vm-2", "Suspended", "192.0.2.2", "2026-10-01")]
    assert ok(api("GetClientsProducts", clientid=a, serviceid="2"))["products"]["product"][0]["id"] == "2"
    assert ok(api("GetClientsProducts"))["totalresults"] == "3"  # every enrolled client
    assert ok(api("GetClientsProducts", limitstart="2", limitnum="1"))["products"]["product"][0]["id"] == "3"
    assert ok(api("GetClientsProducts", clientid=c))["totalresults"] == "0"  # not enrolled: nothing
    assert err(api("GetClientsProducts", clientid="999")) == "Client ID Not Found"
    solus.fail = True
    assert err(api("GetClientsProducts", clientid=a)).startswith("SolusVM is unavailable")
