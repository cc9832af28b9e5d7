"""Requests as WHMCS reads them, and as the WHMCS client libraries on PyPI send them.

- whmcs-api-client: ``POST /includes/api.php?action=GetClients`` with only the credentials
  (as ``username``/``password``) and the parameters in the form.
- whmcspy: every call is a form with ``identifier``/``secret``; Python booleans arrive as
  ``True``; its pager adds ``numreturned`` to ``limitstart`` until it is 0 (so it must be an int).
- integrations send ``limitnum=999999`` to get everything.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.bridge.conftest import build_app, err, ok, session_of

URL = "/includes/api.php"


def test_action_in_the_query_string_credentials_in_the_form(client: Any, cred: Any, make_client: Any) -> None:
    cid = make_client()
    resp = client.post(f"{URL}?action=GetClients", data={"username": cred.identifier, "password": cred.secret,
                                                          "responsetype": "json", "limitnum": "10"})
    body = ok(resp)
    assert [c["id"] for c in body["clients"]["client"]] == [cid]


def test_form_wins_over_the_query_string(client: Any, cred: Any) -> None:
    resp = client.post(f"{URL}?action=GetClients&responsetype=xml",
                       data={"action": "GetCurrencies", "identifier": cred.identifier, "secret": cred.secret,
                             "responsetype": "json"})
    assert "currencies" in ok(resp)


def test_query_string_parameters_reach_the_action(client: Any, cred: Any, make_client: Any) -> None:
    cid = make_client()
    resp = client.post(f"{URL}?action=GetClientsDetails&clientid={cid}&stats=1",
                       data={"identifier": cred.identifier, "secret": cred.secret})
    assert ok(resp)["client"]["id"] == cid and "stats" in ok(resp)


@pytest.mark.parametrize("value", ["True", "TRUE", "true", "1", "on", "ON", "yes", "Yes"])
def test_php_booleans_true_in_any_case(api: Any, make_client: Any, value: str) -> None:
    cid = make_client()
    assert "stats" in ok(api("GetClientsDetails", clientid=cid, stats=value))


@pytest.mark.parametrize("value", ["False", "FALSE", "0", "off", "no", ""])
def test_php_booleans_false_in_any_case(api: Any, make_client: Any, value: str) -> None:
    cid = make_client()
    assert "stats" not in ok(api("GetClientsDetails", clientid=cid, stats=value))


def test_python_requests_bool_is_read_as_php_does(api: Any, make_client: Any) -> None:
    cid = make_client()
    # requests (and Werkzeug's test client) send Python's True as "True"
    assert "stats" in ok(api("GetClientsDetails", clientid=cid, stats=True))


def test_limitnum_above_the_maximum_is_clamped(api: Any, make_client: Any) -> None:
    ids = [make_client() for _ in range(3)]
    for huge in ("999999", "1001", "99999999999999999999"):
        body = ok(api("GetClients", limitnum=huge))
        assert body["numreturned"] == 3 and [c["id"] for c in body["clients"]["client"]] == ids
    assert ok(api("GetInvoices", limitnum="999999"))["numreturned"] == 0
    assert err(api("GetClients", limitnum="0")) == "Invalid limitnum"
    assert err(api("GetClients", limitnum="abc")) == "Invalid limitnum"


def test_whmcspy_style_pager_walks_every_page(api: Any, make_client: Any) -> None:
    ids = [make_client() for _ in range(7)]
    seen: list[int] = []
    limitstart = 0
    while True:  # whmcspy's paginated_call, word for word in behaviour
        response = ok(api("GetClients", limitstart=limitstart, limitnum=3))
        if not response["numreturned"]:
            break
        limitstart += response["numreturned"]
        seen += [c["id"] for c in response["clients"]["client"]]
    assert seen == ids


@pytest.mark.parametrize("bad", ["\u0661", "\uff11", "+1", " 1 ", "1_0", "0x1", "1.0", "1e0", "", "-1"])
def test_ids_are_ascii_decimal_only(api: Any, make_client: Any, bad: str) -> None:
    for _ in range(10):
        make_client()  # client 10 exists, so "1_0" read as 10 would find it
    assert err(api("GetClientsDetails", clientid=bad)) in ("Client Not Found", "Either clientid Or email Is Required")
    assert err(api("GetInvoice", invoiceid=bad)) == "Invoice ID Not Found"
    assert err(api("UpdateClient", clientid=bad, firstname="x")) == "Client ID Not Found"


@pytest.mark.parametrize("name", ["getclients", "GETCLIENTS", "GetClients", "gEtClIeNtS"])
def test_action_name_in_any_case(api: Any, name: str) -> None:
    assert ok(api(name))["numreturned"] == 0


PRICING_FAULTS = [
    ({"token": "s3cret", "userid": "abc"}, 400),
    ({"token": "s3cret"}, 400),
    ({"token": "wrong", "userid": "1"}, 403),
    ({"userid": "1"}, 403),
    ({"token": "s3cret", "userid": "999"}, 404),
    ({"token": "s3cret", "userid": "1"}, 200),
]


@pytest.mark.parametrize("fields,status", PRICING_FAULTS)
@pytest.mark.parametrize("action", ["GetTokenPricing", "gettokenpricing", "GETTOKENPRICING"])
def test_get_token_pricing_same_statuses_on_both_urls(client: Any, make_client: Any, fields: dict[str, str],
                                                     status: int, action: str) -> None:
    make_client()
    addon = client.post("/modules/addons/solusio/api/", data={"action": "GetTokenPricing", **fields})
    whmcs = client.post(URL, data={"action": action, **fields})
    assert addon.status_code == status
    assert (whmcs.status_code, whmcs.get_json()) == (addon.status_code, addon.get_json())


def test_get_token_pricing_action_in_the_query_string(client: Any, make_client: Any) -> None:
    cid = make_client()
    resp = client.post(f"{URL}?action=gettokenpricing", data={"token": "s3cret", "userid": str(cid)})
    assert resp.status_code == 200 and "user_token_unit_cost" in resp.get_json()


def _xml_error(resp: Any) -> tuple[int, str | None, str | None]:
    assert resp.mimetype == "text/xml", resp.get_data(as_text=True)
    root = ET.fromstring(resp.data)
    return resp.status_code, root.findtext("result"), root.findtext("message")


def test_xml_on_every_error(client: Any, cred: Any) -> None:
    auth = {"identifier": cred.identifier, "secret": cred.secret, "responsetype": "xml"}
    assert _xml_error(client.post(URL, data={"action": "Nope", **auth})) == (200, "error", "Command Not Found")
    assert _xml_error(client.post(URL, data={"action": "GetClients", "identifier": "x", "secret": "y",
                                             "responsetype": "XML"})) == (403, "error", "Authentication Failed")
    assert _xml_error(client.post(URL, data={"action": "GetInvoice", "invoiceid": "x", **auth})) == \
        (200, "error", "Invoice ID Not Found")
    # parse errors: a control character, a malformed PHP array
    status, result, message = _xml_error(client.post(URL, data={"action": "GetClients", "search": "a\x01", **auth}))
    assert (status, result) == (200, "error") and message and message.startswith("Invalid characters")
    assert _xml_error(client.post(URL, data={"action": "UpdateInvoice", "deletelineids[]": "1",
                                             "deletelineids[a]": "2", **auth}))[1] == "error"
    # responsetype in the query string counts too
    assert _xml_error(client.post(f"{URL}?responsetype=xml", data={"action": "Nope"})) == \
        (200, "error", "Command Not Found")


def test_get_clients_search_matches_a_full_name_prefix(api: Any, make_client: Any) -> None:
    ann = make_client(firstname="Ann", lastname="Lee")
    make_client(firstname="Ann", lastname="Moss")
    make_client(firstname="Bob", lastname="Leeds")
    assert [c["id"] for c in ok(api("GetClients", search="ann l"))["clients"]["client"]] == [ann]
    assert [c["id"] for c in ok(api("GetClients", search="Ann Lee"))["clients"]["client"]] == [ann]
    assert ok(api("GetClients", search="nn Lee"))["numreturned"] == 0  # a prefix, not a substring


def test_add_client_with_owner_user_id(api: Any, make_client: Any) -> None:
    owner = make_client()
    from tests.bridge.conftest import CLIENT

    data = {k: v for k, v in CLIENT.items() if k != "password2"}
    body = ok(api("AddClient", **{**data, "email": "second@example.com", "owner_user_id": owner}))
    assert body["owner_id"] == str(owner)
    details = ok(api("GetClientsDetails", clientid=body["clientid"]))["client"]
    assert details["owner_user_id"] == owner and details["users"]["user"][0]["id"] == owner
    assert err(api("AddClient", **{**data, "email": "third@example.com", "owner_user_id": "999"})) == \
        "Invalid Owner User ID"
    assert err(api("AddClient", **{**data, "email": "third@example.com", "owner_user_id": "x"})) == \
        "Invalid Owner User ID"
    assert err(api("AddClient", **{**data, "email": "third@example.com"})) == "You did not enter a password"


def test_failed_authentication_is_throttled_per_address(db_url: str, tmp_path: Any) -> None:
    from bridge.services import credentials

    app = build_app(db_url, tmp_path, RATE_LIMIT_WHMCS_AUTH="3/600")
    try:
        with session_of(app) as s, s.begin():
            cred = credentials.create(s, "throttle", actor="test")
        c = app.test_client()
        good = {"action": "GetCurrencies", "identifier": cred.identifier, "secret": cred.secret}
        bad = {**good, "secret": "wrong"}
        attacker = {"REMOTE_ADDR": "203.0.113.9"}
        assert ok(c.post(URL, data=good, environ_base=attacker))["result"] == "success"  # successes do not count
        for _ in range(3):
            assert c.post(URL, data=bad, environ_base=attacker).status_code == 403
        blocked = c.post(URL, data=good, environ_base=attacker)  # even the right secret: nothing to learn
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
        assert blocked.get_json()["result"] == "error"
        xml = c.post(URL, data={**good, "responsetype": "xml"}, environ_base=attacker)
        assert (xml.status_code, ET.fromstring(xml.data).findtext("result")) == (429, "error")
        # another address is not affected
        assert ok(c.post(URL, data=good, environ_base={"REMOTE_ADDR": "198.51.100.7"}))["result"] == "success"
    finally:
        app.extensions["bridge_db"]["engine"].dispose()


@pytest.mark.parametrize("bad", ["\u0661\u0662", "1_0", "1e1", "\uff11", "0x10", "1,5"])
def test_amounts_are_ascii_decimals_only(api: Any, make_client: Any, bad: str) -> None:
    cid = make_client()
    assert err(api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1=bad)) == "Invalid amount for item 1"
    assert err(api("AddCredit", clientid=cid, description="x", amount=bad)) == \
        "Amount must be in decimal format: ### or ###.##"
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="5"))["invoiceid"]
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="t", gateway="g", amount=bad)) == \
        "Amount must be in decimal format: ### or ###.##"
    assert ok(api("GetInvoice", invoiceid=iid))["transactions"] == ""


def test_line_numbers_and_line_ids_are_ascii(api: Any, make_client: Any) -> None:
    cid = make_client()
    assert err(api("CreateInvoice", userid=cid, **{"itemdescription[\u0661]": "x"})) == \
        "Malformed array parameter itemdescription"
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="x", itemamount1="5"))["invoiceid"]
    assert err(api("UpdateInvoice", invoiceid=iid, **{"deletelineids[]": "\u0661"})) == \
        "Malformed array parameter deletelineids"


@pytest.mark.parametrize("bad", ["\u0661", "+1", " 1 ", "1_0"])
def test_get_token_pricing_userid_is_ascii_on_both_urls(client: Any, make_client: Any, bad: str) -> None:
    for _ in range(10):
        make_client()
    for url in ("/modules/addons/solusio/api/", URL):
        resp = client.post(url, data={"action": "GetTokenPricing", "token": "s3cret", "userid": bad})
        assert (resp.status_code, resp.get_json()["message"]) == (400, "A valid userid is required")


def test_get_token_pricing_action_any_case_on_the_addon_url(client: Any, make_client: Any) -> None:
    cid = make_client()
    resp = client.post("/modules/addons/solusio/api/", data={"action": "gettokenpricing", "token": "s3cret",
                                                             "userid": str(cid)})
    assert resp.status_code == 200 and "user_token_unit_cost" in resp.get_json()
