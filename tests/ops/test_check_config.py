"""`solus-bridge check-config` against the live mock: a good configuration and broken ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge import db
from bridge.cli import main
from bridge.services import catalogue
from bridge.services.unit_of_work import make_session_factory
from mock_solusvm.server import MockServer

SYSTEM_URL = "https://billing.example.com"
PRICING_TOKEN = "pricing-token-0123456789abcdef"
API_TOKEN = "solus-admin-token-0123456789"
SECRET = "k" * 64


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(port=0, api_tokens=[API_TOKEN]) as srv:
        yield srv


@pytest.fixture
def solus(mock: MockServer, request: pytest.FixtureRequest) -> Any:
    """A namespace of the mock configured the way check-config wants it."""
    ctl = mock.control("default")
    ctl.seed({"settings": {"billing_integration": {"type": "custom", "drivers": {"custom": {
        "url": SYSTEM_URL + "/modules/addons/solusio/api/", "token": PRICING_TOKEN}}},
        "features": {"allow_registration": False}}})
    return ctl


@pytest.fixture
def good_env(sqlite_url: str, mock: MockServer, solus: Any) -> dict[str, str]:
    engine = db.make_engine(sqlite_url)
    with make_session_factory(engine)() as s, s.begin():
        catalogue.load_toml(s, catalogue.DEFAULT_CATALOGUE, actor="test")
    engine.dispose()
    return {"BRIDGE_DATABASE_URL": sqlite_url, "BRIDGE_SECRET_KEY": SECRET, "BRIDGE_PRICING_TOKEN": PRICING_TOKEN,
            "BRIDGE_SOLUSVM_URL": mock.url, "BRIDGE_SOLUSVM_API_TOKEN": API_TOKEN, "BRIDGE_SYSTEM_URL": SYSTEM_URL,
            "BRIDGE_MAIL_SERVER": "smtp.example.com"}


def run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(main, ["check-config", *args], env=env, catch_exceptions=False)
    for secret in (PRICING_TOKEN, API_TOKEN, SECRET, "wrong-token-value-xyz"):
        assert secret not in result.output
    assert "Traceback" not in result.output
    return result


def test_good_configuration_passes(good_env: dict[str, str]) -> None:
    result = run(good_env)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert "OK    database:" in result.output
    assert "OK    solusvm:" in result.output
    assert "OK    billing integration: SolusVM (custom) calls" in result.output
    assert "OK    registration:" in result.output
    assert "configuration is usable" in result.output


def test_wrong_solusvm_token_fails(good_env: dict[str, str]) -> None:
    result = run({**good_env, "BRIDGE_SOLUSVM_API_TOKEN": "wrong-token-value-xyz"})
    assert result.exit_code == 1
    assert "FAIL  solusvm:" in result.output and "401" in result.output and "SOLUSVM_API_TOKEN" in result.output


def test_integration_pointing_elsewhere_fails(good_env: dict[str, str]) -> None:
    result = run({**good_env, "BRIDGE_SYSTEM_URL": "https://other-billing.example.com"})
    assert result.exit_code == 1
    assert "FAIL  billing integration: SolusVM calls https://billing.example.com/modules/addons/solusio/api/" \
        in result.output


def test_pricing_token_mismatch_fails_without_showing_tokens(good_env: dict[str, str]) -> None:
    result = run({**good_env, "BRIDGE_PRICING_TOKEN": "wrong-token-value-xyz"})
    assert result.exit_code == 1
    assert "SolusVM sends a different token than PRICING_TOKEN" in result.output


def test_missing_integration_fails(good_env: dict[str, str], solus: Any) -> None:
    solus.seed({})
    result = run(good_env)
    assert result.exit_code == 1
    assert "SolusVM has no billing integration" in result.output


def test_registration_enabled_is_a_warning(good_env: dict[str, str], solus: Any) -> None:
    solus.seed({"settings": {"billing_integration": {"type": "whmcs", "drivers": {"whmcs": {
        "url": SYSTEM_URL + "/includes/api.php", "token": PRICING_TOKEN}}}, "features": {"allow_registration": True}}})
    result = run(good_env)
    assert result.exit_code == 0, result.output
    assert "WARN  registration:" in result.output and "Enable Registration" in result.output


def test_unreachable_solusvm_fails(good_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        result = run({**good_env, "BRIDGE_SOLUSVM_URL": f"http://127.0.0.1:{sock.getsockname()[1]}"})
    assert result.exit_code == 1
    assert "FAIL  solusvm:" in result.output and "unreachable" in result.output


@pytest.mark.parametrize(("change", "expected"), [
    ({"BRIDGE_SYSTEM_URL": "billing.example.com"}, "FAIL  SYSTEM_URL: must be the bridge's public http(s) URL"),
    ({"BRIDGE_SYSTEM_URL": "https://billing.example.com/?next=x"},
     "FAIL  SYSTEM_URL: must be the bridge's public http(s) URL (a base URL: no query or fragment)"),
    ({"BRIDGE_SOLUSVM_URL": "ftp://solus"}, "FAIL  SOLUSVM_URL: must be an http(s) URL"),
    ({"BRIDGE_SOLUSVM_API_TOKEN": ""}, "FAIL  SOLUSVM_API_TOKEN: is empty but SOLUSVM_URL is set"),
    ({"BRIDGE_OVERDUE_LOCK_DAYS": "10", "BRIDGE_OVERDUE_SUSPEND_DAYS": "5"}, "FAIL  OVERDUE_SUSPEND_DAYS"),
    ({"BRIDGE_MAIL_PORT": "soon"}, "FAIL  MAIL_PORT: must be a whole number"),
    ({"BRIDGE_SOLUSVM_TIMEOUT": "-1"}, "FAIL  SOLUSVM_TIMEOUT: must be a number of seconds > 0"),
    ({"BRIDGE_LOG_FORMAT": "xml"}, "FAIL  LOG_FORMAT: must be one of json, text"),
    ({"BRIDGE_MAIL_USERNAME": "mailer"}, "FAIL  MAIL_PASSWORD: is empty but MAIL_USERNAME is set"),
    ({"BRIDGE_DATABASE_URL": "nosuchdb://x"}, "FAIL  DATABASE_URL: is not a usable SQLAlchemy URL"),
    ({"BRIDGE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, "FAIL  database:"),
    ({"BRIDGE_CATALOGUE_FILE": "/nonexistent/catalogue.toml"}, "FAIL  CATALOGUE_FILE: cannot be read"),
])
def test_broken_values_fail_clearly(good_env: dict[str, str], change: dict[str, str], expected: str) -> None:
    result = run({**good_env, **change}, "--skip-solusvm")
    assert result.exit_code == 1, result.output
    assert expected in result.output


def test_warnings_alone_do_not_fail(good_env: dict[str, str]) -> None:
    result = run({**good_env, "BRIDGE_PRICING_TOKEN": "", "BRIDGE_MAIL_SERVER": "", "BRIDGE_SECRET_KEY": "short"},
                 "--skip-solusvm")
    assert result.exit_code == 0, result.output
    assert "WARN  PRICING_TOKEN: is empty" in result.output
    assert "WARN  MAIL_SERVER" in result.output and "WARN  SECRET_KEY" in result.output
    assert "WARN  METRICS_TOKEN: is not set" in result.output


def test_metrics_token_set_means_no_metrics_warning(good_env: dict[str, str]) -> None:
    result = run({**good_env, "BRIDGE_METRICS_TOKEN": "m" * 32}, "--skip-solusvm")
    assert result.exit_code == 0, result.output
    assert "METRICS_TOKEN" not in result.output


def test_unparseable_environment_value_names_the_setting(good_env: dict[str, str]) -> None:
    """The same words as the bridge's own start-up refusal; the other checks still run."""
    result = run({**good_env, "BRIDGE_INVOICE_DUE_DAYS": "two weeks"})
    assert result.exit_code == 1
    assert "FAIL  INVOICE_DUE_DAYS: must be a whole number >= 0, got 'two weeks'" in result.output
    assert "OK    database:" in result.output
    start = CliRunner().invoke(main, ["init-db"], env={**good_env, "BRIDGE_INVOICE_DUE_DAYS": "two weeks"})
    assert start.exit_code == 1
    assert "configuration: INVOICE_DUE_DAYS must be a whole number >= 0, got 'two weeks'" in start.output


def test_unmigrated_database_fails(good_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite3"
    result = run({**good_env, "BRIDGE_DATABASE_URL": f"sqlite:///{missing}"}, "--skip-solusvm")
    assert result.exit_code == 1
    assert "does not exist yet: run `solus-bridge init-db`" in result.output
    assert not missing.exists()  # checking did not create it
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    result = run({**good_env, "BRIDGE_DATABASE_URL": f"sqlite:///{empty}"}, "--skip-solusvm")
    assert result.exit_code == 1
    assert "is at revision none" in result.output and "solus-bridge init-db" in result.output


def test_init_db_then_check_config(tmp_path: Path, good_env: dict[str, str]) -> None:
    """The deployment doc's sequence: init-db on an empty database, then check-config passes."""
    env = {**good_env, "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    init = CliRunner().invoke(main, ["init-db"], env=env, catch_exceptions=False)
    assert init.exit_code == 0, init.output
    assert run(env).exit_code == 0


def test_config_file_is_read(good_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text('SYSTEM_URL = "not a url"\n')
    env = {k: v for k, v in good_env.items() if k != "BRIDGE_SYSTEM_URL"}
    result = run(env, "--config", str(path), "--skip-solusvm")
    assert result.exit_code == 1 and "FAIL  SYSTEM_URL" in result.output
    path.write_text("SYSTEM_URL = [broken\n")
    result = run(env, "--config", str(path))
    assert result.exit_code == 1 and "FAIL  configuration: cannot be loaded" in result.output


def test_live_check_against_the_demo() -> None:
    """--live posts GetTokenPricing to the running bridge; the demo is a complete, correct setup."""
    from bridge.demo import Demo

    with Demo() as running:
        i = running.info
        env = {"BRIDGE_DATABASE_URL": f"sqlite:///{i['data_dir']}/bridge.sqlite3", "BRIDGE_SECRET_KEY": SECRET,
               "BRIDGE_PRICING_TOKEN": i["pricing_token"], "BRIDGE_SOLUSVM_URL": i["mock_url"],
               "BRIDGE_SOLUSVM_API_TOKEN": i["mock_api_token"], "BRIDGE_SYSTEM_URL": i["bridge_url"]}
        good = CliRunner().invoke(main, ["check-config", "--live"], env=env, catch_exceptions=False)
        assert good.exit_code == 0, good.output
        assert "OK    bridge:" in good.output and "OK    billing integration" in good.output
        bad = CliRunner().invoke(main, ["check-config", "--live", "--skip-solusvm"],
                                 env={**env, "BRIDGE_PRICING_TOKEN": "another-token-0123456789"},
                                 catch_exceptions=False)
        assert bad.exit_code == 1
        assert "FAIL  bridge:" in bad.output and "403" in bad.output


def test_a_system_url_that_cannot_build_links_stops_the_bridge_at_start(good_env: dict[str, str]) -> None:
    from bridge import create_app

    with pytest.raises(ValueError, match="SYSTEM_URL must be"):
        create_app({"SYSTEM_URL": "billing.example.com", "DATABASE_URL": "sqlite://"})
    result = CliRunner().invoke(main, ["init-db"], env={**good_env, "BRIDGE_SYSTEM_URL": "billing.example.com"})
    assert result.exit_code == 1
    assert "configuration: SYSTEM_URL must be the bridge's public http(s) URL" in result.output
    assert "Traceback" not in result.output
