"""Client actions through /includes/api.php."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.models import Client
from contracts.whmcs import GetClientGroupsResponseSchema, GetClientsResponseSchema
from tests.bridge.conftest import CLIENT, err, session_of


def test_add_client_and_details(api: Any) -> None:
    resp = api("AddClient", **CLIENT, companyname="Acme")
    body = resp.get_json()
    assert body["result"] == "success"
    cid = body["clientid"]
    assert isinstance(cid, str) and cid.isdigit()
    details = api("GetClientsDetails", clientid=cid).get_json()
    assert details["result"] == "success"
    c = details["client"]
    assert c["id"] == c["client_id"] == c["userid"] == c["owner_user_id"] == int(cid)  # integers, as documented
    assert c["email"] == "ann@example.com"
    assert c["currency"] == 1 and c["currency_code"] == "USD"
    assert c["status"] == "Active" and c["credit"] == "0.00" and c["taxexempt"] is False
    assert c["companyname"] == "Acme" and c["countrycode"] == "US"
    assert details["email"] == "ann@example.com"  # deprecated top-level duplicate
    by_email = api("GetClientsDetails", email="ANN@example.com").get_json()
    assert by_email["client"]["id"] == int(cid)


@pytest.mark.production_password_hashing
def test_add_client_password_is_hashed(app: Any, api: Any) -> None:
    cid = api("AddClient", **CLIENT).get_json()["clientid"]
    with session_of(app) as s:
        c = s.get(Client, int(cid))
        assert c.password_hash and "hunter2" not in c.password_hash
        from werkzeug.security import check_password_hash

        assert check_password_hash(c.password_hash, "hunter2!")


@pytest.mark.parametrize(("field", "message"), [
    ("firstname", "You did not enter your first name"),
    ("lastname", "You did not enter your last name"),
    ("email", "You did not enter your email address"),
    ("country", "Valid country required"),
    ("password2", "You did not enter a password"),
    ("address1", "You did not enter your  address line 1"),  # two spaces: WHMCS's documented text
    ("city", "You did not enter your city"),
    ("phonenumber", "You did not enter your phone number"),
])
def test_add_client_missing_fields(api: Any, field: str, message: str) -> None:
    data = {k: v for k, v in CLIENT.items() if k != field}
    assert err(api("AddClient", **data)) == message


@pytest.mark.parametrize(("overrides", "message"), [
    ({"email": "not-an-email"}, "The email address you entered was not valid"),
    ({"country": "USA"}, "Valid country required"),
    ({"currency": "99"}, "Invalid Currency ID"),
    ({"currency": "abc"}, "Invalid Currency ID"),
    ({"groupid": "7"}, "Invalid Client Group ID"),
    ({"taxexempt": "maybe"}, "Invalid value for taxexempt"),
])
def test_add_client_bad_fields(app: Any, api: Any, overrides: dict[str, str], message: str) -> None:
    assert err(api("AddClient", **{**CLIENT, **overrides})) == message
    with session_of(app) as s:
        assert s.query(Client).count() == 0  # nothing half-written


def test_duplicate_email_case_insensitive(api: Any) -> None:
    assert api("AddClient", **CLIENT).get_json()["result"] == "success"
    assert err(api("AddClient", **{**CLIENT, "email": "ANN@Example.COM"})) == \
        "A user already exists with that email address"


def test_get_clients_details_errors(api: Any) -> None:
    assert err(api("GetClientsDetails")) == "Either clientid Or email Is Required"
    assert err(api("GetClientsDetails", clientid="999")) == "Client Not Found"
    assert err(api("GetClientsDetails", clientid="abc")) == "Client Not Found"
    assert err(api("GetClientsDetails", clientid="9" * 30)) == "Client Not Found"
    assert err(api("GetClientsDetails", email="nobody@example.com")) == "Client Not Found"


def test_update_client(api: Any, make_client: Any) -> None:
    cid = make_client()
    other = make_client()
    assert api("UpdateClient", clientid=cid, firstname="Bob", taxexempt="1", status="Inactive",
               country="de").get_json() == {"result": "success", "clientid": str(cid)}
    c = api("GetClientsDetails", clientid=cid).get_json()["client"]
    assert (c["firstname"], c["taxexempt"], c["status"], c["countrycode"]) == ("Bob", True, "Inactive", "DE")
    other_email = api("GetClientsDetails", clientid=other).get_json()["client"]["email"]
    assert err(api("UpdateClient", clientid=cid, email=other_email.upper())) == "Duplicate Email Address"
    assert err(api("UpdateClient", clientid=cid, email="bad")) == "The email address entered is not valid"
    assert err(api("UpdateClient", clientid="999", firstname="x")) == "Client ID Not Found"
    assert err(api("UpdateClient", firstname="x")) == "Client ID Not Found"
    assert err(api("UpdateClient", clientid=cid, status="Weird")) == "Invalid status"
    assert err(api("UpdateClient", clientid=cid, currency="42")) == "Invalid Currency ID"
    # a failed update leaves the client unchanged
    assert api("GetClientsDetails", clientid=cid).get_json()["client"]["currency"] == 1


def test_update_client_by_email(api: Any, make_client: Any) -> None:
    cid = make_client(email="find@example.com")
    assert api("UpdateClient", clientemail="find@example.com", lastname="Z").get_json()["clientid"] == str(cid)


def test_close_and_delete_client(api: Any, make_client: Any) -> None:
    cid = make_client()
    inv = api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="5").get_json()["invoiceid"]
    assert api("CloseClient", clientid=cid).get_json()["result"] == "success"
    assert api("GetClientsDetails", clientid=cid).get_json()["client"]["status"] == "Closed"
    assert api("GetInvoice", invoiceid=inv).get_json()["status"] == "Cancelled"
    assert err(api("CloseClient", clientid="999")) == "Client ID Not Found"
    assert api("DeleteClient", clientid=cid).get_json() == {"result": "success", "clientid": str(cid)}
    assert err(api("GetClientsDetails", clientid=cid)) == "Client Not Found"
    assert err(api("GetInvoice", invoiceid=inv)) == "Invoice ID Not Found"
    assert err(api("DeleteClient", clientid=cid)) == "Client ID Not Found"
    assert err(api("DeleteClient")) == "Client ID Not Found"


def test_get_clients_paging_search_status(api: Any, make_client: Any) -> None:
    ids = [make_client(firstname=f"Name{i}", email=f"p{i}@example.com") for i in range(5)]
    make_client(firstname="Zed", email="zed@other.org")
    api("CloseClient", clientid=ids[0])
    page = api("GetClients", limitstart="1", limitnum="2").get_json()
    GetClientsResponseSchema().load(page)
    assert (page["totalresults"], page["startnumber"], page["numreturned"]) == (6, 1, 2)
    assert [c["id"] for c in page["clients"]["client"]] == [ids[1], ids[2]]
    found = api("GetClients", search="zed").get_json()
    assert [c["email"] for c in found["clients"]["client"]] == ["zed@other.org"]
    closed = api("GetClients", status="Closed").get_json()
    assert [c["id"] for c in closed["clients"]["client"]] == [ids[0]]
    desc = api("GetClients", sorting="DESC", limitnum="1").get_json()
    assert desc["clients"]["client"][0]["firstname"] == "Zed"
    assert err(api("GetClients", limitnum="-1")) == "Invalid limitnum"
    assert err(api("GetClients", status="Nope")) == "Invalid status"
    empty = api("GetClients", search="nomatch").get_json()
    assert empty["totalresults"] == 0 and empty["clients"]["client"] == []


def test_search_escapes_wildcards(api: Any, make_client: Any) -> None:
    make_client(email="a_b@example.com")
    make_client(email="axb@example.com")
    found = api("GetClients", search="a_").get_json()["clients"]["client"]
    assert [c["email"] for c in found] == ["a_b@example.com"]


DECIMAL_FORMAT = "Amount must be in decimal format: ### or ###.##"  # AddCredit's documented text


def test_add_credit(api: Any, make_client: Any) -> None:
    cid = make_client()
    assert api("AddCredit", clientid=cid, description="Goodwill", amount="10.50").get_json() == \
        {"result": "success", "newbalance": "10.50"}
    assert api("AddCredit", clientid=cid, description="Fix", amount="0.50", type="remove").get_json()["newbalance"] == "10.00"
    assert err(api("AddCredit", clientid=cid, description="x", amount="-5")) == DECIMAL_FORMAT
    assert err(api("AddCredit", clientid=cid, description="x", amount="10.01", type="remove")) == \
        "Insufficient Credit Balance"
    assert err(api("AddCredit", clientid=cid, description="x", amount="abc")) == DECIMAL_FORMAT
    assert err(api("AddCredit", clientid=cid, description="x", amount="1e400")) == DECIMAL_FORMAT
    assert err(api("AddCredit", clientid=cid, description="x", amount="1.005")) == DECIMAL_FORMAT
    assert err(api("AddCredit", clientid=cid, description="x", amount="0")) == "No Amount Provided"
    assert err(api("AddCredit", clientid=cid, description="x")) == "No Amount Provided"
    assert err(api("AddCredit", clientid=cid, description="x", amount="1", type="steal")) == "Type can only be add or remove"
    assert err(api("AddCredit", clientid="999", description="x", amount="1")) == "Client ID Not Found"
    assert api("GetClientsDetails", clientid=cid).get_json()["client"]["credit"] == "10.00"


def test_get_client_groups(app: Any, api: Any) -> None:
    from bridge.services import catalogue

    with session_of(app) as s, s.begin():
        catalogue.load_catalogue(s, {"groups": [{"name": "Resellers", "discount_percent": "10", "colour": "#fff",
                                                 "separate_invoices": True}]}, actor="test")
    body = api("GetClientGroups").get_json()
    GetClientGroupsResponseSchema().load(body)
    assert body["totalresults"] == 1
    assert body["groups"]["group"] == [{"id": 1, "groupname": "Resellers", "groupcolour": "#fff",
                                        "discountpercent": "10.00", "susptermexempt": "",
                                        "separateinvoices": "on"}]


def test_array_where_scalar_expected(api: Any) -> None:
    resp = api("GetClientsDetails", **{"clientid[]": "1"})
    assert err(resp) == "Client Not Found"
