"""``solus-bridge``: the bridge's command line.

Subcommands live in sibling modules that expose ``register(group)``; only those present
are loaded, so each issue adds its own module without touching this file.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

SUBCOMMAND_MODULES = ["db", "credentials", "serve", "users", "invoices", "cron", "demo", "check_config", "admin"]


def make_app(config: dict[str, Any] | None = None) -> Any:
    """The Flask app the commands work on (config from the environment as usual)."""
    from bridge import create_app

    return create_app(config)


@click.group()
def main() -> None:
    """SolusVM 2 billing bridge."""


for _name in SUBCOMMAND_MODULES:
    if importlib.util.find_spec(f"{__name__}.{_name}") is not None:
        importlib.import_module(f"{__name__}.{_name}").register(main)
