"""``solus-bridge invoices generate --period YYYY-MM``: only the invoicing step of the cron.

Exit codes: 0 all clients invoiced (or already invoiced) and mailed; 1 something failed
(listed in the summary; rerun to complete it) or the database is unusable; 2 bad arguments
or configuration.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bridge.cli import cli_logging, make_app
from bridge.flask_glue import settings_of
from bridge.services import invoicing
from bridge.services.mailer import Mailer
from bridge.services.solusvm_client import SolusVMClient, connect
from contracts.solusvm_usage import parse_period

EXIT_FAILED = 1
EXIT_USAGE = 2

log = logging.getLogger("bridge.invoicing")


class ProgressReporter:
    """``click.progressbar`` on a terminal, a plain log line every ~5 % otherwise."""

    def __init__(self, label: str, *, tty: bool | None = None, echo: Callable[[str], None] | None = None) -> None:
        self.label = label
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.echo = echo or (lambda line: click.echo(line, err=True))
        self._bar: Any = None
        self._done = 0
        self._next_report = 0

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            if self._bar is None:
                self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
                self._bar.__enter__()
            self._bar.update(done - self._done)
        elif done >= self._next_report or done == total:
            self.echo(f"{self.label}: {done}/{total} clients")
            self._next_report = done + max(1, total // 20)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def services(app: Flask) -> tuple[sessionmaker[Session], SolusVMClient, Mailer]:
    """The session factory, SolusVM client and mailer of an app (``click.UsageError`` if SolusVM is unset)."""
    settings = settings_of(app)
    factory: sessionmaker[Session] = app.extensions["bridge_db"]["session_factory"]
    try:
        solus = connect(settings.solusvm, settings.outbox)
    except ValueError as exc:
        raise click.UsageError(f"{exc} (set BRIDGE_SOLUSVM_URL and BRIDGE_SOLUSVM_API_TOKEN)") from None
    return factory, solus, Mailer(settings.mail)


def mail_wording(text: str, mailer: Mailer | None) -> str:
    """Say where invoice mail went: "written to the outbox <dir>" when no SMTP server is set."""
    settings = getattr(mailer, "settings", None)
    if mailer is None or settings is None or settings.server:
        return text
    return text.replace(" mails sent;", f" mails written to the outbox {settings.outbox_dir} (no MAIL_SERVER "
                                        "configured, nothing was sent);")


def database_message(exc: Exception) -> str:
    """A one-line explanation of a database failure (no traceback for the operator)."""
    first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    hint = " (run `solus-bridge init-db` first)" if "no such table" in first or "does not exist" in first else ""
    return f"database error: {first}{hint}"


def register(group: click.Group) -> None:
    @group.group("invoices")
    def invoices_group() -> None:
        """Postpaid invoices from SolusVM usage."""

    @invoices_group.command("generate")
    @click.option("--period", required=True, metavar="YYYY-MM", help="The billing month to invoice.")
    @click.option("--no-mail", is_flag=True, help="Do not e-mail the invoices.")
    def generate_cmd(period: str, no_mail: bool) -> None:
        """Invoice every client for its SolusVM usage in PERIOD (safe to rerun)."""
        try:
            year, month = parse_period(period)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from None
        cli_logging()
        app = make_app()
        factory, solus, mailer = services(app)
        progress = ProgressReporter(f"invoicing {period}")
        try:
            summary = invoicing.generate_period(factory, solus, year, month, settings=settings_of(app),
                                                mailer=None if no_mail else mailer, progress=progress)
        except invoicing.PeriodNotOver as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from None
        except SQLAlchemyError as exc:
            raise click.ClickException(database_message(exc)) from None
        finally:
            progress.close()
        click.echo(mail_wording(summary.render(), None if no_mail else mailer))
        if not summary.ok:
            sys.exit(EXIT_FAILED)
