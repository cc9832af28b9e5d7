"""Check any billing system's GetTokenPricing endpoint against the contract (seed 001, step 6).

The verifier behaves like SolusVM: it POSTs the form SolusVM sends and judges the answer
with :mod:`contracts.billing` (the shapes) and :mod:`contracts.solusvm_usage` (the user-cost rule).
It then tries the two mistakes that hurt most in production: a wrong token that is
accepted, and an unknown user priced at zero instead of refused.
"""

from __future__ import annotations

import json
import secrets
import time
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from marshmallow import ValidationError

from contracts.billing import TokenPricingResponseSchema
from contracts.report import Report, Status
from contracts.solusvm_usage import user_token_unit_cost

ACTION = "GetTokenPricing"
# A user id no billing system plausibly has; overridable because some systems use big ids.
DEFAULT_UNKNOWN_USERID = 987654321
# Relative tolerance for the user-cost consistency check: the wire carries JSON numbers,
# which a billing system may have rounded to a handful of decimals.
COST_TOLERANCE = Decimal("1e-6")

_NUMBER_MESSAGES = {"Must be finite.", "Must not be negative."}


def _flatten(errors: Any, path: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error dict as ``[(dotted.path, message), ...]``."""
    out: list[tuple[str, str]] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            sub = f"{path}.{key}" if path else str(key)
            out.extend(_flatten(value, sub))
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict | list):
                out.extend(_flatten(item, path))
            else:
                out.append((path or "(body)", str(item)))
    else:
        out.append((path or "(body)", str(errors)))
    return out


def _post(url: str, form: dict[str, str], timeout: float, session: requests.Session) -> requests.Response:
    # Exactly what SolusVM sends: form-encoded body, JSON wanted back.
    return session.post(url, data=form, headers={"Accept": "application/json"}, timeout=timeout,
                        allow_redirects=False)


def _parse_json(resp: requests.Response) -> Any:
    # parse_float=Decimal keeps money exact; NaN/Infinity still parse so they can be reported.
    return json.loads(resp.text, parse_float=Decimal)


def _snippet(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _is_json(resp: requests.Response) -> bool:
    return resp.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json"


def _judge_refusal(resp: requests.Response | Exception, what: str) -> tuple[Status, str]:
    """Status and reason for a request that the endpoint must refuse with an error."""
    if isinstance(resp, Exception):
        return "fail", f"request failed: {resp}"
    if resp.status_code >= 500:
        return "fail", f"HTTP {resp.status_code} for {what}: a server error is not a refusal"
    try:
        body = _parse_json(resp)
    except ValueError:
        body = None
    if isinstance(body, dict) and "user_token_unit_cost" in body:
        return "fail", (f"answered {what} with a price (user_token_unit_cost="
                        f"{body.get('user_token_unit_cost')}) instead of an error")
    message = body.get("message") if isinstance(body, dict) else None
    said = f": {message!r}" if message else ""
    if 400 <= resp.status_code < 500 or (isinstance(body, dict) and body.get("result") == "error"):
        if not isinstance(body, dict):
            return "warn", (f"refused with HTTP {resp.status_code}, but the error body is not JSON "
                            f"({_snippet(resp.text)})")
        return "pass", f"refused with HTTP {resp.status_code}{said}"
    return "fail", f"HTTP {resp.status_code} without an error (no result=error, no 4xx) for {what}"


def check_body(report: Report, body: Any) -> dict[str, Any] | None:
    """Fields, numbers, ``multipler`` and optional-field checks on a parsed GetTokenPricing body."""
    if not isinstance(body, dict):
        kind = type(body).__name__
        report.add("fields", "fail", f"body is a JSON {kind}, not an object")
        for name in ("numbers", "multipler"):
            report.add(name, "skip", "no JSON object to check")
        return None
    try:
        TokenPricingResponseSchema().load(body)
        problems: list[tuple[str, str]] = []
    except ValidationError as exc:
        problems = _flatten(exc.messages)
    numbers = [p for p in problems if p[1] in _NUMBER_MESSAGES]
    multipler = [p for p in problems if p[0].endswith(".multipler")]
    unknown = [p for p in problems if p[1] == "Unknown field."]
    other = [p for p in problems if p not in numbers and p not in multipler and p not in unknown]

    if other:
        report.add("fields", "fail", "; ".join(f"{path}: {msg}" for path, msg in other))
    else:
        report.add("fields", "pass", "all fields present with the right JSON types")
    if numbers:
        report.add("numbers", "fail", "; ".join(f"{path}: {msg}" for path, msg in numbers))
    else:
        report.add("numbers", "pass", "every number is finite and non-negative")
    if multipler:
        spelled = any("multiplier" in d for d in body.get("discounts", []) if isinstance(d, dict))
        hint = " (only `multiplier` was sent; SolusVM reads the seed's spelling)" if spelled else ""
        report.add("multipler", "fail",
                   "; ".join(f"{path}: {msg}" for path, msg in multipler) + hint)
    else:
        n = len(body.get("discounts") or [])
        report.add("multipler", "pass", f"`multipler` present on all {n} discount(s)")

    notes = [f"unexpected key {path}" for path, _ in unknown]
    currency = body.get("currency")
    if isinstance(currency, dict) and "decimals" not in currency:
        notes.append("currency.decimals absent (number of decimals; the bridge sends it)")
    if notes:
        report.add("optional_fields", "warn", "; ".join(notes))
    return body


def _check_user_cost(report: Report, body: dict[str, Any]) -> None:
    """base × discounts × tax factor should equal user_token_unit_cost; a warning, never a failure."""
    try:
        base = Decimal(str(body["base_token_unit_cost"]))
        reported = Decimal(str(body["user_token_unit_cost"]))
        multipliers = [Decimal(str(d.get("multipler", d.get("multiplier")))) for d in body["discounts"]]
        taxes = body["taxes"]
        rates = [Decimal(str(r["rate"])) for r in taxes["rates"]]
        compound = bool(taxes["compound"])
        expected = user_token_unit_cost(base, multipliers, rates, compound)
    except (KeyError, TypeError, InvalidOperation, AttributeError, ValueError):
        report.add("user_cost", "skip", "cannot recompute: fields missing or not numbers")
        return
    if not (expected.is_finite() and reported.is_finite()):
        report.add("user_cost", "skip", "cannot recompute: non-finite numbers")
        return
    if abs(expected - reported) <= COST_TOLERANCE * max(abs(expected), Decimal(1)):
        report.add("user_cost", "pass", f"{reported} = base × discounts × tax factor")
    else:
        report.add("user_cost", "warn",
                   f"user_token_unit_cost {reported} differs from base {base} × discounts × taxes = "
                   f"{expected.normalize()} (allowed, but check your discounts and taxes)")


def verify_billing(
    url: str,
    *,
    token: str | None,
    userid: int,
    unknown_userid: int = DEFAULT_UNKNOWN_USERID,
    timeout: float = 10.0,
    slow_ms: float = 1000.0,
    session: requests.Session | None = None,
) -> Report:
    """Run the GetTokenPricing contract against ``url`` for a known ``userid``.

    ``token`` is the authorization token configured in SolusVM (``None`` or ``""`` when the
    endpoint needs none: the wrong-token check is then skipped). Returns a :class:`Report`
    whose ``ok`` is true only when every required check passed.
    """
    session = session or requests.Session()
    report = Report(url)
    form = {"action": ACTION, "userid": str(userid)}
    if token:
        form["token"] = token

    started = time.perf_counter()
    try:
        resp = _post(url, form, timeout, session)
    except requests.RequestException as exc:
        report.add("form_post", "fail", f"request failed: {exc}")
        resp = None
    elapsed_ms = (time.perf_counter() - started) * 1000

    body: Any = None
    if resp is not None:
        if resp.status_code == 200:
            report.add("form_post", "pass", "form-encoded POST accepted (HTTP 200)")
        else:
            kind = "server error" if resp.status_code >= 500 else "refused"
            report.add("form_post", "fail", f"HTTP {resp.status_code} ({kind}) for user {userid}: "
                                            f"{_snippet(resp.text)}")
        if _is_json(resp):
            report.add("content_type", "pass", "application/json")
        else:
            ctype = resp.headers.get("Content-Type") or "(none)"
            report.add("content_type", "fail", f"Content-Type is {ctype!r}, expected application/json")
        if resp.status_code == 200:
            try:
                body = _parse_json(resp)
                report.add("json", "pass", "body is JSON")
            except ValueError as exc:
                report.add("json", "fail", f"body is not JSON ({exc}); it starts with {_snippet(resp.text)}")
    if body is None:
        for name in ("fields", "numbers", "multipler", "user_cost"):
            report.add(name, "skip", "no successful JSON response to check")
    else:
        checked = check_body(report, body)
        if checked is not None:
            _check_user_cost(report, checked)
        else:
            report.add("user_cost", "skip", "no JSON object to check")

    if token:
        wrong = dict(form, token="wrong-" + secrets.token_hex(8))
        try:
            answer: requests.Response | Exception = _post(url, wrong, timeout, session)
        except requests.RequestException as exc:
            answer = exc
        report.add("wrong_token", *_judge_refusal(answer, "a wrong token"))
    else:
        report.add("wrong_token", "skip", "no --token given, so the endpoint is checked as unauthenticated")

    unknown = dict(form, userid=str(unknown_userid))
    try:
        answer = _post(url, unknown, timeout, session)
    except requests.RequestException as exc:
        answer = exc
    report.add("unknown_user", *_judge_refusal(answer, f"unknown user {unknown_userid}"))

    if resp is None:
        report.add("response_time", "skip", "no response")
    elif elapsed_ms > slow_ms:
        report.add("response_time", "warn", f"{elapsed_ms:.0f} ms (over {slow_ms:.0f} ms; SolusVM waits on it "
                                            f"to show every price)")
    else:
        report.add("response_time", "pass", f"{elapsed_ms:.0f} ms")
    return report
