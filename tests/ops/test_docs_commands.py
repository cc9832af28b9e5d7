"""The commands shown in docs/deploy.md and docs/integrators.md, run as written (on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from bridge.cli import main as bridge_cli
from bridge.demo import Demo
from contracts.cli import main as contracts_cli
from mock_solusvm.server import MockServer


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    with Demo() as running:
        yield running


def test_verify_billing_passes_against_the_reference_bridge(demo: Demo) -> None:
    """integrators.md §5: the verifier against the demo's GetTokenPricing URL."""
    i = demo.info
    result = CliRunner().invoke(contracts_cli, ["verify-billing", i["pricing_url"], "--token", i["pricing_token"],
                                                "--userid", str(i["client_id"])], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    wrong = CliRunner().invoke(contracts_cli, ["verify-billing", i["pricing_url"], "--token", "not-the-token",
                                               "--userid", str(i["client_id"])], catch_exceptions=False)
    assert wrong.exit_code != 0


def test_verify_solusvm_passes_against_the_demo_mock(demo: Demo) -> None:
    """integrators.md §2: verify-solusvm against the mock (read-only checks)."""
    i = demo.info
    result = CliRunner().invoke(contracts_cli, ["verify-solusvm", i["mock_url"], "--api-token", i["mock_api_token"]],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_mock_seeded_with_a_billing_integration_shows_your_prices(demo: Demo) -> None:
    """integrators.md §1 and the Actions job: a mock seeded to call a billing endpoint fills plan prices."""
    i = demo.info
    seed = {"settings": {"billing_integration": {"type": "custom", "drivers": {"custom": {
        "url": i["pricing_url"], "token": i["pricing_token"]}}}},
        "plans": [{"id": 1, "name": "1 Core, 1 GB RAM", "tokens_per_hour": 7, "tokens_per_month": 5000}],
        "users": [{"id": 1, "email": "ann@example.com", "billing_user_id": i["client_id"]}]}
    with MockServer(port=0, api_tokens=["ci-admin-token"]) as mock:
        # The curl calls of the doc, through requests.
        assert requests.post(f"{mock.url}/__mock/seed", json=seed, timeout=10).status_code == 200
        assert requests.put(f"{mock.url}/__mock/clock", json={"now": "2026-10-31T23:00:00Z"},
                            timeout=10).status_code == 200
        plans = requests.get(f"{mock.url}/api/v1/plans", params={"user_id": 1}, timeout=10,
                             headers={"Authorization": "Bearer ci-admin-token"}).json()["data"]
        journal = requests.get(f"{mock.url}/__mock/journal", params={"method": "GET", "path": "/api/v1/plans"},
                               timeout=10).json()["data"]
    assert plans[0]["price"] is not None, plans[0]["price_error"]
    assert plans[0]["price"]["per_month"] == "5.41"  # 5000 tokens at the demo client's 0.0010812
    assert len(journal) == 1


def test_deploy_sequence_init_db_admin_credentials_check_config(tmp_path: Path, demo: Demo) -> None:
    """deploy.md §4 in order, against a fresh database and the demo's mock as SolusVM."""
    i = demo.info
    catalogue = Path(__file__).resolve().parents[2] / "bridge" / "demo" / "catalogue.toml"
    env = {"BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.sqlite3'}", "BRIDGE_SECRET_KEY": "s" * 64,
           "BRIDGE_PRICING_TOKEN": i["pricing_token"], "BRIDGE_SYSTEM_URL": i["bridge_url"],
           "BRIDGE_SOLUSVM_URL": i["mock_url"], "BRIDGE_SOLUSVM_API_TOKEN": i["mock_api_token"],
           "BRIDGE_MAIL_SERVER": "smtp.example.com"}
    runner = CliRunner()

    def run(*args: str, **kw: Any) -> Any:
        result = runner.invoke(bridge_cli, list(args), env=env, catch_exceptions=False, **kw)
        assert result.exit_code == 0, result.output
        return result

    assert "catalogue loaded: 3 currencies, 1 groups, 2 tax rules" in run("init-db", "--catalogue",
                                                                           str(catalogue)).output
    run("admin", "create", "--name", "alice", input="operator-pass-42\noperator-pass-42\n")
    assert "identifier:" in run("credentials", "create", "--name", "accounting scripts").output
    checked = run("check-config", "--live")
    assert "FAIL" not in checked.output and "OK    billing integration" in checked.output
    # Running init-db again (the upgrade step) changes nothing and still succeeds.
    run("init-db")
