"""Every implemented action's answer has the keys and value types of WHMCS 8's documented example.

The facts are in tests/data/whmcs_answer_shapes.json (key set and value type of each documented
example answer). Each action is called here with the bridge's data in place, and the answer
must hold every documented key with the documented type, recursively (extra keys are allowed:
the bridge adds a few of its own, listed in docs/bridge-api.md). Checked in JSON and, for the
envelope, in XML.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from bridge.models import Client
from tests.bridge.conftest import ok, session_of

SHAPES = json.loads((Path(__file__).parents[1] / "data" / "whmcs_answer_shapes.json").read_text())["actions"]
PY_TYPES = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def mismatches(shape: Any, value: Any, path: str = "$") -> list[str]:
    """Where ``value`` differs from the documented ``shape`` (empty: it conforms)."""
    if shape == "null" or shape is None:
        return []  # documented as null: any value (or null) is fine
    if isinstance(shape, str):
        expected = PY_TYPES[shape]
        if shape == "int" and isinstance(value, bool):
            return [f"{path}: bool where int is documented"]
        return [] if isinstance(value, expected) else [f"{path}: {type(value).__name__} where {shape} is documented"]
    if shape["type"] == "array":
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__} where an array is documented"]
        return [m for i, item in enumerate(value) for m in mismatches(shape["items"], item, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return [f"{path}: {type(value).__name__} where an object is documented"]
    out = []
    for key, sub in shape["keys"].items():
        if key not in value:
            out.append(f"{path}.{key}: missing")
        else:
            out.extend(mismatches(sub, value[key], f"{path}.{key}"))
    return out


class FakeSolus:
    """Stands in for SolusVM's server listing (GetClientsProducts)."""

    def __init__(self, *_a: Any, **_k: Any) -> None:
        pass

    def iter_servers(self, *, user_id: int | None = None) -> Any:
        yield {"id": 7, "name": "web-1", "is_suspended": False, "plan": {"id": 2, "name": "Small"},
               "ip_addresses": {"ipv4": [{"ip": "192.0.2.10"}, {"ip": "192.0.2.11"}]},
               "created_at": "2026-10-01T00:00:00Z"}


@pytest.fixture
def answers(app: Any, api: Any, make_client: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """One successful answer of every action, with data behind each."""
    from bridge.api.whmcs import products

    monkeypatch.setattr(products, "connect", FakeSolus)
    got: dict[str, dict[str, Any]] = {}
    got["AddClient"] = ok(api("AddClient", **{
        "firstname": "Ann", "lastname": "Lee", "email": "shape@example.com", "address1": "1 Main St",
        "city": "Springfield", "state": "IL", "postcode": "62701", "country": "GB",
        "phonenumber": "+44.1234567890", "password2": "hunter2!"}))
    cid = int(got["AddClient"]["clientid"])
    with session_of(app) as s, s.begin():
        s.get(Client, cid).solusvm_user_id = 42
    got["UpdateClient"] = ok(api("UpdateClient", clientid=cid, companyname="Acme"))
    got["AddCredit"] = ok(api("AddCredit", clientid=cid, description="prepay", amount="3.00"))
    got["CreateInvoice"] = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="10.00",
                                  date="2020-01-01", duedate="2020-01-08"))
    iid = got["CreateInvoice"]["invoiceid"]
    got["UpdateInvoice"] = ok(api("UpdateInvoice", invoiceid=iid, notes="n"))
    got["GetInvoice"] = ok(api("GetInvoice", invoiceid=iid))  # no transactions yet: "" as documented
    got["ApplyCredit"] = ok(api("ApplyCredit", invoiceid=iid, amount="1.00"))
    got["AddInvoicePayment"] = ok(api("AddInvoicePayment", invoiceid=iid, transid="T1", gateway="banktransfer",
                                      amount="2.00"))
    got["AddTransaction"] = ok(api("AddTransaction", paymentmethod="banktransfer", userid=cid, transid="T2",
                                   amountin="5.00", credit="1"))
    got["GetTransactions"] = ok(api("GetTransactions", clientid=cid))
    got["GetCredits"] = ok(api("GetCredits", clientid=cid))
    got["GetInvoices"] = ok(api("GetInvoices", userid=cid))
    got["GetClients"] = ok(api("GetClients"))
    got["GetClientsDetails"] = ok(api("GetClientsDetails", clientid=cid, stats="true"))
    got["GetClientGroups"] = ok(api("GetClientGroups"))
    got["GetCurrencies"] = ok(api("GetCurrencies"))
    got["GetPaymentMethods"] = ok(api("GetPaymentMethods"))
    got["ValidateLogin"] = ok(api("ValidateLogin", email="shape@example.com", password2="hunter2!"))
    got["SendEmail"] = ok(api("SendEmail", messagename="Invoice Created", id=iid))
    got["AddBillableItem"] = ok(api("AddBillableItem", clientid=cid, description="setup", amount="4.00",
                                    unit="quantity", quantity="1"))
    got["GetClientsProducts"] = ok(api("GetClientsProducts", clientid=cid))
    got["CreateSsoToken"] = ok(api("CreateSsoToken", client_id=cid))
    got["GetConfigurationValue"] = ok(api("GetConfigurationValue", setting="SystemURL"))
    got["WhmcsDetails"] = ok(api("WhmcsDetails"))
    other = make_client()
    got["CloseClient"] = ok(api("CloseClient", clientid=other))
    got["DeleteClient"] = ok(api("DeleteClient", clientid=other))
    return got


def _documented(action: str) -> Any:
    entry = SHAPES[action]
    shape = json.loads(json.dumps(entry["shape"]))
    for key in entry.get("ignored", {}):
        shape["keys"].pop(key, None)
        if isinstance(shape["keys"].get("client"), dict):
            shape["keys"]["client"]["keys"].pop(key, None)
    return shape


def test_every_answer_matches_the_documented_shape(answers: dict[str, Any]) -> None:
    # One fixture run for all actions (it is the expensive part); the report names every miss.
    assert set(SHAPES) == set(answers)
    assert {a: m for a in sorted(SHAPES) if (m := mismatches(_documented(a), answers[a]))} == {}


def test_the_checker_catches_a_wrong_type() -> None:
    shape = _documented("GetClients")
    good = {"result": "success", "totalresults": 1, "startnumber": 0, "numreturned": 1, "clients": {"client": [
        {"id": 1, "firstname": "a", "lastname": "b", "companyname": "", "email": "e", "datecreated": "d",
         "groupid": 0, "status": "Active"}]}}
    assert mismatches(shape, good) == []
    assert mismatches(shape, {**good, "numreturned": "1"}) == ["$.numreturned: str where int is documented"]
    del good["clients"]["client"][0]["groupid"]
    assert mismatches(shape, good) == ["$.clients.client[0].groupid: missing"]


def test_ids_stay_strings_where_the_examples_show_strings(answers: dict[str, Any]) -> None:
    assert isinstance(answers["AddClient"]["clientid"], str)
    assert isinstance(answers["CreateInvoice"]["invoiceid"], str)
    assert isinstance(answers["UpdateInvoice"]["invoiceid"], str)
    assert isinstance(answers["GetClients"]["numreturned"], int)
    assert isinstance(answers["GetClients"]["clients"]["client"][0]["id"], int)


def test_stats_are_computed(answers: dict[str, Any]) -> None:
    stats = answers["GetClientsDetails"]["stats"]
    # 10.00 invoice, 1.00 credit applied, 2.00 paid: 7.00 owed, overdue since 2020
    assert (stats["numunpaidinvoices"], stats["unpaidinvoicesamount"]) == (1, "$7.00 USD")
    assert (stats["numoverdueinvoices"], stats["overdueinvoicesbalance"]) == (1, "$7.00 USD")
    assert (stats["numdueinvoices"], stats["dueinvoicesbalance"]) == (1, "$7.00 USD")
    # 3.00 added, 1.00 applied, 5.00 from AddTransaction credit=1
    assert (stats["creditbalance"], stats["incredit"]) == ("$7.00 USD", True)
    assert stats["grossRevenue"] == "$7.00 USD" and stats["income"] == "$7.00 USD"
    assert stats["productsnumtotal"] == 1 and stats["numDraftInvoices"] == 0
    client = answers["GetClientsDetails"]["client"]
    assert (client["countryname"], client["phonecc"]) == ("United Kingdom", "44")


def test_xml_answer_layout(api: Any, make_client: Any) -> None:
    make_client()
    resp = api("GetClients", responsetype="xml")
    root = ET.fromstring(resp.data)
    assert root.tag == "whmcsapi" and root.get("version")
    assert [child.tag for child in root][:2] == ["action", "result"]
    assert root.findtext("action") == "getclients" and root.findtext("result") == "success"
    assert root.findtext("numreturned") == "1"
    assert len(root.findall("clients/client")) == 1


def test_xml_booleans_as_php_prints_them(api: Any, make_client: Any) -> None:
    cid = make_client()
    root = ET.fromstring(api("GetClientsDetails", clientid=cid, responsetype="xml").data)
    assert root.findtext("client/taxexempt") == ""  # false: empty
    assert root.findtext("client/users/user/is_owner") == "1"  # true: 1
