"""Both verifiers pass against our own bridge and mock, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contracts.verify_billing import verify_billing
from mock_solusvm.liveserver import serve_wsgi
from tests.contracts.conftest import PRICING_TOKEN, make_bridge_app


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    app, client_id = make_bridge_app(tmp_path_factory.mktemp("bridge"))
    with serve_wsgi(app) as url:
        yield url, client_id
    app.extensions["bridge_db"]["engine"].dispose()


@pytest.mark.parametrize("path", ["/modules/addons/solusio/api/", "/includes/api.php"])
def test_bridge_passes_the_billing_contract(bridge: Any, path: str) -> None:
    url, client_id = bridge
    # slow_ms is generous: the contract is judged here, not the machine's speed.
    report = verify_billing(url + path, token=PRICING_TOKEN, userid=client_id, timeout=10, slow_ms=60_000)
    assert report.ok, report.to_text()
    statuses = {c.name: c.status for c in report.checks}
    # every check ran and passed: nothing skipped, not even a warning
    assert set(statuses.values()) == {"pass"}, report.to_text()
    # 0.001 × 0.95 × 1.06 × 1.02
    assert report.get("user_cost").detail.startswith("0.00102714 ")


def test_bridge_with_the_wrong_token_configured_fails_form_post(bridge: Any) -> None:
    url, client_id = bridge
    report = verify_billing(url + "/modules/addons/solusio/api/", token="not-it", userid=client_id, timeout=10)
    assert not report.ok
    assert "HTTP 403" in report.get("form_post").detail


def test_mock_passes_the_solusvm_contract(solusvm: Any, solusvm_seed: dict) -> None:
    from contracts.verify_solusvm import verify_solusvm

    solusvm.seed(solusvm_seed)
    report = verify_solusvm(solusvm.url, api_token=solusvm.api_token, allow_writes=True, timeout=10,
                            headers={"X-Mock-Namespace": solusvm.namespace}, usage_period="2026-10")
    assert report.ok, report.to_text()
