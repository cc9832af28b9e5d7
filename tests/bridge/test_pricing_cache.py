"""Answers kept per thread while the database is unchanged (``PRAGMA data_version``) are
never stale: any change made by another worker or by this one is priced at once."""

from __future__ import annotations

from typing import Any

from bridge.db import make_engine
from bridge.flask_glue import settings_of
from bridge.services import catalogue, clients
from bridge.services.unit_of_work import make_session_factory
from tests.bridge.test_pricing_api import load, price


def change_elsewhere(app: Any, cid: int, change: dict[str, Any]) -> None:
    """Change the client through an engine of its own, as another worker or process would."""
    engine = make_engine(settings_of(app).database_url)
    try:
        with make_session_factory(engine)() as s, s.begin():
            clients.update(s, clients.get(s, cid), change, actor="test")
    finally:
        engine.dispose()


def twice(client: Any, cid: int) -> Any:
    """Price twice (the second answer comes from the kept ones) and return the answer."""
    first = price(client, cid)
    second = price(client, cid)
    assert first.status_code == second.status_code
    assert first.get_data() == second.get_data()
    return first


def test_every_pricing_input_changed_by_another_worker_is_seen_at_once(app: Any, client: Any,
                                                                      make_client: Any) -> None:
    load(app, {"groups": [{"name": "Resellers", "discount_percent": "5"}],
               "tax_rules": [{"level": 1, "name": "VAT", "country": "DE", "rate": "19"}],
               "settings": {"TaxEnabled": True}})
    cid = make_client(country="US")
    seen = [twice(client, cid).get_json()]
    for change in ({"currency": 2}, {"groupid": 1}, {"country": "DE"}, {"taxexempt": True}):
        change_elsewhere(app, cid, change)
        now = twice(client, cid).get_json()
        assert now != seen[-1], change
        seen.append(now)
    change_elsewhere(app, cid, {"status": "Closed"})
    assert twice(client, cid).status_code == 404


def test_a_catalogue_change_by_another_worker_is_seen_at_once(app: Any, client: Any, make_client: Any) -> None:
    cid = make_client()
    assert twice(client, cid).get_json()["base_token_unit_cost"] == 0.001
    engine = make_engine(settings_of(app).database_url)
    with make_session_factory(engine)() as s, s.begin():
        catalogue.load_catalogue(s, {"currencies": [{"code": "USD", "token_price": "0.003", "default": True}]},
                                 actor="test")
    engine.dispose()
    assert twice(client, cid).get_json()["base_token_unit_cost"] == 0.003


def test_a_change_through_this_app_is_seen_at_once(client: Any, make_client: Any, api: Any) -> None:
    cid = make_client()
    assert twice(client, cid).get_json()["currency"]["code"] == "USD"
    resp = api("UpdateClient", clientid=cid, currency="2")
    assert resp.get_json()["result"] == "success"
    assert twice(client, cid).get_json()["currency"]["code"] == "EUR"
