"""CLI (init-db, credentials create), migrations, config."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import select

from bridge import create_app, db
from bridge.cli import main
from bridge.models import ApiCredential, Base, Currency, TaxRule, TokenPrice
from bridge.services import catalogue
from bridge.services.unit_of_work import make_session_factory


def test_migration_matches_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
    from alembic.script import ScriptDirectory

    engine = db.make_engine(db_url)
    head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    assert db.current_revision(engine) == head
    engine.dispose()


def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("BRIDGE_DATABASE_URL", url)
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "cli-secret")
    return url


def test_init_db_loads_default_catalogue_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = env(tmp_path, monkeypatch)
    runner = CliRunner()
    result = runner.invoke(main, ["init-db"])
    assert result.exit_code == 0, result.output
    assert "2 currencies" in result.output
    result = runner.invoke(main, ["init-db"])  # idempotent: migrated, catalogue left alone
    assert result.exit_code == 0 and "catalogue loaded" not in result.output
    engine = db.make_engine(url)
    with make_session_factory(engine)() as s:
        rows = {c.code: (c.is_default, s.scalar(select(TokenPrice.price_per_token).where(TokenPrice.currency_id == c.id)))
                for c in s.scalars(select(Currency))}
    assert rows == {"USD": (True, Decimal("0.001")), "EUR": (False, Decimal("0.00091"))}


def test_init_db_with_catalogue_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = env(tmp_path, monkeypatch)
    cat = tmp_path / "cat.toml"
    cat.write_text('[settings]\nTaxEnabled = true\nTaxL2Compound = true\n'
                   '[[currencies]]\ncode = "GBP"\nprefix = "£"\ntoken_price = "0.0008"\ndefault = true\n'
                   '[[groups]]\nname = "VIP"\ndiscount_percent = "5"\n'
                   '[[tax_rules]]\nlevel = 1\nname = "VAT"\ncountry = "GB"\nrate = "20"\n')
    runner = CliRunner()
    for _ in range(2):  # loading twice changes nothing
        result = runner.invoke(main, ["init-db", "--catalogue", str(cat)])
        assert result.exit_code == 0, result.output
    engine = db.make_engine(url)
    with make_session_factory(engine)() as s:
        assert [c.code for c in s.scalars(select(Currency))] == ["GBP"]
        assert s.query(TaxRule).count() == 1
        assert catalogue.get_setting(s, "TaxL2Compound") == "on"


def test_bad_catalogue_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env(tmp_path, monkeypatch)
    cat = tmp_path / "bad.toml"
    cat.write_text('[[currencies]]\ncode = "USD"\ntoken_price = "0"\n')
    result = CliRunner().invoke(main, ["init-db", "--catalogue", str(cat)])
    assert result.exit_code == 1
    assert "token_price must be greater than zero" in result.output
    cat.write_text("not = [valid")
    result = CliRunner().invoke(main, ["init-db", "--catalogue", str(cat)])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_credentials_create_prints_once_and_stores_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = env(tmp_path, monkeypatch)
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    result = runner.invoke(main, ["credentials", "create", "--name", "solusvm-admin"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(": ", 1) for line in result.output.strip().splitlines())
    identifier, secret = lines["identifier"], lines["secret"]
    engine = db.make_engine(url)
    with make_session_factory(engine)() as s:
        cred = s.scalar(select(ApiCredential))
        assert cred.identifier == identifier and cred.name == "solusvm-admin"
        assert secret not in cred.secret_hash
    app = create_app()
    resp = app.test_client().post("/includes/api.php", data={"action": "GetCurrencies", "identifier": identifier,
                                                             "secret": secret})
    assert resp.get_json()["result"] == "success"


def test_config_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge import settings

    toml = tmp_path / "bridge.toml"
    toml.write_text('PRICING_TOKEN = "from-file"\nSYSTEM_URL = "https://file"\nINVOICE_DUE_DAYS = 7\n')
    cfg = settings.load(tmp_path / "inst", {"SYSTEM_URL": "https://arg"},
                        environ={"BRIDGE_CONFIG_FILE": str(toml), "BRIDGE_PRICING_TOKEN": "from-env",
                                 "BRIDGE_INVOICE_DUE_DAYS": "30"})
    assert cfg.pricing_token == "from-env"
    assert cfg.system_url == "https://arg"
    assert cfg.invoicing.due_days == 30
    assert cfg.database_url == f"sqlite:///{tmp_path / 'inst' / 'bridge.sqlite3'}"
    # the secret key is generated once and then reused
    key = cfg.secret_key
    assert len(key) == 64
    assert settings.load(tmp_path / "inst", environ={}).secret_key == key
    assert (tmp_path / "inst" / "secret_key").stat().st_mode & 0o077 == 0


def test_healthz_reports_unreachable_database(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none", "SECRET_KEY": "x"})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "error", "database": "unreachable"}


def test_subcommands_registered() -> None:
    assert {"init-db", "credentials", "serve"} <= set(main.commands)


