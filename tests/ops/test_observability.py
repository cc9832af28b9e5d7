"""/metrics, request ids, structured logs without secrets, and /healthz with SolusVM reachability."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge import logs
from bridge.flask_glue import replace_settings, settings_of
from bridge.models import Outbox
from bridge.services.solusvm_client import SolusVMClient, SolusVMUnavailable
from bridge.settings import LoggingSettings
from mock_solusvm.inprocess import mock_solusvm
from mock_solusvm.server import MockServer
from tests.bridge.conftest import build_app, session_of

PRICING_URL = "/modules/addons/solusio/api/"


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics and return {(sample name, sorted labels): value}."""
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def new_client_id(app: Any, email: str = "ann@example.com") -> int:
    from bridge.services.clients import create

    with session_of(app) as s, s.begin():
        return create(s, {"firstname": "Ann", "lastname": "Lee", "email": email}, actor="test").id


def test_metrics_counters_move(app: Any, client: Any) -> None:
    cid = new_client_id(app)
    before = scrape(client)
    for _ in range(3):
        resp = client.post(PRICING_URL, data={"token": "s3cret", "action": "GetTokenPricing", "userid": cid})
        assert resp.status_code == 200
    bad = client.post(PRICING_URL, data={"token": "wrong", "action": "GetTokenPricing", "userid": cid})
    assert bad.status_code == 403
    assert client.get("/clientarea/invoices/12345/nope-such-page").status_code == 404
    after = scrape(client)

    route = {"route": PRICING_URL, "method": "POST"}
    assert value(after, "bridge_http_requests_total", **route, status="200") - \
        value(before, "bridge_http_requests_total", **route, status="200") == 3
    assert value(after, "bridge_http_requests_total", **route, status="403") - \
        value(before, "bridge_http_requests_total", **route, status="403") == 1
    # Unmatched URLs share one label value: raw paths never become labels.
    assert value(after, "bridge_http_requests_total", route="<unmatched>", method="GET", status="404") - \
        value(before, "bridge_http_requests_total", route="<unmatched>", method="GET", status="404") == 1
    assert not any("12345" in str(labels) for _, labels in after)
    # Made-up methods are one label value too.
    assert client.open("/healthz", method="BREW").status_code == 405
    assert value(scrape(client), "bridge_http_requests_total", route="<unmatched>", method="OTHER", status="405") >= 1
    assert value(after, "bridge_token_pricing_seconds_count") - value(before, "bridge_token_pricing_seconds_count") == 4
    # The scrape itself is counted on the next scrape.
    assert value(after, "bridge_http_requests_total", route="/metrics", method="GET", status="200") >= 1


def test_whmcs_get_token_pricing_is_timed_too(app: Any, client: Any, api: Any) -> None:
    cid = new_client_id(app)
    before = scrape(client)
    assert "user_token_unit_cost" in api("GetTokenPricing", userid=cid, token="s3cret").get_json()
    assert api("GetClients").status_code == 200
    after = scrape(client)
    assert value(after, "bridge_token_pricing_seconds_count") - value(before, "bridge_token_pricing_seconds_count") == 1
    assert value(after, "bridge_http_requests_total", route="/includes/api.php", method="POST", status="200") - \
        value(before, "bridge_http_requests_total", route="/includes/api.php", method="POST", status="200") == 2


def test_pending_outbox_gauge_is_read_from_the_database(app: Any, client: Any) -> None:
    cid = new_client_id(app)
    assert value(scrape(client), "bridge_outbox_pending", status="pending") == 0
    with session_of(app) as s, s.begin():
        s.add_all([Outbox(client_id=cid, kind="user.create", payload={}, status="pending"),
                   Outbox(client_id=cid, kind="user.update", payload={}, status="pending"),
                   Outbox(client_id=cid, kind="user.update", payload={}, status="failed", last_error="x")])
    samples = scrape(client)
    assert value(samples, "bridge_outbox_pending", status="pending") == 2
    assert value(samples, "bridge_outbox_pending", status="failed") == 1
    assert value(samples, "bridge_database_up") == 1


def test_metrics_still_answer_when_the_database_is_down(tmp_path: Any) -> None:
    from bridge import create_app

    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none", "SECRET_KEY": "x"})
    samples = scrape(app.test_client())
    assert value(samples, "bridge_database_up") == 0


def test_solusvm_calls_retries_and_errors_are_counted(app: Any, client: Any) -> None:
    with mock_solusvm(base_url="https://solusvm.test", api_token="admin-token") as m:
        solus = SolusVMClient("https://solusvm.test", "admin-token", sleep=lambda _s: None, retries=2)
        before = scrape(client)
        m.faults.add(method="GET", path="/api/v1/account", status=503, times=1)
        solus.account()
        m.faults.add(method="GET", path="/api/v1/account", status=503)
        with pytest.raises(SolusVMUnavailable):
            solus.account()
        after = scrape(client)
    delta = {o: value(after, "bridge_solusvm_calls_total", outcome=o) - value(before, "bridge_solusvm_calls_total",
                                                                                   outcome=o)
             for o in ("ok", "retry", "error")}
    assert delta == {"ok": 1, "retry": 3, "error": 1}


# --- request ids and logs --------------------------------------------------------------


@pytest.fixture
def log_stream(app: Any) -> Iterator[io.StringIO]:
    """The bridge's JSON log lines of this test (the handler is per process, so re-point it)."""
    stream = io.StringIO()
    handler = logs.configure_logging(settings_of(app).logging, stream=stream, force=True)
    logger = logging.getLogger("bridge")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_request_id_is_echoed_or_generated_and_logged(app: Any, client: Any, log_stream: io.StringIO) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123.proxy"})
    assert given.headers["X-Request-ID"] == "abc-123.proxy"
    fresh = client.get("/healthz")
    generated = fresh.headers["X-Request-ID"]
    assert len(generated) == 32 and generated != "abc-123.proxy"
    # A header that could forge log lines or carry junk is replaced, not echoed.
    evil = client.get("/healthz", headers={"X-Request-ID": 'x" injected\tvalue'})
    assert evil.headers["X-Request-ID"] != 'x" injected\tvalue'
    assert len(evil.headers["X-Request-ID"]) == 32
    access = [rec for rec in lines(log_stream) if rec["logger"] == "bridge.access"]
    assert [rec["request_id"] for rec in access] == ["abc-123.proxy", generated, evil.headers["X-Request-ID"]]
    assert access[0]["route"] == "/healthz" and access[0]["status"] == 200 and access[0]["method"] == "GET"
    assert isinstance(access[0]["duration_ms"], float)


def test_no_secret_or_token_in_any_log(app: Any, client: Any, api: Any, cred: Any, log_stream: io.StringIO,
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cid = new_client_id(app)
    secrets: list[str] = [settings_of(app).pricing_token, settings_of(app).secret_key, cred.secret, "hunter2-password!"]
    # A pricing call with the token, a wrong token, and one via the WHMCS endpoint.
    client.post(PRICING_URL, data={"token": "s3cret", "action": "GetTokenPricing", "userid": cid})
    client.post(PRICING_URL, data={"token": "s3cret-wrong-guess", "action": "GetTokenPricing", "userid": cid})
    secrets.append("s3cret-wrong-guess")
    # WHMCS API calls with credentials, including a password and an SSO token being minted.
    assert api("UpdateClient", clientid=cid, password2="hunter2-password!").get_json()["result"] == "success"
    sso = api("CreateSsoToken", client_id=cid).get_json()
    assert sso["result"] == "success"
    secrets.append(sso["access_token"])
    client.post("/includes/api.php", data={"action": "GetClients", "identifier": cred.identifier,
                                           "secret": "wrong-secret-value"})
    secrets.append("wrong-secret-value")
    # SolusVM calls with the API token, including failures that are logged and retried, and a
    # one-time login token.
    with mock_solusvm(base_url="https://solusvm.test", api_token="solus-api-token-xyz") as m:
        solus = SolusVMClient("https://solusvm.test", "solus-api-token-xyz", sleep=lambda _s: None, retries=1)
        user = solus.create_user(email="ann@example.com", password="solus-user-password")
        m.faults.add(method="POST", path="/api/v1/users/*/tokens", status=503, times=1)
        login_token = solus.create_token(user["id"])
        m.faults.add(method="GET", path="/api/v1/account", status=503)
        with pytest.raises(SolusVMUnavailable):
            solus.account()
        # The client area's "Log in to SolusVM": a one-time login URL for an enrolled client.
        from datetime import UTC, datetime

        from bridge.models import Client
        from bridge.services import sso

        with session_of(app) as s, s.begin():
            c = s.get(Client, cid)
            c.solusvm_user_id, c.enrolled_at = user["id"], datetime.now(UTC)
        with session_of(app) as s, s.begin():
            url = sso.login_url(s, cid, solus)
        sso_token = url.split("token=", 1)[1]
        assert len(sso_token) > 8
    secrets += ["solus-api-token-xyz", "solus-user-password", login_token, sso_token]
    # Even a careless log call that passes a secret is redacted by the handler's filter.
    logging.getLogger("bridge.test").warning("posting token=%s to %s", "s3cret", "Bearer solus-api-token-xyz")

    text = log_stream.getvalue()
    assert "bridge.access" in text and "retry" in text  # the logs did record these calls
    for secret in secrets:
        assert secret not in text, f"secret {secret[:4]}… leaked into the bridge log"
        assert secret not in caplog.text, f"secret {secret[:4]}… leaked into captured logs"


def test_redact_filter_masks_parameters_and_values() -> None:
    f = logs.RedactFilter(["longsecretvalue"])
    assert f.redact("x longsecretvalue y") == "x [redacted] y"
    assert f.redact("GET /auth/by_token?token=abcdef&x=1") == "GET /auth/by_token?token=[redacted]&x=1"
    assert f.redact("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert logs.RedactFilter(["abc"]).redact("abcd") == "abcd"  # too short to be a secret
    # any *token / *secret / *password parameter: WHMCS SSO links carry access_token=...
    assert f.redact("GET /oauth/singlesignon.php?access_token=eyJj.abc-1 HTTP/1.1") == \
        "GET /oauth/singlesignon.php?access_token=[redacted] HTTP/1.1"
    assert f.redact("client_secret=s&new_password=p&userid=7") == \
        "client_secret=[redacted]&new_password=[redacted]&userid=7"
    assert f.redact("tokens_per_hour=7") == "tokens_per_hour=7"


def test_text_log_format(app: Any) -> None:
    stream = io.StringIO()
    text = settings_of(app).with_values({"LOG_FORMAT": "text"}).logging
    handler = logs.configure_logging(text, stream=stream, force=True)
    try:
        with logs.run_context(run_id="rid-1"):
            logging.getLogger("bridge.x").warning("hello")
    finally:
        logging.getLogger("bridge").removeHandler(handler)  # type: ignore[arg-type]
    assert "WARNING bridge.x [rid-1] hello" in stream.getvalue()


def test_existing_root_handlers_are_used_not_doubled() -> None:
    """A CLI that configured logging (cron) keeps its one handler, which gets the redaction filter."""
    root = logging.getLogger()
    stream = io.StringIO()
    mine = logging.StreamHandler(stream)
    root.addHandler(mine)
    try:
        assert logs.configure_logging(LoggingSettings(secrets=("tok-123456789",))) is None
        logging.getLogger("bridge.y").warning("using tok-123456789")
    finally:
        root.removeHandler(mine)
    assert stream.getvalue() == "using [redacted]\n"


# --- /healthz --------------------------------------------------------------------------


def test_healthz_reports_solusvm_reachable_and_caches_the_check(sqlite_url: str, tmp_path: Any) -> None:
    with MockServer(port=0, api_tokens=["admin-token"]) as srv:
        app = build_app(sqlite_url, tmp_path, SOLUSVM_URL=srv.url, SOLUSVM_API_TOKEN="admin-token")
        client = app.test_client()
        first = client.get("/healthz")
        assert first.status_code == 200
        body = first.get_json()
        assert body["status"] == "ok" and body["database"] == "ok" and body["solusvm"]["state"] == "ok"
        client.get("/healthz")
        client.get("/healthz")
        # Within HEALTH_SOLUSVM_TTL the check is not repeated: health polls never hammer SolusVM.
        assert srv.control().journal.count(method="GET", path="/api/v1/account") == 1
        assert "admin-token" not in first.get_data(as_text=True)


def test_healthz_with_unreachable_solusvm_is_degraded_not_down(sqlite_url: str, tmp_path: Any) -> None:
    with socket.socket() as sock:  # a port that refuses connections
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = build_app(sqlite_url, tmp_path, SOLUSVM_URL=f"http://127.0.0.1:{port}", SOLUSVM_API_TOKEN="t0ken-abc",
                        HEALTH_SOLUSVM_TIMEOUT=1)
        resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["solusvm"]["state"] == "unreachable"
    assert "unreachable" in body["solusvm"]["error"]


def test_healthz_with_bad_solusvm_token(sqlite_url: str, tmp_path: Any) -> None:
    with MockServer(port=0, api_tokens=["admin-token"]) as srv:
        app = build_app(sqlite_url, tmp_path, SOLUSVM_URL=srv.url, SOLUSVM_API_TOKEN="wrong-token")
        body = app.test_client().get("/healthz").get_json()
    assert body["status"] == "degraded"
    assert "401" in body["solusvm"]["error"] and "Unauthenticated" in body["solusvm"]["error"]


def test_access_log_can_be_turned_off_from_the_environment(app: Any, client: Any, log_stream: io.StringIO) -> None:
    replace_settings(app, {"ACCESS_LOG": "false"})  # as BRIDGE_ACCESS_LOG=false arrives
    client.get("/healthz")
    assert not [rec for rec in lines(log_stream) if rec["logger"] == "bridge.access"]
    replace_settings(app, {"ACCESS_LOG": "1"})
    client.get("/healthz")
    assert [rec["route"] for rec in lines(log_stream) if rec["logger"] == "bridge.access"] == ["/healthz"]


def test_invoices_generated_counter_and_unpaid_gauge_move(app: Any, client: Any) -> None:
    from bridge.services import invoicing

    cid = new_client_id(app)
    seed = {"clock": "2026-11-01T00:00:00Z",
            "plans": [{"id": 1, "name": "1 Core, 1 GB RAM", "tokens_per_hour": 7, "tokens_per_month": 5000}],
            "users": [{"id": 5, "email": "ann@example.com", "billing_user_id": cid}],
            "servers": [{"id": 1, "name": "web-1", "user_id": 5, "plan_id": 1, "created_at": "2026-10-01T00:00:00Z"}]}
    before = scrape(client)
    with mock_solusvm(base_url="https://solusvm.test", api_token="admin-token", seed=seed):
        solus = SolusVMClient("https://solusvm.test", "admin-token", sleep=lambda _s: None)
        summary = invoicing.generate_period(app.extensions["bridge_db"]["session_factory"], solus, 2026, 10,
                                            settings=settings_of(app))
        assert summary.ok
        # A second run for the same month creates nothing and counts nothing.
        invoicing.generate_period(app.extensions["bridge_db"]["session_factory"], solus, 2026, 10,
                                  settings=settings_of(app))
    after = scrape(client)
    assert value(after, "bridge_invoices_generated_total") - value(before, "bridge_invoices_generated_total") == 1
    assert value(before, "bridge_invoices_unpaid") == 0
    assert value(after, "bridge_invoices_unpaid") == 1
