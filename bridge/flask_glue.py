"""The Flask side of the domain: the app's ``Settings`` and the request's database session.

``bridge.db`` and ``bridge.settings`` are Flask-free; this module ties them to an app. The
settings live in ``app.extensions["bridge.settings"]``; ``app.config`` keeps only what Flask
and its extensions read themselves (secret key, body limit, session cookie, CSRF switch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bridge import db
from bridge.services.unit_of_work import UnitOfWork, make_session_factory
from bridge.settings import Settings

SETTINGS_KEY = "bridge.settings"
DB_KEY = "bridge_db"


def flask_config(settings: Settings) -> dict[str, Any]:
    """The ``app.config`` keys Flask and Flask-WTF read, from the settings."""
    web = settings.web
    return {
        "SECRET_KEY": settings.secret_key,
        "MAX_CONTENT_LENGTH": settings.max_content_length,
        "PERMANENT_SESSION_LIFETIME": web.session_lifetime,
        "SESSION_COOKIE_NAME": web.session_cookie_name,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": web.session_cookie_samesite,
        "SESSION_COOKIE_SECURE": web.session_cookie_secure,
        # CSRF is checked only by the web blueprints (bridge.web), never app-wide.
        "WTF_CSRF_CHECK_DEFAULT": False,
    }


def install_settings(app: Flask, settings: Settings) -> None:
    """Make ``settings`` the app's (and copy the Flask keys into ``app.config``)."""
    app.extensions[SETTINGS_KEY] = settings
    app.config.update(flask_config(settings))


def settings_of(app: Flask) -> Settings:
    """The app's settings."""
    settings: Settings = app.extensions[SETTINGS_KEY]
    return settings


def current_settings() -> Settings:
    """The settings of the app handling the current request (or app context)."""
    return settings_of(current_app)


def replace_settings(app: Flask, overrides: Mapping[str, Any]) -> Settings:
    """Rebuild the app's settings with ``overrides`` (keys as in docs/configuration.md) on top:
    for tests and the demo, which learns its public URL only once its server runs."""
    settings = settings_of(app).with_values(overrides)
    install_settings(app, settings)
    return settings


# --- the database ---------------------------------------------------------------------------


def init_db(app: Flask) -> None:
    """Attach engine and session factory to ``app.extensions['bridge_db']``.

    A URL that cannot work (see ``db.url_problem``) is a ValueError naming the fix.
    """
    url = settings_of(app).database_url
    problem = db.url_problem(url)
    if problem:
        raise ValueError(problem)
    engine = db.make_engine(url)
    app.extensions[DB_KEY] = {"engine": engine, "session_factory": make_session_factory(engine)}
    app.teardown_appcontext(_remove_session)


def get_session() -> Session:
    """The current request's session (created on first use, closed at teardown)."""
    session: Session | None = g.get("_bridge_session")
    if session is None:
        session = get_session_factory()()
        g._bridge_session = session
    return session


def get_session_factory() -> sessionmaker[Session]:
    """The app's session factory (inside an app context)."""
    factory: sessionmaker[Session] = current_app.extensions[DB_KEY]["session_factory"]
    return factory


def unit_of_work() -> UnitOfWork:
    """A unit of work for this request: a payment may lift an overdue hold, and the SolusVM
    changes it queues are tried after commit within the request's budget."""
    return UnitOfWork.for_settings(get_session_factory(), current_settings())


def get_engine() -> Engine:
    """The app's engine (inside an app context)."""
    engine: Engine = current_app.extensions[DB_KEY]["engine"]
    return engine


def _remove_session(exc: BaseException | None) -> None:
    session = g.pop("_bridge_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
