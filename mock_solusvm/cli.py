"""``mock-solusvm serve --host --port --api-token (repeatable) --seed FILE``."""

from __future__ import annotations

import errno
import json
import sys

import click

from .app import DEFAULTS, create_app
from .server import ThreadedServer

DEFAULT_TOKEN = DEFAULTS["API_TOKENS"][0]


@click.group()
@click.version_option(package_name="solusvm-billing-bridge", prog_name="mock-solusvm")
def main() -> None:
    """The SolusVM 2 mock."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port")
@click.option("--api-token", "api_tokens", multiple=True,
              help=f"admin Bearer token (repeatable); without one the mock accepts {DEFAULT_TOKEN!r}")
@click.option("--seed", "seed_file", type=click.File("r"), help="seed document for the default namespace")
@click.option("--validate-responses", is_flag=True, help="check every response against contracts.solusvm")
def serve(host: str, port: int, api_tokens: tuple[str, ...], seed_file: object, validate_responses: bool) -> None:
    """Serve the mock over HTTP (granian, one worker) until interrupted (Ctrl-C)."""
    config: dict[str, object] = {"VALIDATE_RESPONSES": validate_responses}
    if api_tokens:
        config["API_TOKENS"] = list(api_tokens)
    if seed_file is not None:
        try:
            config["SEED"] = json.load(seed_file)  # type: ignore[arg-type]
        except ValueError as err:
            raise click.BadParameter(f"not JSON: {err}", param_hint="--seed") from None
    try:
        app = create_app(config)
    except Exception as err:  # a bad seed: say so, no traceback
        message = getattr(err, "message", str(err))
        raise click.ClickException(f"cannot load the seed: {message} {getattr(err, 'errors', '')}") from None
    try:
        server = ThreadedServer(app, host, port)
    except OSError as err:  # one line, no traceback
        reason = "address already in use" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
    # The URL ends the line when tokens were given (scripts take the last word); the default
    # token is named, so a first run needs no --help.
    token = "" if api_tokens else f" (API token: {DEFAULT_TOKEN})"
    print(f"mock-solusvm listening on {server.url}{token}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sys.stdout.flush()
