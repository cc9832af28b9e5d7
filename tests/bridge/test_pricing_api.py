"""GetTokenPricing over HTTP: seed 001 step 6 shape, exact numbers, errors, one query."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError
from sqlalchemy import event

from bridge.flask_glue import settings_of
from bridge.services import catalogue
from contracts.billing import TokenPricingResponseSchema
from tests.bridge.conftest import session_of

URL = "/modules/addons/solusio/api/"


def load(app: Any, doc: dict[str, Any]) -> None:
    with session_of(app) as s, s.begin():
        catalogue.load_catalogue(s, doc, actor="test")


def price(client: Any, userid: Any, token: str | None = "s3cret", url: str = URL) -> Any:
    data = {"action": "GetTokenPricing", "userid": userid}
    if token is not None:
        data["token"] = token
    return client.post(url, data=data)


def test_default_catalogue_usd_client(client: Any, make_client: Any) -> None:
    cid = make_client()
    resp = price(client, cid)
    assert resp.status_code == 200
    raw = resp.get_data(as_text=True)
    body = json.loads(raw, parse_float=Decimal)
    TokenPricingResponseSchema().load(body)  # the shared contract accepts it
    assert body["base_token_unit_cost"] == Decimal("0.001")
    assert body["user_token_unit_cost"] == Decimal("0.001")
    assert '"base_token_unit_cost":0.001' in raw  # a JSON number, not a string
    assert body["currency"] == {"code": "USD", "display_prefix": "$", "display_suffix": " USD",
                                "thousands_separator": ",", "decimals_separator": ".", "decimals": 2}
    assert body["discounts"] == []
    assert body["taxes"] == {"compound": False, "rates": []}
    assert body["taxes_inclusive"] is False


def test_eur_client_exact_digits(client: Any, make_client: Any) -> None:
    cid = make_client(currency="2")
    raw = price(client, cid).get_data(as_text=True)
    assert '"base_token_unit_cost":0.00091' in raw
    assert '"user_token_unit_cost":0.00091' in raw
    assert json.loads(raw)["currency"]["code"] == "EUR"


def test_compound_example_1_0812(app: Any, client: Any, make_client: Any) -> None:
    load(app, {
        "currencies": [{"code": "GBP", "prefix": "£", "suffix": " GBP", "format": 2, "token_price": "1"}],
        "tax_rules": [{"level": 1, "name": "City Tax", "country": "GB", "rate": "6"},
                      {"level": 2, "name": "State Tax", "country": "GB", "rate": "2"}],
        "settings": {"TaxEnabled": True, "TaxL2Compound": True},
    })
    cid = make_client(currency="3", country="GB")
    resp = price(client, cid)
    raw = resp.get_data(as_text=True)
    assert '"user_token_unit_cost":1.0812' in raw
    body = resp.get_json()
    assert body["taxes"] == {"compound": True, "rates": [{"label": "City Tax", "rate": 6},
                                                         {"label": "State Tax", "rate": 2}]}


def test_group_discount_and_non_compound_tax(app: Any, client: Any, make_client: Any) -> None:
    load(app, {"groups": [{"name": "Special Client Group Discount", "discount_percent": "5"}],
               "tax_rules": [{"level": 1, "name": "VAT", "country": "", "rate": "10"},
                             {"level": 2, "name": "Extra", "country": "", "rate": "5"}],
               "settings": {"TaxEnabled": True}})
    cid = make_client(groupid="1")
    body = json.loads(price(client, cid).get_data(as_text=True), parse_float=Decimal)
    assert body["discounts"] == [{"name": "Special Client Group Discount", "description": "5% Recurring Discount",
                                  "multipler": Decimal("0.95"), "multiplier": Decimal("0.95")}]
    # 0.001 × 0.95 × (1 + 0.10 + 0.05)
    assert body["user_token_unit_cost"] == Decimal("0.00109250")
    assert body["taxes"]["compound"] is False


def test_tax_exempt_client_has_no_rates(app: Any, client: Any, make_client: Any) -> None:
    load(app, {"tax_rules": [{"level": 1, "name": "VAT", "rate": "20"}], "settings": {"TaxEnabled": True}})
    exempt = make_client(taxexempt="1")
    taxed = make_client()
    assert price(client, exempt).get_json()["taxes"]["rates"] == []
    assert price(client, taxed).get_json()["taxes"]["rates"] == [{"label": "VAT", "rate": 20}]


def test_most_specific_rule_wins(app: Any, client: Any, make_client: Any) -> None:
    load(app, {"tax_rules": [{"level": 1, "name": "Any", "rate": "1"},
                             {"level": 1, "name": "US", "country": "US", "rate": "2"},
                             {"level": 1, "name": "US-IL", "country": "US", "state": "IL", "rate": "3"}],
               "settings": {"TaxEnabled": True}})
    il = make_client(state="IL")
    ny = make_client(state="NY")
    de = make_client(country="DE")
    assert price(client, il).get_json()["taxes"]["rates"] == [{"label": "US-IL", "rate": 3}]
    assert price(client, ny).get_json()["taxes"]["rates"] == [{"label": "US", "rate": 2}]
    assert price(client, de).get_json()["taxes"]["rates"] == [{"label": "Any", "rate": 1}]


def test_inclusive_mode_lists_rates_but_does_not_add_them(app: Any, client: Any, make_client: Any) -> None:
    load(app, {"tax_rules": [{"level": 1, "name": "VAT", "rate": "20"}],
               "settings": {"TaxEnabled": True, "TaxType": "Inclusive"}})
    body = json.loads(price(client, make_client()).get_data(as_text=True), parse_float=Decimal)
    assert body["user_token_unit_cost"] == Decimal("0.001")
    assert body["taxes"]["rates"] == [{"label": "VAT", "rate": 20}]
    assert body["taxes_inclusive"] is True


def test_also_served_on_includes_api_php(client: Any, make_client: Any) -> None:
    cid = make_client()
    resp = price(client, cid, url="/includes/api.php")
    assert resp.status_code == 200
    assert resp.get_json()["user_token_unit_cost"] == 0.001
    assert price(client, cid, token="nope", url="/includes/api.php").status_code == 403
    assert price(client, 9999, url="/includes/api.php").status_code == 404


@pytest.mark.parametrize("userid", ["", "abc", "1.5", "-3", "0"])
def test_bad_userid_is_400(client: Any, userid: str) -> None:
    resp = price(client, userid)
    assert resp.status_code == 400
    assert resp.get_json() == {"result": "error", "message": "A valid userid is required"}


def test_missing_userid_is_400(client: Any) -> None:
    resp = client.post(URL, data={"action": "GetTokenPricing", "token": "s3cret"})
    assert resp.status_code == 400
    assert resp.get_json()["result"] == "error"


def test_wrong_action_is_400(client: Any) -> None:
    resp = client.post(URL, data={"action": "GetClients", "token": "s3cret", "userid": "1"})
    assert resp.status_code == 400


@pytest.mark.parametrize("token", [None, "", "wrong", "s3cret "])
def test_bad_token_is_403(client: Any, make_client: Any, token: str | None) -> None:
    cid = make_client()
    resp = price(client, cid, token=token)
    assert resp.status_code == 403
    assert resp.get_json() == {"result": "error", "message": "Invalid token"}


def test_no_token_configured_means_open(db_url: str, tmp_path: Any) -> None:
    from tests.bridge.conftest import build_app

    app = build_app(db_url, tmp_path, PRICING_TOKEN="")
    with session_of(app) as s, s.begin():
        from bridge.services import clients

        c = clients.create(s, {"firstname": "a", "lastname": "b", "email": "a@b.cd"}, actor="test")
    assert price(app.test_client(), c.id, token=None).status_code == 200


def test_unknown_and_closed_clients_are_404(client: Any, api: Any, make_client: Any) -> None:
    assert price(client, 424242).status_code == 404
    assert price(client, "9" * 30).status_code == 404  # beyond any INTEGER column: not a 500
    cid = make_client()
    assert api("CloseClient", clientid=cid).get_json()["result"] == "success"
    resp = price(client, cid)
    assert resp.status_code == 404
    assert resp.get_json() == {"result": "error", "message": "Client Not Found"}


def test_currency_without_price_is_an_error_not_zero(app: Any, client: Any, make_client: Any) -> None:
    load(app, {"currencies": [{"code": "JPY", "prefix": "¥", "format": 4, "decimals": 0}]})
    cid = make_client(currency="3")
    resp = price(client, cid)
    assert resp.status_code == 500
    body = resp.get_json()
    assert body["result"] == "error" and "JPY" in body["message"]
    assert "user_token_unit_cost" not in body


class _CountingCursor:
    def __init__(self, cursor: Any, log: list[str]) -> None:
        self._cursor, self._log = cursor, log

    def execute(self, sql: str, *args: Any) -> Any:
        self._log.append(sql)
        return self._cursor.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _CountingConnection:
    """A pool connection whose statements are logged, through its cursors or (the SQLite hot
    path) straight on its DBAPI connection."""

    def __init__(self, conn: Any, log: list[str]) -> None:
        self._conn, self._log = conn, log

    def cursor(self, *args: Any) -> _CountingCursor:
        return _CountingCursor(self._conn.cursor(*args), self._log)

    def execute(self, sql: str, *args: Any) -> Any:
        self._log.append(sql)
        return self._conn.execute(sql, *args)

    @property
    def dbapi_connection(self) -> Any:
        return _CountingConnection(self._conn.dbapi_connection, self._log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_one_read_per_request_and_a_repeated_client_costs_only_the_version(
        app: Any, client: Any, make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = make_client()
    other = make_client(currency="2")
    assert price(client, cid).status_code == 200  # warm the catalogue cache
    statements: list[str] = []
    engine = app.extensions["bridge_db"]["engine"]

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "ROLLBACK", "COMMIT")):
            statements.append(statement)

    # Count both what goes through SQLAlchemy and what runs on raw DBAPI connections (the hot
    # path keeps one per thread on SQLite: released here so that it is taken through the counter).
    from bridge.services.pricing import release_connections

    release_connections()
    real_raw = engine.raw_connection
    monkeypatch.setattr(engine, "raw_connection", lambda: _CountingConnection(real_raw(), statements))
    event.listen(engine, "before_cursor_execute", count)
    try:
        for uid in (cid, other, cid):
            assert price(client, uid).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    rows = [s for s in statements if "FROM clients" in s and "WHERE clients.id" in s]
    versions = [s for s in statements if s == "PRAGMA data_version"]
    if engine.dialect.name == "sqlite":
        # The third request repeats the first client with nothing written in between.
        assert (len(rows), len(versions), len(statements)) == (2, 3, 5), statements
    else:
        assert (len(rows), len(statements)) == (3, 3), statements


def test_service_token_pricing_in_a_session(app: Any, make_client: Any) -> None:
    """The session variant (for other services) gives the same answer as the endpoint."""
    from bridge.services.pricing import token_pricing, token_pricing_fast

    cid = make_client(currency="2")
    with session_of(app) as s:
        slow = token_pricing(s, cid)
    fast = token_pricing_fast(app.extensions["bridge_db"]["engine"], cid)
    assert slow == fast
    assert fast.base_token_unit_cost == Decimal("0.00091")


def test_catalogue_change_is_seen_on_the_next_request(app: Any, client: Any, make_client: Any) -> None:
    cid = make_client()
    assert price(client, cid).get_json()["base_token_unit_cost"] == 0.001
    # Another process changes the catalogue through its own engine (as another worker would).
    from bridge.db import make_engine
    from bridge.services.unit_of_work import make_session_factory

    other_engine = make_engine(settings_of(app).database_url)
    with make_session_factory(other_engine)() as s, s.begin():
        catalogue.load_catalogue(s, {"currencies": [{"code": "USD", "token_price": "0.002", "default": True}]},
                                 actor="test")
    other_engine.dispose()
    assert price(client, cid).get_json()["base_token_unit_cost"] == 0.002


def test_any_orm_change_to_the_catalogue_invalidates_the_cache(app: Any, client: Any, make_client: Any) -> None:
    """Code that edits a group directly (no explicit bump) is still seen on the next request."""
    from bridge.models import Client, ClientGroup, TokenPrice

    load(app, {"groups": [{"name": "G", "discount_percent": "10"}]})
    cid = make_client(groupid="1")
    assert price(client, cid).get_json()["discounts"][0]["multipler"] == 0.9
    with session_of(app) as s, s.begin():
        s.get(ClientGroup, 1).discount_percent = Decimal("20")
    assert price(client, cid).get_json()["discounts"][0]["multipler"] == 0.8
    with session_of(app) as s, s.begin():
        s.query(TokenPrice).filter_by(currency_id=1).one().price_per_token = Decimal("0.003")
    assert price(client, cid).get_json()["base_token_unit_cost"] == 0.003
    # a client change is not a catalogue change: the version stays put
    with session_of(app) as s:
        before = catalogue.get_setting(s, catalogue.VERSION_KEY)
    with session_of(app) as s, s.begin():
        s.get(Client, cid).firstname = "Changed"
    with session_of(app) as s:
        assert catalogue.get_setting(s, catalogue.VERSION_KEY) == before


def test_taxes_inclusive_is_part_of_the_response_schema(client: Any, make_client: Any) -> None:
    # Written by the schema's dump (not added after it); optional when loading other billing systems.
    body = price(client, make_client()).get_json()
    assert list(body)[-1] == "taxes_inclusive"
    assert "taxes_inclusive" in TokenPricingResponseSchema().dump(body)
    assert TokenPricingResponseSchema().load(body)["taxes_inclusive"] is False
    without = {k: v for k, v in body.items() if k != "taxes_inclusive"}
    assert "taxes_inclusive" not in TokenPricingResponseSchema().load(without)
    with pytest.raises(ValidationError):
        TokenPricingResponseSchema().load({**body, "taxes_inclusive": "yes"})
