"""The GetTokenPricing verifier against a correct endpoint and deliberately broken ones.

The endpoints are small Flask views built here from ``contracts.billing`` and
``contracts.solusvm_usage``, served on a live loopback socket because the verifier speaks HTTP.
"""

from __future__ import annotations

import hmac
import json
import socket
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask, Response, request
from marshmallow import ValidationError

from contracts.billing import TokenPricingRequestSchema, TokenPricingResponseSchema
from contracts.cli import main
from contracts.report import Report
from contracts.solusvm_usage import user_token_unit_cost
from contracts.verify_billing import check_body, verify_billing
from mock_solusvm.liveserver import serve_wsgi

TOKEN = "s3cret-token"

USERS: dict[int, dict[str, Any]] = {
    7: {
        "base": Decimal("1.34"),
        "discounts": [{"name": "Group", "description": "5% Recurring Discount", "multipler": Decimal("0.95")}],
        "rates": [("City Tax", Decimal(6)), ("State Tax", Decimal(2))],
        "compound": True,
        "currency": {"code": "GBP", "display_prefix": "£", "display_suffix": " GBP",
                     "thousands_separator": ",", "decimals_separator": ".", "decimals": 2},
    }
}


def _json(body: Any, status: int = 200, content_type: str = "application/json") -> Response:
    # The wire carries JSON numbers; float is only the last step of writing this test body.
    text = json.dumps(body, default=lambda d: float(d) if isinstance(d, Decimal) else str(d))
    return Response(text, status=status, content_type=content_type)


def correct_pricing(form: Any, check_token: bool = True, refuse_unknown: bool = True) -> tuple[int, Any]:
    """A correct GetTokenPricing answer: (status, body)."""
    try:
        req = TokenPricingRequestSchema().load(form)
    except ValidationError as exc:
        return 400, {"result": "error", "message": f"Invalid request: {exc.messages}"}
    if check_token and not hmac.compare_digest((req["token"] or "").encode(), TOKEN.encode()):
        return 403, {"result": "error", "message": "Invalid token"}
    user = USERS.get(req["userid"])
    if user is None:
        if refuse_unknown:
            return 404, {"result": "error", "message": "Client Not Found"}
        user = dict(USERS[7], base=Decimal(0))
    cost = user_token_unit_cost(user["base"], [d["multipler"] for d in user["discounts"]],
                                [r for _, r in user["rates"]], user["compound"])
    body = TokenPricingResponseSchema().dump({
        "base_token_unit_cost": user["base"],
        "user_token_unit_cost": cost,
        "currency": user["currency"],
        "discounts": [dict(d, multiplier=d["multipler"]) for d in user["discounts"]],
        "taxes": {"compound": user["compound"], "rates": [{"label": n, "rate": r} for n, r in user["rates"]]},
    })
    return 200, body


def _variant(mutate: Callable[[dict[str, Any]], Any] | None = None, **kw: Any) -> Callable[[], Response]:
    def view() -> Response:
        status, body = correct_pricing(request.form, **kw)
        if status == 200 and mutate is not None:
            body = mutate(body) or body
        return _json(body, status)
    return view


def build_app() -> Flask:
    app = Flask("billing_endpoints_under_test")
    routes: dict[str, Callable[[], Response]] = {
        "good": _variant(),
        "missing-field": _variant(lambda b: b.pop("taxes") and None),
        "string-number": _variant(lambda b: b.update(base_token_unit_cost="1.34")),
        "zero-unknown": _variant(refuse_unknown=False),
        "any-token": _variant(check_token=False),
        "multiplier-only": _variant(lambda b: [d.pop("multipler") for d in b["discounts"]] and None),
        "inconsistent": _variant(lambda b: b.update(user_token_unit_cost=Decimal("1.0812"))),
        "negative": _variant(lambda b: b.update(base_token_unit_cost=Decimal("-1"))),
        "no-decimals": _variant(lambda b: b["currency"].pop("decimals") and None),
    }

    def html_error() -> Response:
        return Response("<!DOCTYPE html><html><body><h1>Fatal error</h1></body></html>", 200,
                        content_type="text/html; charset=utf-8")

    def crash() -> Response:
        return Response("Internal Server Error", 500, content_type="text/plain")

    def wrong_ctype() -> Response:
        status, body = correct_pricing(request.form)
        return _json(body, status, content_type="text/html")

    def json_only() -> Response:
        # Refuses form posts: reads a JSON body only, as some hand-written endpoints do.
        if not request.is_json:
            return _json({"result": "error", "message": "send JSON"}, 415)
        status, body = correct_pricing(request.get_json())
        return _json(body, status)

    routes.update({"html-error": html_error, "crash": crash, "wrong-ctype": wrong_ctype,
                   "json-only": json_only})
    for name, view in routes.items():
        app.add_url_rule(f"/{name}", name, view, methods=["POST"])
    return app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_wsgi(build_app()) as url:
        yield url


def run(base_url: str, name: str, token: str | None = TOKEN, userid: int = 7):
    # slow_ms is generous: these tests judge the contract, never the machine's speed.
    return verify_billing(f"{base_url}/{name}", token=token, userid=userid, timeout=5, slow_ms=60_000)


def test_correct_endpoint_passes_every_check(base_url):
    report = run(base_url, "good")
    assert report.ok, report.to_text()
    statuses = {c.name: c.status for c in report.checks}
    assert statuses == {
        "form_post": "pass", "content_type": "pass", "json": "pass", "fields": "pass", "numbers": "pass",
        "multipler": "pass", "user_cost": "pass", "wrong_token": "pass", "unknown_user": "pass",
        "response_time": "pass",
    }
    assert "Invalid token" in report.get("wrong_token").detail
    assert "HTTP 404" in report.get("unknown_user").detail


@pytest.mark.parametrize(
    ("endpoint", "check", "reason"),
    [
        ("missing-field", "fields", "taxes: Missing data for required field."),
        ("string-number", "fields", "base_token_unit_cost: Not a JSON number."),
        ("zero-unknown", "unknown_user", "with a price (user_token_unit_cost=0"),
        ("any-token", "wrong_token", "answered a wrong token with a price"),
        ("html-error", "json", "body is not JSON"),
        ("html-error", "content_type", "'text/html; charset=utf-8'"),
        ("crash", "form_post", "HTTP 500 (server error)"),
        ("wrong-ctype", "content_type", "expected application/json"),
        ("multiplier-only", "multipler", "only `multiplier` was sent"),
        ("negative", "numbers", "base_token_unit_cost: Must not be negative."),
        ("json-only", "form_post", "HTTP 415"),
    ],
)
def test_broken_endpoint_fails_with_a_clear_reason(base_url, endpoint, check, reason):
    report = run(base_url, endpoint)
    assert not report.ok
    result = report.get(check)
    assert result.status == "fail", report.to_text()
    assert reason in result.detail
    assert f"FAIL  {check}" in report.to_text()


def test_crashing_endpoint_also_fails_the_refusal_checks(base_url):
    report = run(base_url, "crash")
    assert report.get("wrong_token").status == "fail"
    assert "server error is not a refusal" in report.get("unknown_user").detail
    assert report.get("fields").status == "skip"


def test_slow_answer_is_only_a_warning(base_url):
    report = verify_billing(f"{base_url}/good", token=TOKEN, userid=7, timeout=5, slow_ms=0)
    assert report.ok
    assert report.get("response_time").status == "warn"
    assert "over 0 ms" in report.get("response_time").detail


def test_inconsistent_user_cost_is_only_a_warning(base_url):
    report = run(base_url, "inconsistent")
    assert report.ok, report.to_text()
    check = report.get("user_cost")
    assert check.status == "warn"
    assert "differs from base 1.34" in check.detail


def test_missing_decimals_is_a_warning(base_url):
    report = run(base_url, "no-decimals")
    assert report.ok
    assert report.get("optional_fields").status == "warn"
    assert "currency.decimals" in report.get("optional_fields").detail


def test_without_token_the_wrong_token_check_is_skipped(base_url):
    report = run(base_url, "any-token", token=None)
    assert report.get("wrong_token").status == "skip"
    assert report.ok


def test_wrong_userid_given_to_the_verifier_fails_form_post(base_url):
    report = run(base_url, "good", userid=12345)
    assert report.get("form_post").status == "fail"
    assert "HTTP 404" in report.get("form_post").detail


def test_unreachable_endpoint_fails_cleanly():
    # A bound socket that never listens: connections are refused, and no other test can take the port.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/x"
        report = verify_billing(url, token=TOKEN, userid=7, timeout=2)
    assert not report.ok
    assert report.get("form_post").detail.startswith("request failed:")
    assert report.get("unknown_user").detail.startswith("request failed:")


def test_cli_exit_codes_and_json(base_url):
    runner = CliRunner()
    ok = runner.invoke(main, ["verify-billing", f"{base_url}/good", "--token", TOKEN, "--userid", "7"])
    assert ok.exit_code == 0, ok.output
    assert "PASS  unknown_user" in ok.output
    assert "OK: every required check passed" in ok.output

    bad = runner.invoke(main, ["verify-billing", f"{base_url}/zero-unknown", "--token", TOKEN,
                               "--userid", "7", "--json"])
    assert bad.exit_code == 1
    doc = json.loads(bad.output)
    assert doc["ok"] is False
    failing = [c for c in doc["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failing] == ["unknown_user"]


def test_cli_unknown_userid_option(base_url):
    # user 7 is known, so naming it as the "unknown" one must fail the refusal check
    result = CliRunner().invoke(main, ["verify-billing", f"{base_url}/good", "--token", TOKEN, "--userid", "7",
                                       "--unknown-userid", "7"])
    assert result.exit_code == 1
    assert "FAIL  unknown_user" in result.output and "unknown user 7" in result.output


def test_cli_requires_userid():
    result = CliRunner().invoke(main, ["verify-billing", "http://127.0.0.1:9/x"])
    assert result.exit_code == 2
    assert "--userid" in result.output


def test_non_finite_numbers_fail_the_numbers_check():
    _, body = correct_pricing({"token": TOKEN, "action": "GetTokenPricing", "userid": "7"})
    body["user_token_unit_cost"] = float("nan")
    report = Report("unit")
    check_body(report, body)
    assert report.get("numbers").status == "fail"
    assert "user_token_unit_cost: Must be finite." in report.get("numbers").detail
    assert report.get("fields").status == "pass"
