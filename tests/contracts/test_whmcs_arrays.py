"""Every documented WHMCS parameter sent as a PHP array (``name[]=x``, ``name[k]=x``) is refused
or ignored, never a 500.

Schemathesis sends each documented field as a plain value, so this walks the same contract
(``contracts.whmcs_requests.ACTIONS``) with the shapes it cannot produce. Regression: a
``destination[]`` on CreateSsoToken was a list looked up in a set (HTTP 500).
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts import whmcs_requests as req
from tests.contracts.conftest import make_bridge_app


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from bridge.services import credentials

    app, client_id = make_bridge_app(tmp_path_factory.mktemp("arrays"))
    with app.extensions["bridge_db"]["session_factory"]() as s, s.begin():
        cred = credentials.create(s, "arrays", actor="test")
    client = app.test_client()

    def call(action: str, **params: str) -> Any:
        return client.post("/includes/api.php", data={"action": action, "identifier": cred.identifier,
                                                      "secret": cred.secret, **params})

    yield call
    app.extensions["bridge_db"]["engine"].dispose()


# Values that let the action reach the parameter under test (client 1 exists).
BASE = {"clientid": "1", "client_id": "1", "userid": "1", "description": "x", "amount": "1", "transid": "t",
        "gateway": "g", "setting": "SystemURL"}
CASES = [(action, name) for action, schema in sorted(req.ACTIONS.items()) for name in schema._declared_fields
         if not schema._declared_fields[name].metadata.get("php_array")]


@pytest.mark.parametrize(("action", "name"), CASES, ids=[f"{a}-{n}" for a, n in CASES])
def test_a_scalar_parameter_sent_as_an_array_is_no_500(api: Any, action: str, name: str) -> None:
    base = {k: v for k, v in BASE.items() if k in req.ACTIONS[action]._declared_fields and k != name}
    if action == "CreateSsoToken" and name != "destination":
        base["destination"] = "sso:custom_redirect"  # so sso_redirect_path is read too
    for shape in (f"{name}[]", f"{name}[a]"):
        resp = api(action, **{**base, shape: "clientarea:home"})
        assert resp.status_code == 200, (action, shape, resp.get_data(as_text=True))
        assert resp.get_json()["result"] in ("success", "error")


def test_create_sso_token_refuses_a_destination_array(api: Any) -> None:
    for shape in ("destination[]", "destination[0]"):
        body = api("CreateSsoToken", client_id="1", **{shape: "clientarea:home"}).get_json()
        assert body == {"result": "error", "message": "Invalid destination"}
