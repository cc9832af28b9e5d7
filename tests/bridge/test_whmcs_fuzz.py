"""Bad input never produces a 500 or a traceback: random parameters for every action."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.api.whmcs import ACTIONS, load_actions
from bridge.services import credentials
from tests.bridge.conftest import build_app, session_of

load_actions()  # the registry fills when the blueprint registers; the strategy needs it now
PARAMS = ["clientid", "userid", "invoiceid", "email", "clientemail", "firstname", "lastname", "country",
          "currency", "groupid", "taxexempt", "status", "amount", "type", "description", "date", "duedate",
          "datepaid", "taxrate", "taxrate2", "limitstart", "limitnum", "orderby", "order", "sorting", "search",
          "transid", "gateway", "fees", "setting", "client_id", "user_id", "destination", "itemdescription1",
          "itemamount1", "itemtaxed1", "itemdescription[1]", "itemamount[1]", "itemtaxed[1]",
          "newitemdescription[]", "newitemamount[]", "deletelineids[]", "deletelineids", "publish", "draft",
          "stats", "credit", "notes", "password2", "address1", "city", "state", "postcode", "phonenumber",
          "autoapplycredit", "token", "responsetype"]
VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "2", "-1", "1.5", "abc", "NaN", "Infinity", "1e400", "9" * 30, "2026-02-30",
                     "2026-10-01", "2026-10-01 10:00:00", "Unpaid", "Paid", "Overdue", "Closed", "on", "xml",
                     "a@b.cd", "US", "remove", "SystemURL", "clientarea:home", "' OR 1=1 --", "\x00", "ü" * 5]),
    st.text(max_size=20),
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzz_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: str) -> Any:
    import shutil

    from tests.bridge.conftest import _empty_postgres

    folder = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        path = folder / "bridge.sqlite3"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        _empty_postgres(request.getfixturevalue("pg_reset_engine"))
    app = build_app(url, folder)
    with session_of(app) as s, s.begin():
        cred = credentials.create(s, "fuzz", actor="test")
    client = app.test_client()
    client.post("/includes/api.php", data={
        "action": "AddClient", "identifier": cred.identifier, "secret": cred.secret, "firstname": "A",
        "lastname": "B", "email": "a@b.cd", "address1": "x", "city": "x", "state": "x", "postcode": "1",
        "country": "US", "phonenumber": "1", "password2": "pw"})
    client.post("/includes/api.php", data={"action": "CreateInvoice", "identifier": cred.identifier,
                                           "secret": cred.secret, "userid": "1", "itemdescription1": "x",
                                           "itemamount1": "1"})
    return app, cred


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(sorted(spec.name for spec in ACTIONS.values())),
       params=st.dictionaries(st.sampled_from(PARAMS), VALUES, max_size=8))
def test_random_parameters_never_500(fuzz_app: Any, action: str, params: dict[str, str]) -> None:
    app, cred = fuzz_app
    data = {**params, "action": action, "identifier": cred.identifier, "secret": cred.secret}
    if action == "GetTokenPricing":
        data.setdefault("token", "s3cret")
    resp = app.test_client().post("/includes/api.php", data=data)
    assert resp.status_code in (200, 400, 403, 404), resp.get_data(as_text=True)
    if resp.mimetype == "application/json":
        body = resp.get_json()
        assert body.get("result") in ("success", "error") or "user_token_unit_cost" in body
        assert "Traceback" not in resp.get_data(as_text=True)
