"""`solus-bridge check-config` warns about each setting that is unsafe in production
(docs/web.md, "Security model") and fails on malformed ones; a hardened set has no warning."""

from __future__ import annotations

import pytest

from tests.ops.test_check_config import good_env, mock, run, solus  # noqa: F401 - fixtures

HARDENED = {"BRIDGE_SESSION_COOKIE_SECURE": "true", "BRIDGE_METRICS_TOKEN": "m" * 32,
            "BRIDGE_API_ALLOWED_IPS": "192.0.2.10", "BRIDGE_ADMIN_REQUIRE_2FA": "true"}
SECURITY_KEYS = ("SESSION_COOKIE_SECURE", "METRICS_TOKEN", "API_ALLOWED_IPS", "ADMIN_REQUIRE_2FA",
                 "MAX_CONTENT_LENGTH", "PERMANENT_SESSION_LIFETIME", "METRICS_ALLOWED_IPS")


def test_a_hardened_configuration_has_no_security_warning(good_env: dict[str, str]) -> None:  # noqa: F811
    result = run({**good_env, **HARDENED}, "--skip-solusvm")
    assert result.exit_code == 0, result.output
    for key in SECURITY_KEYS:
        assert f"WARN  {key}" not in result.output, result.output


@pytest.mark.parametrize(("change", "expected"), [
    ({"BRIDGE_SESSION_COOKIE_SECURE": "false"}, "WARN  SESSION_COOKIE_SECURE: is off"),
    ({"BRIDGE_METRICS_TOKEN": ""}, "WARN  METRICS_TOKEN: is not set: /metrics answers loopback only"),
    ({"BRIDGE_METRICS_TOKEN": "", "BRIDGE_METRICS_ALLOWED_IPS": "10.0.0.0/8"},
     "WARN  METRICS_TOKEN: is not set and METRICS_ALLOWED_IPS goes beyond loopback"),
    ({"BRIDGE_API_ALLOWED_IPS": ""}, "WARN  API_ALLOWED_IPS: is empty"),
    ({"BRIDGE_API_ALLOWED_IPS": "0.0.0.0/0"}, "WARN  API_ALLOWED_IPS: contains a network of every address"),
    ({"BRIDGE_ADMIN_REQUIRE_2FA": "false"}, "WARN  ADMIN_REQUIRE_2FA: is off"),
    ({"BRIDGE_MAX_CONTENT_LENGTH": "104857600"}, "WARN  MAX_CONTENT_LENGTH: is 0 or above 16 MiB"),
    ({"BRIDGE_PERMANENT_SESSION_LIFETIME": "604800"}, "WARN  PERMANENT_SESSION_LIFETIME: is longer than a day"),
])
def test_each_unsafe_setting_is_a_warning(good_env: dict[str, str], change: dict[str, str],  # noqa: F811
                                          expected: str) -> None:
    result = run({**good_env, **HARDENED, **change}, "--skip-solusvm")
    assert result.exit_code == 0, result.output
    assert expected in result.output


@pytest.mark.parametrize(("change", "expected"), [
    ({"BRIDGE_METRICS_ALLOWED_IPS": "localhost"}, "FAIL  METRICS_ALLOWED_IPS"),
    ({"BRIDGE_API_ALLOWED_IPS": "10.0.0.0/33"}, "FAIL  API_ALLOWED_IPS"),
    ({"BRIDGE_RATE_LIMIT_LOGIN": "ten"}, "FAIL  RATE_LIMIT_LOGIN: rate limit 'ten' must look like HITS/SECONDS"),
    ({"BRIDGE_RATE_LIMIT_LOGIN_ACCOUNT": "20/900,x"}, "FAIL  RATE_LIMIT_LOGIN_ACCOUNT"),
])
def test_malformed_security_settings_fail(good_env: dict[str, str], change: dict[str, str],  # noqa: F811
                                          expected: str) -> None:
    result = run({**good_env, **HARDENED, **change}, "--skip-solusvm")
    assert result.exit_code == 1, result.output
    assert expected in result.output
