"""Plan prices from the billing integration (GetTokenPricing), in-process and against a live billing stub."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests
import responses
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mock_solusvm.inprocess import mock_solusvm
from mock_solusvm.pricing import BillingUnavailable, fetch_pricing, plan_price

from .conftest import ADMIN, seed_doc

BILLING = "http://billing.test/modules/addons/solusio/api/"
PRICING = {
    "base_token_unit_cost": 1, "user_token_unit_cost": 1.0812,
    "currency": {"code": "GBP", "display_prefix": "£", "display_suffix": "", "thousands_separator": ",",
                 "decimals_separator": ".", "decimals": 2},
    "discounts": [], "taxes": {"compound": True, "rates": [{"label": "VAT", "rate": 6}, {"label": "L2", "rate": 2}]},
}


def integration(url: str, kind: str = "custom") -> dict:
    return {"billing_integration": {"type": kind, "drivers": {kind: {"url": url, "token": "s3cret"}}}}


@pytest.fixture
def m():
    with mock_solusvm(base_url="https://solus.test", api_token=ADMIN, config={"VALIDATE_RESPONSES": True},
                      seed=seed_doc(settings=integration(BILLING))) as handle:
        yield handle


def get(path, **params):
    return requests.get(f"https://solus.test/api/v1{path}", params=params,
                        headers={"Authorization": f"Bearer {ADMIN}"}, timeout=5)


def test_plan_price_for_a_user_posts_get_token_pricing(m):
    call = m.responses.post(BILLING, json=PRICING)
    plan = get("/plans/1", user_id=1).json()["data"]
    assert plan["price"]["per_hour"] == "7.57"  # 7 × 1.0812 = 7.5684
    assert plan["price"]["per_month"] == "5406.00" and plan["price"]["currency_code"] == "GBP"
    assert plan["price"]["additional_ips_per_month"] == "540.60" and plan["price_error"] is None
    sent = call.calls[0].request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.body) == {"token": ["s3cret"], "action": ["GetTokenPricing"], "userid": ["1"]}


def test_user_token_prices_for_itself_and_one_call_per_request(m):
    call = m.responses.post(BILLING, json=PRICING)
    tok = requests.post("https://solus.test/api/v1/users/2/tokens", json={},
                        headers={"Authorization": f"Bearer {ADMIN}"}).json()["data"]["access_token"]
    plans = requests.get("https://solus.test/api/v1/plans", headers={"Authorization": f"Bearer {tok}"}).json()
    assert [p["price"]["per_hour"] for p in plans["data"]] == ["7.57", "3.24", "0.00"]
    assert len(call.calls) == 1 and parse_qs(call.calls[0].request.body)["userid"] == ["2"]


@pytest.mark.parametrize("reply", [
    {"status": 500, "json": {"result": "error", "message": "boom"}},
    {"status": 200, "body": "<html>not json</html>"},
    {"status": 200, "json": {"result": "error", "message": "Client not found"}},
    {"status": 200, "json": {**PRICING, "user_token_unit_cost": "1.08"}},
    {"status": 200, "json": [1, 2]},
    {"status": 200, "body": requests.exceptions.ConnectTimeout("slow")},
])
def test_billing_failure_gives_null_price_and_a_reason(m, reply):
    m.responses.post(BILLING, **reply)
    plan = get("/plans/1", user_id=1).json()["data"]
    assert plan["price"] is None and plan["price_error"].startswith("Billing integration failed")


def test_no_user_context_or_no_integration_means_null_price_without_error(m):
    plan = get("/plans/1").json()["data"]
    assert plan["price"] is None and plan["price_error"] is None
    assert not [c for c in m.responses.calls if c.request.url.startswith(BILLING)]  # nobody to price for
    assert get("/plans/1", user_id=99).status_code == 422


def test_user_without_billing_id_gets_a_reason(m):
    requests.put("https://solus.test/api/v1/users/1", json={"billing_user_id": None},
                 headers={"Authorization": f"Bearer {ADMIN}"})
    plan = get("/plans/1", user_id=1).json()["data"]
    assert plan["price"] is None and "billing_user_id" in plan["price_error"]


def test_user_area_shows_prices_or_the_billing_error(m):
    m.responses.post(BILLING, json=PRICING)
    hdr = {"Authorization": f"Bearer {ADMIN}"}
    requests.post("https://solus.test/api/v1/servers", json={"name": "web-1", "plan": 1, "user": 1}, headers=hdr)
    tok = requests.post("https://solus.test/api/v1/users/1/tokens", json={"is_one_time": True},
                        headers=hdr).json()["data"]["access_token"]
    b = requests.Session()
    b.get("https://solus.test/auth/by_token", params={"token": tok})
    assert "7.57 GBP" in b.get("https://solus.test/").text
    m.responses.replace(responses.POST, BILLING, status=503, json={})
    assert "Price unavailable" in b.get("https://solus.test/").text


def test_unit_price_rounding_uses_currency_decimals():
    from mock_solusvm.pricing import UserPricing

    jpy = UserPricing(Decimal("0.155"), "JPY", 0, [])
    price = plan_price({"tokens_per_hour": 7, "tokens_per_month": 0, "ip_tokens_per_hour": 1,
                        "ip_tokens_per_month": 0}, jpy)
    assert price["per_hour"] == "1" and price["per_month"] == "792"  # hourly only: 730 h × 7 × 0.155


def _billing_stub(answer):
    seen = []

    @Request.application
    def app(request):
        seen.append(request.form.to_dict())
        return Response(json.dumps(answer), mimetype="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_live_mock_calls_a_live_billing_system(live_server):
    server, seen = _billing_stub(PRICING)
    try:
        url = f"http://127.0.0.1:{server.server_port}/modules/addons/solusio/api/"
        ctl = live_server.control("pricing-live")
        ctl.seed(seed_doc(settings=integration(url, "whmcs")))
        r = requests.get(f"{live_server.url}/api/v1/plans/1", params={"user_id": 2},
                         headers={"Authorization": f"Bearer {ADMIN}", "X-Mock-Namespace": "pricing-live"})
        assert r.json()["data"]["price"]["per_hour"] == "7.57"
        assert seen == [{"token": "s3cret", "action": "GetTokenPricing", "userid": "2"}]
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_pricing_refuses_unreachable():
    with pytest.raises(BillingUnavailable):
        fetch_pricing("http://127.0.0.1:9/", "", 1, timeout=0.5)
