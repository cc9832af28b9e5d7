"""``solus-bridge invoices generate`` and ``solus-bridge cron`` in-process (click's CliRunner).

The in-process SolusVM mock intercepts the CLI's own ``requests`` calls, so these run
fast; the real-process behaviour (concurrency, kill -9, the lock) is in test_processes.py.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.flask_glue import settings_of
from tests.invoicing.conftest import MOCK_URL, TOKEN, server, user
from tests.smtp_fixture import SMTPServer

OCT, DEL_700 = "2026-10-01T00:00:00Z", "2026-10-30T04:00:00Z"


@pytest.fixture
def cli(world, monkeypatch):
    for key, value in {"DATABASE_URL": settings_of(world.app).database_url, "SOLUSVM_URL": MOCK_URL,
                       "SOLUSVM_API_TOKEN": TOKEN, "SECRET_KEY": "k" * 32, "SOLUSVM_RETRIES": "1"}.items():
        monkeypatch.setenv(f"BRIDGE_{key}", value)
    monkeypatch.delenv("BRIDGE_MAIL_SERVER", raising=False)
    cid = world.client("cli@example.com")
    world.seed([user(1, cid)], [server(1, 1, OCT, DEL_700)])

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    invoke.world = world
    invoke.cid = cid
    return invoke


def test_generate_invoices_a_month_and_prints_a_summary(cli):
    result = cli("invoices", "generate", "--period", "2026-10", "--no-mail")
    assert result.exit_code == 0, result.output
    assert "invoicing 2026-10: 1 clients, 1 invoices created (0 already existed, 0 empty), 1 lines, " \
           "totals 4.90 USD" in result.output
    assert "invoicing 2026-10: 1/1 clients" in result.output  # plain progress line, not a terminal
    [inv] = cli.world.invoices()
    assert (inv.client_id, inv.total) == (cli.cid, D("4.90"))
    again = cli("invoices", "generate", "--period", "2026-10", "--no-mail")
    assert again.exit_code == 0 and "0 invoices created (1 already existed" in again.output


def test_generate_mails_the_client(cli, smtp_server, monkeypatch):
    monkeypatch.setenv("BRIDGE_MAIL_SERVER", smtp_server.host)
    monkeypatch.setenv("BRIDGE_MAIL_PORT", str(smtp_server.port))
    result = cli("invoices", "generate", "--period", "2026-10")
    assert result.exit_code == 0, result.output
    [msg] = smtp_server.wait_for(1)
    assert msg["To"] == "cli@example.com" and "Total: 4.90 USD" in SMTPServer.body(msg)


def test_generate_exits_1_when_something_failed(cli):
    cli.world.mock.faults.add(method="GET", path="/api/v1/usage", status=503)
    result = cli("invoices", "generate", "--period", "2026-10", "--no-mail")
    assert result.exit_code == 1
    assert "FAILED: client" in result.output and "next run will retry" in result.output
    assert cli.world.invoices() == []


@pytest.mark.parametrize("period", ["2026-13", "26-10", "2026/10", "", "2026-1"])
def test_a_bad_period_is_a_usage_error(cli, period):
    result = cli("invoices", "generate", "--period", period)
    assert result.exit_code == 2 and "period must be YYYY-MM" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("when", ["2026-02-30", "2026-11-1", "tomorrow"])
def test_a_bad_cron_date_is_a_usage_error(cli, when):
    result = cli("cron", "--date", when)
    assert result.exit_code == 2 and "must be YYYY-MM-DD" in result.output


def test_solusvm_not_configured_is_a_usage_error(cli, monkeypatch):
    monkeypatch.setenv("BRIDGE_SOLUSVM_URL", "")
    result = cli("invoices", "generate", "--period", "2026-10")
    assert result.exit_code == 2 and "SolusVM URL is not configured" in result.output


def test_an_unmigrated_database_is_a_clear_error(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("BRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    result = cli("invoices", "generate", "--period", "2026-10", "--no-mail")
    assert result.exit_code == 1 and "run `solus-bridge init-db` first" in result.output
    assert "Traceback" not in result.output


def test_cron_with_a_date_invoices_the_month_before(cli):
    quiet = cli("cron", "--date", "2026-11-15", "--no-mail")
    assert quiet.exit_code == 0, quiet.output
    assert "invoicing: skipped" in quiet.output and cli.world.invoices() == []
    result = cli("cron", "--date", "2026-11-01", "--no-mail")
    assert result.exit_code == 0, result.output
    assert "invoicing 2026-10: 1 clients, 1 invoices created" in result.output
    assert [i.period for i in cli.world.invoices()] == ["2026-10"]
    # The run's SolusVM calls carry one cron run id (bridge.observability.run_context).
    ids = {{k.lower(): v for k, v in r["headers"].items()}.get("x-request-id")
           for r in cli.world.mock.journal.requests(path="/api/v1/usage")}
    assert len(ids) == 1 and ids.pop().startswith("cron-")  # only the run on the 1st reads usage


def test_progress_off_a_terminal_is_a_line_every_five_percent():
    from bridge.cli.invoices import ProgressReporter

    lines: list[str] = []
    progress = ProgressReporter("invoicing 2026-10", tty=False, echo=lines.append)
    for done in range(1, 101):
        progress(done, 100)
    assert lines[0] == "invoicing 2026-10: 1/100 clients" and lines[-1] == "invoicing 2026-10: 100/100 clients"
    assert 20 <= len(lines) <= 22


def test_the_running_month_cannot_be_invoiced(cli):
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    result = cli("invoices", "generate", "--period", f"{now:%Y-%m}", "--no-mail")
    assert result.exit_code == 2 and "has not ended yet" in result.output
    assert cli.world.invoices() == []


def test_cron_with_a_future_date_refuses_to_invoice_an_open_month(cli):
    result = cli("cron", "--date", "2999-02-01", "--no-mail")
    assert result.exit_code == 1
    assert "invoicing: failed (2999-01 has not ended yet" in result.output
    assert cli.world.invoices() == []
