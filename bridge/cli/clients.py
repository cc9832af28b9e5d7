"""``solus-bridge clients create``: a billing client from the command line (what AddClient does)."""

from __future__ import annotations

import click
from sqlalchemy import select

from bridge.cli import make_app
from bridge.errors import BridgeError
from bridge.models import Currency
from bridge.services import clients


def register(group: click.Group) -> None:
    @group.group("clients")
    def clients_group() -> None:
        """Billing clients (the WHMCS API's AddClient, for an operator at a shell)."""

    @clients_group.command("create")
    @click.option("--email", required=True)
    @click.option("--firstname", required=True)
    @click.option("--lastname", required=True)
    @click.option("--currency", "currency_code", default=None, metavar="CODE",
                  help="A catalogue currency code such as USD (default: the default currency).")
    @click.option("--country", default="", metavar="CC", help="Two-letter country code (selects tax rules).")
    @click.option("--state", default="", help="State or region (selects tax rules).")
    def create(email: str, firstname: str, lastname: str, currency_code: str | None, country: str,
               state: str) -> None:
        """Create a client and print its id (the userid GetTokenPricing and the WHMCS API use)."""


        app = make_app()
        factory = app.extensions["bridge_db"]["session_factory"]
        try:
            with factory() as session, session.begin():
                currency_id = None
                if currency_code:
                    currency_id = session.scalar(select(Currency.id).where(Currency.code == currency_code.upper()))
                    if currency_id is None:
                        codes = ", ".join(session.scalars(select(Currency.code).order_by(Currency.id)))
                        raise click.ClickException(f"no currency {currency_code.upper()} in the catalogue "
                                                   f"(it has: {codes or 'none; run solus-bridge init-db'})")
                client = clients.create(session, {"email": email, "firstname": firstname, "lastname": lastname,
                                                  "country": country, "state": state, "currency": currency_id},
                                        actor="cli")
                code = session.get(Currency, client.currency_id).code
                click.echo(f"client {client.id} created: {firstname} {lastname} <{email}>, billed in {code}")
        except BridgeError as exc:
            raise click.ClickException(exc.message) from None
