"""WHMCS External API transport: auth, access key, IP allow-list, envelopes, unknown actions."""

from __future__ import annotations

import hashlib
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from bridge.models import AuditLog
from contracts.whmcs import ErrorEnvelopeSchema, GetCurrenciesResponseSchema
from tests.bridge.conftest import session_of

URL = "/includes/api.php"


def test_identifier_and_secret(api: Any) -> None:
    body = api("GetCurrencies").get_json()
    GetCurrenciesResponseSchema().load(body)
    assert body["result"] == "success"


def test_action_is_case_insensitive(api: Any) -> None:
    assert api("getcurrencies").get_json()["result"] == "success"
    assert api("GETCLIENTGROUPS").get_json()["result"] == "success"


@pytest.mark.parametrize("creds", [
    {"identifier": "nope", "secret": "nope"},
    {"identifier": "", "secret": ""},
    {},
    {"username": "nope", "password": hashlib.md5(b"x").hexdigest()},
])
def test_bad_credentials_are_403_authentication_failed(client: Any, cred: Any, creds: dict[str, str]) -> None:
    resp = client.post(URL, data={"action": "GetCurrencies", **creds})
    assert resp.status_code == 403
    assert resp.get_json() == {"result": "error", "message": "Authentication Failed"}
    ErrorEnvelopeSchema().load(resp.get_json())


def test_wrong_secret_for_real_identifier(client: Any, cred: Any) -> None:
    resp = client.post(URL, data={"action": "GetCurrencies", "identifier": cred.identifier, "secret": "x" + cred.secret})
    assert resp.status_code == 403


def test_legacy_username_md5_password(client: Any, cred: Any) -> None:
    md5 = hashlib.md5(cred.secret.encode()).hexdigest()
    resp = client.post(URL, data={"action": "GetCurrencies", "username": cred.identifier, "password": md5})
    assert resp.get_json()["result"] == "success"
    # the plain secret sent as password works too (WHMCS allows the pair under these names)
    resp = client.post(URL, data={"action": "GetCurrencies", "username": cred.identifier, "password": cred.secret})
    assert resp.get_json()["result"] == "success"


def test_revoked_credential_fails(app: Any, client: Any, cred: Any) -> None:
    from bridge.services import credentials

    with session_of(app) as s, s.begin():
        credentials.revoke(s, cred.identifier, actor="test")
    resp = client.post(URL, data={"action": "GetCurrencies", "identifier": cred.identifier, "secret": cred.secret})
    assert resp.status_code == 403


def test_unknown_action(api: Any, client: Any) -> None:
    resp = api("NoSuchThing")
    assert resp.status_code == 200
    assert resp.get_json() == {"result": "error", "message": "Command Not Found"}
    assert client.post(URL, data={}).get_json() == {"result": "error", "message": "Command Not Found"}


def test_ip_allow_list_and_access_key(db_url: str, tmp_path: Any) -> None:
    from bridge.services import credentials
    from tests.bridge.conftest import build_app

    app = build_app(db_url, tmp_path, API_ALLOWED_IPS="10.0.0.0/8", API_ACCESS_KEY="k3y!@#")
    with session_of(app) as s, s.begin():
        cred = credentials.create(s, "ip-test", actor="test")
    c = app.test_client()
    data = {"action": "GetCurrencies", "identifier": cred.identifier, "secret": cred.secret}
    resp = c.post(URL, data=data)  # test client comes from 127.0.0.1
    assert resp.status_code == 403
    assert resp.get_json() == {"result": "error", "message": "Invalid IP 127.0.0.1"}
    assert c.post(URL, data=data, environ_base={"REMOTE_ADDR": "10.1.2.3"}).get_json()["result"] == "success"
    assert c.post(URL, data={**data, "accesskey": "k3y!@#"}).get_json()["result"] == "success"
    assert c.post(URL, data={**data, "accesskey": "wrong"}).status_code == 403


def test_per_credential_allowed_ips(app: Any) -> None:
    from bridge.services import credentials

    with session_of(app) as s, s.begin():
        cred = credentials.create(s, "narrow", allowed_ips="192.0.2.7", actor="test")
    c = app.test_client()
    data = {"action": "GetCurrencies", "identifier": cred.identifier, "secret": cred.secret}
    assert c.post(URL, data=data).status_code == 403
    assert c.post(URL, data=data, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


def test_xml_response(api: Any) -> None:
    resp = api("GetCurrencies", responsetype="xml")
    assert resp.mimetype == "text/xml"
    root = ET.fromstring(resp.data)
    assert root.tag == "whmcsapi"
    assert root.findtext("result") == "success"
    codes = [c.findtext("code") for c in root.findall("./currencies/currency")]
    assert codes == ["USD", "EUR"]


def test_xml_error(client: Any) -> None:
    resp = client.post(URL, data={"action": "GetCurrencies", "responsetype": "xml", "identifier": "x", "secret": "y"})
    assert resp.status_code == 403
    root = ET.fromstring(resp.data)
    assert root.findtext("result") == "error"
    assert root.findtext("message") == "Authentication Failed"


def test_writes_are_audited_with_the_credential_name(app: Any, make_client: Any) -> None:
    cid = make_client()
    with session_of(app) as s:
        entry = s.query(AuditLog).filter_by(entity="client", entity_id=str(cid), action="client.create").one()
    assert entry.actor == "api:tests"


def test_unexpected_exception_is_a_whmcs_error_without_traceback(app: Any, api: Any, monkeypatch: Any) -> None:
    from bridge.api.whmcs import ACTIONS

    def boom(ctx: Any) -> dict[str, Any]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(ACTIONS["getcurrencies"], "handler", boom)
    resp = api("GetCurrencies")
    assert resp.status_code == 500
    assert resp.get_json() == {"result": "error", "message": "An unexpected error occurred"}
    assert b"secret internals" not in resp.data


def test_healthz(client: Any) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


def test_nul_characters_are_refused(app: Any, api: Any) -> None:
    from bridge.models import Client
    from tests.bridge.conftest import CLIENT

    resp = api("AddClient", **{**CLIENT, "firstname": "a\x00b"})
    assert resp.status_code == 200
    assert resp.get_json() == {"result": "error", "message": "Invalid characters in parameter firstname"}
    with session_of(app) as s:
        assert s.query(Client).count() == 0


def test_service_refuses_nul_too(app: Any) -> None:
    from bridge.errors import ValidationFailed
    from bridge.services import clients

    with session_of(app) as s, pytest.raises(ValidationFailed):
        clients.create(s, {"firstname": "a", "lastname": "b\x00", "email": "x@y.zz"}, actor="test")
