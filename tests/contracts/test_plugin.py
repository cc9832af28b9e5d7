"""The pytest plugin's fixtures and assertions, used directly (the plugin is installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from mock_solusvm.pytest_plugin import EXAMPLE_SEED, api_path, contains, namespace_for


def test_plugin_import_is_cheap():
    # every pytest run of an integrator loads the plugin: it must not load Flask, the mock's app or HTTP
    code = ("import sys, mock_solusvm.pytest_plugin; "
            "print(sorted(m for m in ('mock_solusvm.app', 'flask', 'requests', 'marshmallow', 'responses')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("actual", "expected", "result"), [
    ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}}, True),
    ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"billing_user_id": "42"}, {"billing_user_id": 42}, False),
    ({"billing_user_id": 42}, {"billing_user_id": 42.0}, True),
    ({"is_one_time": 1}, {"is_one_time": True}, False),
    ({"roles": [2, 3]}, {"roles": [2, 3]}, True),
    ({"roles": [2, 3]}, {"roles": [2]}, False),
    (None, {"a": 1}, False),
    ("text body", "text body", True),
])
def test_contains(actual, expected, result):
    assert contains(actual, expected) is result


def test_namespace_names_are_unique_valid_and_bounded():
    a = namespace_for("k1", "gw0", "tests/test_x.py::test_a[param with spaces/and/slashes]")
    b = namespace_for("k1", "gw1", "tests/test_x.py::test_a[param with spaces/and/slashes]")
    long = namespace_for("k1", "gw0", "t.py::" + "x" * 300)
    long2 = namespace_for("k1", "gw0", "t.py::" + "x" * 299 + "y")
    assert a != b and long != long2
    for name in (a, b, long, long2):
        assert len(name) <= 128
        assert all(ch.isalnum() or ch in "_.:-" for ch in name)


def test_api_path():
    assert api_path("users") == "/api/v1/users"
    assert api_path("/api/v1/users/*") == "/api/v1/users/*"


def test_each_test_starts_with_a_fresh_namespace(solusvm):
    users = solusvm.session().get(solusvm.api_url + "/users", timeout=10).json()
    assert users["data"] == []  # the mock's default fixture has no users
    assert solusvm.requests() != []  # that request itself is in this test's journal
    assert solusvm.namespace.endswith("test_each_test_starts_with_a_fresh_namespace")


def test_journal_assertions(solusvm):
    sess = solusvm.session()
    resp = sess.post(solusvm.api_url + "/users", timeout=10,
                     json={"email": "eve@example.com", "password": "pw-123456", "billing_user_id": 42})
    assert resp.status_code == 201
    sess.post(solusvm.api_url + "/users", timeout=10, json={"email": "not-an-email", "password": "x"})

    hits = solusvm.assert_called("POST", "users", times=1, status=201, json_contains={"billing_user_id": 42})
    assert hits[0]["body"]["password"] == "<redacted>"
    solusvm.assert_called("POST", "/api/v1/users", times=2)
    solusvm.assert_called("POST", "/api/v1/users", times=1, status=422)
    solusvm.assert_not_called("DELETE", "/api/v1/users/*")
    with pytest.raises(AssertionError, match=r"expected exactly 3 POST /api/v1/users, got 2"):
        solusvm.assert_called("POST", "/api/v1/users", times=3)
    with pytest.raises(AssertionError, match=r"got 0 \(2 POST /api/v1/users in all\)"):
        solusvm.assert_called("POST", "/api/v1/users", json_contains={"billing_user_id": "42"})


def test_assert_order(solusvm, solusvm_seed):
    solusvm.seed(solusvm_seed)
    sess = solusvm.session()
    sess.get(solusvm.api_url + "/users", timeout=10)
    sess.put(solusvm.api_url + "/users/1", json={"status": "locked"}, timeout=10)
    sess.get(solusvm.api_url + "/plans", timeout=10)
    sess.put(solusvm.api_url + "/users/1", json={"status": "active"}, timeout=10)

    solusvm.assert_order(("GET", "users"), ("PUT", "users/1"), ("PUT", "/api/v1/users/*"))
    solusvm.assert_order(("PUT", "users/1"), ("GET", "plans"))
    with pytest.raises(AssertionError, match=r"GET /api/v1/users is missing at that point"):
        solusvm.assert_order(("GET", "plans"), ("GET", "users"))


def test_faults_and_clock_through_the_handle(solusvm, solusvm_seed):
    solusvm.seed(solusvm_seed)
    solusvm.faults.add(method="GET", path="/api/v1/plans", status=503, times=1)
    first = requests.get(solusvm.api_url + "/plans", headers=solusvm.headers, timeout=10)
    second = requests.get(solusvm.api_url + "/plans", headers=solusvm.headers, timeout=10)
    assert (first.status_code, second.status_code) == (503, 200)
    solusvm.assert_called("GET", "/api/v1/plans", status=503, times=1)
    solusvm.clock.advance(hours=5)
    assert solusvm.clock.now().isoformat().startswith("2026-10-01T05:00")


@pytest.mark.solusvm_seed({"users": [{"id": 9, "email": "zed@example.com", "billing_user_id": 99}]})
def test_seed_marker(solusvm):
    users = requests.get(solusvm.api_url + "/users", headers=solusvm.headers, timeout=10).json()["data"]
    assert [(u["id"], u["billing_user_id"]) for u in users] == [(9, 99)]


def test_seed_fixture_is_a_private_copy(solusvm_seed):
    solusvm_seed["users"].clear()
    assert EXAMPLE_SEED["users"], "changing the fixture's copy must not change the plugin's example"


def test_inprocess_handle(solusvm_inprocess, solusvm_seed):
    solusvm_inprocess.seed(solusvm_seed)
    resp = requests.get(solusvm_inprocess.api_url + "/users", headers=solusvm_inprocess.headers, timeout=10)
    assert [u["email"] for u in resp.json()["data"]] == ["ann@example.com"]
    solusvm_inprocess.assert_called("GET", "/api/v1/users", times=1)
    assert solusvm_inprocess.backend is not None  # the in-process extra is reachable through the handle
