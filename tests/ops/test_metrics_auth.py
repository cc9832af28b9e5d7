"""``METRICS_TOKEN``: /metrics loopback-only when unset (``METRICS_ALLOWED_IPS``), Bearer-only when set."""

from __future__ import annotations

from typing import Any

import pytest

from bridge import logs, observability, settings
from bridge.flask_glue import settings_of
from tests.bridge.conftest import build_app


def test_metrics_answer_loopback_without_a_token(app: Any, client: Any) -> None:
    assert not settings_of(app).metrics_token
    resp = client.get("/metrics")  # the test client comes from 127.0.0.1
    assert resp.status_code == 200
    assert "bridge_http_requests_total" in resp.get_data(as_text=True)
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


@pytest.mark.parametrize(("addr", "headers"), [
    ("203.0.113.9", {}),
    ("10.0.0.5", {}),
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}),  # a reverse proxy on this host
    ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}),
    ("127.0.0.1", {"X-Real-IP": "203.0.113.9"}),
])
def test_metrics_are_closed_to_others_without_a_token(client: Any, addr: str, headers: dict[str, str]) -> None:
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": addr}, headers=headers)
    assert resp.status_code == 403
    assert "bridge_" not in resp.get_data(as_text=True)


def test_metrics_allowed_ips_opens_a_network(sqlite_url: str, tmp_path: Any) -> None:
    client = build_app(sqlite_url, tmp_path, METRICS_ALLOWED_IPS="10.0.0.0/8").test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 403


def test_with_a_token_any_address_may_scrape(sqlite_url: str, tmp_path: Any) -> None:
    client = build_app(sqlite_url, tmp_path, METRICS_TOKEN="scrape-token-5678").test_client()
    ok = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"},
                    headers={"Authorization": "Bearer scrape-token-5678"})
    assert ok.status_code == 200


def test_metrics_need_the_bearer_token_when_set(sqlite_url: str, tmp_path: Any) -> None:
    token = "metrics-scrape-token-1234"
    client = build_app(sqlite_url, tmp_path, METRICS_TOKEN=token).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-value"}, {"Authorization": f"Basic {token}"},
                    {"Authorization": token}, {"Authorization": "Bearer"}, {"Authorization": f"Bearer {token}x"},
                    {"Authorization": f"Bearer {token[:-1]}"}):
        resp = client.get("/metrics", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        body = resp.get_data(as_text=True)
        assert "bridge_" not in body and token not in body
    ok = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and "bridge_http_requests_total" in ok.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": f"bearer  {token} "}).status_code == 200
    # Other routes are not affected.
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(("config", "header", "expected"), [
    ({}, None, True),
    ({"METRICS_TOKEN": ""}, "Bearer x", True),
    ({"METRICS_TOKEN": "tök-ßecret"}, "Bearer tök-ßecret", True),  # non-ASCII compares as UTF-8
    ({"METRICS_TOKEN": "tök-ßecret"}, "Bearer tok-secret", False),
    ({"METRICS_TOKEN": "abc"}, None, False),
])
def test_metrics_authorized(config: dict[str, str], header: str | None, expected: bool, tmp_path: Any) -> None:
    assert observability.metrics_authorized(settings.load(tmp_path, config, environ={}), header) is expected


def test_metrics_token_from_the_environment_and_toml(tmp_path: Any) -> None:
    env = {"BRIDGE_METRICS_TOKEN": "from-env", "BRIDGE_SECRET_KEY": "k"}
    assert settings.load(tmp_path, environ=env).metrics_token == "from-env"
    toml = tmp_path / "bridge.toml"
    toml.write_text('METRICS_TOKEN = "from-toml"\n')
    cfg = settings.load(tmp_path, environ={"BRIDGE_CONFIG_FILE": str(toml), "BRIDGE_SECRET_KEY": "k"})
    assert cfg.metrics_token == "from-toml"


def test_metrics_token_is_redacted_from_logs() -> None:
    assert "METRICS_TOKEN" in settings.SECRET_KEYS
    f = logs.RedactFilter(["metrics-scrape-token-1234"])
    assert "metrics-scrape-token-1234" not in f.redact("scrape with metrics-scrape-token-1234")
