"""The in-process handle: decorator, context manager, backend access, sharing a responses mock."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
import responses

from mock_solusvm.inprocess import mock_solusvm

from .conftest import seed_doc

HDR = {"Authorization": "Bearer tok"}


@mock_solusvm(base_url="https://deco.test", api_token="tok", seed=seed_doc())
def test_decorator_routes_requests_into_the_mock():
    r = requests.get("https://deco.test/api/v1/users", headers=HDR)
    assert [u["id"] for u in r.json()["data"]] == [1, 2]


def test_routing_stops_after_the_block_and_backend_is_shared():
    with mock_solusvm(base_url="https://cm.test/", api_token="tok", seed=seed_doc()) as m:
        requests.post("https://cm.test/api/v1/users", json={"email": "c@example.com", "password": "p"}, headers=HDR)
        assert m.backend.users[3]["email"] == "c@example.com"
        assert m.journal.count(method="POST") == 1
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get("https://elsewhere.test/", timeout=2)  # not mocked, not loopback: refused
    with pytest.raises(requests.exceptions.RequestException):
        requests.get("https://cm.test/api/v1/users", headers=HDR, timeout=2)


def test_two_handles_are_independent():
    with mock_solusvm(base_url="https://one.test", api_token="tok") as a, \
            mock_solusvm(base_url="https://two.test", api_token="tok", responses_mock=a.responses) as b:
        requests.post("https://one.test/api/v1/users", json={"email": "x@example.com", "password": "p"}, headers=HDR)
        assert requests.get("https://two.test/api/v1/users", headers=HDR).json()["meta"]["total"] == 0
        assert a.backend is not b.backend and a.journal.count() == 1 and b.journal.count() == 1


def test_shares_an_outer_responses_mock():
    with responses.RequestsMock() as rsps:
        rsps.get("https://other.test/ping", json={"ok": True})
        with mock_solusvm(base_url="https://shared.test", api_token="tok", responses_mock=rsps) as m:
            assert requests.get("https://other.test/ping").json() == {"ok": True}
            assert requests.get("https://shared.test/api/v1/plans", headers=HDR).status_code == 200
            m.clock.set("2027-01-01T00:00:00Z")
            assert m.clock.now().year == 2027


def test_without_responses_the_import_error_names_the_extra():
    code = ("import sys; sys.modules['responses'] = None\n"
            "try:\n    import mock_solusvm.inprocess\nexcept ImportError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'solusvm-billing-bridge[mock]'" in out
