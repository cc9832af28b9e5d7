"""``solus-bridge admin create --name NAME --password PW``: accounts for the /admin pages."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    @group.group("admin")
    def admin_group() -> None:
        """Admin accounts for the web admin pages."""

    @admin_group.command("create")
    @click.option("--name", required=True, help="Log-in name.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  help="Password (prompted when omitted). An existing admin's password is replaced.")
    def create(name: str, password: str) -> None:
        """Create an admin, or set a new password for an existing one."""
        from bridge.cli import make_app
        from bridge.errors import BridgeError
        from bridge.web import accounts
        from bridge.web.errors import WebError

        app = make_app()
        factory = app.extensions["bridge_db"]["session_factory"]
        try:
            with factory() as session, session.begin():
                admin = accounts.create_admin(session, name.strip(), password)
        except (WebError, BridgeError) as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"admin {admin.name} (id {admin.id}) ready")
