"""A newcomer's first mistakes each get one line that says what to do, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bridge import create_app, db
from bridge.cli import main as bridge_cli
from bridge.errors import ValidationFailed
from bridge.flask_glue import settings_of
from bridge.models import ClientGroup, Currency, TaxRule, TokenPrice
from bridge.services import catalogue
from bridge.services.unit_of_work import make_session_factory


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real entry point in a subprocess, so the test sees exactly what a person sees."""
    return subprocess.run([sys.executable, "-c", "from bridge.cli import main; main()", *args],
                          env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=120)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


BAD_URLS = [
    ("postgres://bridge@127.0.0.1:5432/bridge", "postgresql+psycopg://bridge@127.0.0.1:5432/bridge"),
    ("postgresql://bridge@127.0.0.1:5432/bridge", "postgresql+psycopg://"),
    ("mysql://bridge@127.0.0.1/bridge", "driver is not installed"),
    ("not a url", "is not a database URL"),
]


@pytest.mark.parametrize(("url", "expected"), BAD_URLS)
@pytest.mark.parametrize("command", [["init-db"], ["serve", "--port", "0"]])
def test_bad_database_url_is_one_line(tmp_path: Path, url: str, expected: str, command: list[str]) -> None:
    line = one_line(run_cli(*command, env={"BRIDGE_DATABASE_URL": url}, cwd=tmp_path))
    assert expected in line and "BRIDGE_DATABASE_URL" in line


@pytest.mark.parametrize("command", [["init-db"], ["serve", "--port", "0"]])
def test_unreachable_postgresql_is_one_line(tmp_path: Path, command: list[str]) -> None:
    url = f"postgresql+psycopg://bridge:hunter2@127.0.0.1:{closed_port()}/bridge"
    line = one_line(run_cli(*command, env={"BRIDGE_DATABASE_URL": url}, cwd=tmp_path))
    assert "127.0.0.1" in line and "refused" in line.lower()
    assert "hunter2" not in line  # the password is never printed


def test_serve_before_init_db_refuses_to_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    line = one_line(run_cli("serve", "--port", "0", env={"BRIDGE_DATABASE_URL": url}, cwd=tmp_path))
    assert line == "Error: database not initialised: run solus-bridge init-db"


def test_healthz_fails_before_init_db(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}", "SECRET_KEY": "k" * 32})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "database not initialised: run solus-bridge init-db"
    db.upgrade(app.extensions["bridge_db"]["engine"])
    assert app.test_client().get("/healthz").status_code == 200


def test_init_db_says_where_the_database_is(tmp_path: Path) -> None:
    path = tmp_path / "here.sqlite3"
    result = CliRunner().invoke(bridge_cli, ["init-db"], env={"BRIDGE_DATABASE_URL": f"sqlite:///{path}"},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"database {path} is at the newest revision" in result.output


def test_solusvm_url_with_or_without_api_v1(tmp_path: Path) -> None:
    for given in ("http://127.0.0.1:8081", "http://127.0.0.1:8081/", "http://127.0.0.1:8081/api/v1",
                  "http://127.0.0.1:8081/api/v1/"):
        app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "k" * 32, "SOLUSVM_URL": given})
        assert settings_of(app).solusvm.url == "http://127.0.0.1:8081"


# --- the catalogue ---------------------------------------------------------------------


@pytest.fixture
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = db.make_engine(f"sqlite:///{tmp_path / 'cat.sqlite3'}")
    db.upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        yield s
    engine.dispose()


USD = {"code": "USD", "token_price": "0.001"}


@pytest.mark.parametrize(("doc", "names"), [
    ({"currency": [USD]}, ["unknown table [currency]", "[[currencies]]"]),
    ({"currencies": [{**USD, "token_prize": "0.001"}]}, ["unknown key 'token_prize'", "[currencies]"]),
    ({"currencies": [USD], "groups": [{"name": "R", "discount": "5"}]}, ["unknown key 'discount'"]),
    ({"currencies": [USD], "tax_rules": [{"name": "VAT", "percent": "19"}]}, ["unknown key 'percent'"]),
    ({"currencies": [USD], "settings": {"TaxEnable": True}}, ["unknown key 'TaxEnable'"]),
    ({"groups": [{"name": "R"}]}, ["no currency"]),
    ({}, ["no currency"]),
])
def test_catalogue_mistakes_are_refused_by_name(session, doc, names) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        catalogue.load_catalogue(session, doc)
    for name in names:
        assert name in err.value.message


@pytest.mark.parametrize(("doc", "names"), [
    ({"currencies": [{"code": "KWD", "decimals": 3, "token_price": "0.001"}]}, ["KWD decimals must be 0-2"]),
    ({"currencies": [{"code": "USD", "token_price": "0.00000000001"}]}, ["USD token_price", "10 decimal places"]),
    ({"currencies": [{**USD, "rate": "0.123456"}]}, ["USD rate", "5 decimal places"]),
    ({"currencies": [USD], "groups": [{"name": "R", "discount_percent": "5.125"}]},
     ["discount_percent", "2 decimal places"]),
    ({"currencies": [USD], "tax_rules": [{"name": "City Tax", "rate": "6.0625"}]},
     ["'City Tax' rate", "3 decimal places"]),
])
def test_values_finer_than_stored_are_refused(session, doc, names) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        catalogue.load_catalogue(session, doc)
    for name in names:
        assert name in err.value.message


def test_values_at_the_stored_precision_load_exactly(session) -> None:  # type: ignore[no-untyped-def]
    catalogue.load_catalogue(session, {
        "currencies": [{"code": "USD", "token_price": "0.0000000001", "rate": "1.23456",
                        "payment_instructions": "Wire to IBAN XX00 0000"}],
        "groups": [{"name": "R", "discount_percent": "5.25"}],
        "tax_rules": [{"name": "City Tax", "rate": "6.125"}]})
    session.flush()
    assert session.scalar(select(TokenPrice.price_per_token)) == Decimal("0.0000000001")
    assert session.scalar(select(Currency.rate)) == Decimal("1.23456")
    assert session.scalar(select(ClientGroup.discount_percent)) == Decimal("5.25")
    assert session.scalar(select(TaxRule.rate)) == Decimal("6.125")
    assert catalogue.payment_instructions(session, "usd") == "Wire to IBAN XX00 0000"


def test_init_db_refuses_a_misspelt_catalogue_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "catalogue.toml"
    bad.write_text('[[currency]]\ncode = "USD"\ntoken_price = "0.001"\n')
    proc = run_cli("init-db", "--catalogue", str(bad),
                   env={"BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite3'}"}, cwd=tmp_path)
    assert "unknown table [currency]" in one_line(proc)
