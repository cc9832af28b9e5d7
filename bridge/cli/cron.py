"""``solus-bridge cron [--date YYYY-MM-DD]``: the daily automation.

Exit codes: 0 every step succeeded and every month due is invoiced in full; 1 a step failed
or invoicing is incomplete (the next run retries), or the database is unusable; 2 bad arguments or configuration; 75 (EX_TEMPFAIL) another cron run holds
the lock, nothing was done.
"""

from __future__ import annotations

import sys
from datetime import date

import click
from sqlalchemy.exc import SQLAlchemyError

from bridge import logs
from bridge.cli import cli_logging, make_app
from bridge.cli.invoices import ProgressReporter, database_message, mail_wording, services
from bridge.flask_glue import settings_of
from bridge.services import cron, locks

EXIT_FAILED = 1
EXIT_LOCKED = 75


def register(group: click.Group) -> None:
    @group.command("cron")
    @click.option("--date", "when", metavar="YYYY-MM-DD",
                  help="Run as if today were this date (UTC), e.g. to invoice a month by hand.")
    @click.option("--no-mail", is_flag=True, help="Do not e-mail invoices.")
    def cron_cmd(when: str | None, no_mail: bool) -> None:
        """Apply the overdue rules, send pending SolusVM changes and invoice every ended month
        without a completed run (last month on the 1st; a missed or unfinished one any day)."""
        if when is None:
            today = cron.today_utc()
        else:
            try:
                if len(when) != 10:
                    raise ValueError
                today = date.fromisoformat(when)
            except ValueError:
                raise click.BadParameter(f"must be YYYY-MM-DD, got {when!r}", param_hint="--date") from None
        cli_logging()
        app = make_app()
        factory, solus, mailer = services(app)
        progress = ProgressReporter("invoicing")
        try:
            with logs.run_context("cron"):  # one id for the run's log lines and SolusVM calls
                summary = cron.run_daily(settings_of(app), today=today, session_factory=factory, solus=solus,
                                         mailer=None if no_mail else mailer, out=click.echo, progress=progress)
        except locks.LockHeld as exc:
            click.echo(f"cron: {exc}", err=True)
            sys.exit(EXIT_LOCKED)
        except SQLAlchemyError as exc:
            raise click.ClickException(database_message(exc)) from None
        finally:
            progress.close()
        click.echo(mail_wording(summary.render(), None if no_mail else mailer))
        if not summary.ok:
            sys.exit(EXIT_FAILED)
