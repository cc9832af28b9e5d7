"""``solus-bridge credentials create --name NAME``: a new WHMCS API identifier and secret."""

from __future__ import annotations

import click

from bridge.cli import make_app
from bridge.errors import BridgeError
from bridge.services import credentials


def register(group: click.Group) -> None:
    @group.group("credentials")
    def credentials_group() -> None:
        """WHMCS External API credentials."""

    @credentials_group.command("create")
    @click.option("--name", required=True, help="A label for who uses the credential.")
    @click.option("--allowed-ips", default="", help="Comma-separated IPs/CIDRs allowed to use it (default: any).")
    def create(name: str, allowed_ips: str) -> None:
        """Print a new identifier and secret (shown once; only a hash is stored)."""
        app = make_app()
        factory = app.extensions["bridge_db"]["session_factory"]
        try:
            with factory() as session, session.begin():
                cred = credentials.create(session, name, allowed_ips=allowed_ips, actor="cli")
        except BridgeError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"identifier: {cred.identifier}")
        click.echo(f"secret: {cred.secret}")

    @credentials_group.command("revoke")
    @click.argument("identifier")
    def revoke(identifier: str) -> None:
        """Revoke a credential by identifier."""
        app = make_app()
        factory = app.extensions["bridge_db"]["session_factory"]
        try:
            with factory() as session, session.begin():
                credentials.revoke(session, identifier, actor="cli")
        except BridgeError as exc:
            raise click.ClickException(exc.message) from None
        click.echo("revoked")
