"""System actions: GetConfigurationValue, WhmcsDetails, CreateSsoToken, GetCurrencies."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from bridge.errors import AuthFailed
from bridge.services import sso_tokens
from tests.bridge.conftest import err, session_of


def test_get_currencies_strings(api: Any) -> None:
    body = api("GetCurrencies").get_json()
    assert body["totalresults"] == "2"
    assert body["currencies"]["currency"][0] == {"id": "1", "code": "USD", "prefix": "$", "suffix": " USD",
                                                 "format": "2", "rate": "1.00000"}
    assert body["currencies"]["currency"][1]["rate"] == "0.91000"


def test_get_configuration_value(api: Any) -> None:
    assert api("GetConfigurationValue", setting="SystemURL").get_json() == \
        {"result": "success", "setting": "SystemURL", "value": "https://billing.test"}
    assert api("GetConfigurationValue", setting="TaxType").get_json()["value"] == "Exclusive"
    assert err(api("GetConfigurationValue")) == "Parameter setting is required"
    assert err(api("GetConfigurationValue", setting="DBPassword")) == "Invalid name for parameter setting"


def test_whmcs_details(api: Any) -> None:
    body = api("WhmcsDetails").get_json()
    assert body["result"] == "success" and body["whmcs"]["version"] == "8.13.1"


def test_create_sso_token(app: Any, api: Any, make_client: Any) -> None:
    cid = make_client()
    body = api("CreateSsoToken", client_id=cid, destination="clientarea:invoices").get_json()
    assert body["result"] == "success"
    url = urlparse(body["redirect_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://billing.test/oauth/singlesignon.php"
    token = parse_qs(url.query)["access_token"][0]
    assert token == body["access_token"]
    with session_of(app) as s, s.begin():
        grant = sso_tokens.consume(s, "test-secret", token)
    assert (grant.client_id, grant.destination) == (cid, "clientarea:invoices")
    with session_of(app) as s, s.begin(), pytest.raises(AuthFailed):
        sso_tokens.consume(s, "test-secret", token)  # single use


def test_sso_token_expires(app: Any) -> None:
    token = sso_tokens.issue("test-secret", 1, "clientarea:home")
    with session_of(app) as s, pytest.raises(AuthFailed):
        sso_tokens.consume(s, "test-secret", token, max_age=-1)
    with session_of(app) as s, pytest.raises(AuthFailed):
        sso_tokens.consume(s, "other-secret", token)


def test_create_sso_token_errors(api: Any, make_client: Any) -> None:
    cid = make_client()
    assert err(api("CreateSsoToken")) == "A valid client_id or user_id is required"
    assert err(api("CreateSsoToken", client_id="999")) == "Invalid client_id"
    assert err(api("CreateSsoToken", client_id="x")) == "Invalid client_id"
    assert err(api("CreateSsoToken", user_id="999")) == "Invalid user_id"
    assert err(api("CreateSsoToken", client_id=cid, user_id=cid + 1)) == "Invalid user_id for client"
    assert err(api("CreateSsoToken", client_id=cid, destination="nowhere")) == "Invalid destination"
    api("CloseClient", clientid=cid)
    assert err(api("CreateSsoToken", client_id=cid)) == f"SSO authentication blocked for client {cid}"
