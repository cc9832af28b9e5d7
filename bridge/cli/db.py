"""``solus-bridge init-db [--catalogue FILE]``."""

from __future__ import annotations

import os

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bridge import db
from bridge.cli import make_app
from bridge.errors import BridgeError
from bridge.flask_glue import settings_of
from bridge.services import catalogue


def init_db(config: dict | None = None, catalogue_file: str | None = None) -> dict[str, int] | None:
    """Migrate to head, then load a catalogue (the default one when the DB has no currency yet)."""
    app = make_app(config)
    engine = app.extensions["bridge_db"]["engine"]
    db.upgrade(engine)
    factory = app.extensions["bridge_db"]["session_factory"]
    path = catalogue_file or settings_of(app).catalogue_file or None
    with factory() as session, session.begin():
        if path:
            return catalogue.load_toml(session, path, actor="cli")
        if not catalogue.has_currency(session):
            return catalogue.load_toml(session, catalogue.DEFAULT_CATALOGUE, actor="cli")
    return None


def where(url: str) -> str:
    """The database as a person looks for it: the file of a SQLite URL, else the URL without password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return os.path.abspath(parsed.database)
    return parsed.render_as_string(hide_password=True)


def register(group: click.Group) -> None:
    @group.command("init-db")
    @click.option("--catalogue", "catalogue_file", type=click.Path(exists=True, dir_okay=False),
                  help="TOML catalogue: currencies, token prices, groups, tax rules, tax settings.")
    def init_db_cmd(catalogue_file: str | None) -> None:
        """Create or migrate the database and load the pricing catalogue.

        The database is BRIDGE_DATABASE_URL, by default SQLite in the instance folder
        (the command prints the path).
        """
        url = settings_of(make_app()).database_url  # a URL that cannot work stops here, in one line
        try:
            counts = init_db(catalogue_file=catalogue_file)
        except BridgeError as exc:
            raise click.ClickException(exc.message) from None
        except SQLAlchemyError as exc:
            raise click.ClickException(db.error_line(exc, url)) from None
        click.echo(f"database {where(url)} is at the newest revision")
        if counts:
            click.echo(f"catalogue loaded: {counts['currencies']} currencies, {counts['groups']} groups, "
                       f"{counts['tax_rules']} tax rules")
