"""``solus-bridge``: the bridge's command line.

Subcommands live in sibling modules, one per concern, each exposing ``register(group)``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click
from flask import Flask

from bridge.app import create_app
from bridge.db import schema_problem
from bridge.logs import RequestIdFilter

SUBCOMMAND_MODULES = ["db", "clients", "credentials", "serve", "users", "invoices", "invoice_show", "cron", "demo", "check_config", "admin"]


def make_app(config: dict[str, Any] | None = None) -> Flask:
    """The Flask app the commands work on (config from the environment as usual)."""
    try:
        return create_app(config)
    except ValueError as exc:  # a setting that cannot work: say which, without a traceback
        raise click.ClickException(f"configuration: {exc}") from None


def database_ready(app: Flask) -> None:
    """Refuse to go on (one line, exit 1) unless the app's database is reachable and migrated."""
    problem = schema_problem(app.extensions["bridge_db"]["engine"])
    if problem:
        raise click.ClickException(problem)


def cli_logging() -> None:
    """Plain log lines for long-running commands, each with the run's request id.

    The id is the one sent to SolusVM as ``X-Request-ID`` (bridge.logs), so a
    cron run's lines can be matched with SolusVM's logs.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())


@click.group()
@click.version_option(package_name="solusvm-billing-bridge", prog_name="solus-bridge")
def main() -> None:
    """SolusVM 2 billing bridge."""


for _name in SUBCOMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(main)
