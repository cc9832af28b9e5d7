"""``solus-bridge admin create --name NAME --password PW``: accounts for the /admin pages (and
the WHMCS API's username + md5(password) log-in);
``solus-bridge admin reset-2fa --name NAME``: turn off a lost authenticator."""

from __future__ import annotations

import click
from sqlalchemy import select

from bridge.cli import make_app
from bridge.errors import BridgeError, WebError
from bridge.models import Admin
from bridge.services import accounts, audit, web_sessions


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
        app = make_app()
        factory = app.extensions["bridge_db"]["session_factory"]
        try:
            with factory() as session, session.begin():
                admin = accounts.create_admin(session, name.strip(), password)
        except (WebError, BridgeError) as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"admin {admin.name} (id {admin.id}) ready")
        # Admins whose password was set before migration 0007 have no MD5 verifier; setting
        # the password here is what gives them one.
        click.echo(f"WHMCS API: username={admin.name} with password=<lowercase hex MD5 of this password> "
                   "now authenticates as this admin")

    @admin_group.command("reset-2fa")
    @click.option("--name", required=True, help="Log-in name of the admin who lost their authenticator.")
    def reset_2fa(name: str) -> None:
        """Turn an admin's two-factor log-in off (they enrol again at the next log-in if it is required)."""


        app = make_app()
        factory = app.extensions["bridge_db"]["session_factory"]
        with factory() as session, session.begin():
            admin = session.scalar(select(Admin).where(Admin.name == name.strip()))
            if admin is None:
                raise click.ClickException(f"no admin named {name.strip()!r}")
            admin.totp_secret, admin.totp_enabled, admin.totp_last_step = "", False, 0
            web_sessions.end_all(session, "admin", admin.id)
            audit.record(session, "cli", "admin.totp_disabled", "admin", admin.id, {})
        click.echo(f"two-factor log-in of admin {admin.name} is off; their sessions were ended")
