"""The Flask app factory of the bridge: settings, database, blueprints and pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from bridge import body_limit, flask_glue, observability, settings, web
from bridge.api import health, openapi, pricing, whmcs
from bridge.jsonx import DecimalJSONProvider


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the bridge app. ``config`` (keys as in docs/configuration.md) is merged last.

    The settings are read and validated once, here: a value that cannot be read stops the
    start with check-config's text (``settings.SettingsError``, a ValueError).
    """
    # Named for the package (not this module) so root and instance paths stay those of `bridge`.
    app = Flask("bridge", instance_relative_config=True)
    app.json_provider_class = DecimalJSONProvider
    app.json = DecimalJSONProvider(app)
    flask_glue.install_settings(app, settings.load(app.instance_path, config))
    flask_glue.init_db(app)
    observability.init_app(app)
    body_limit.init_app(app)  # before any blueprint: refused bodies never reach a view

    app.register_blueprint(health.bp)
    app.register_blueprint(pricing.bp)
    app.register_blueprint(whmcs.bp)
    app.register_blueprint(openapi.bp)
    if flask_glue.settings_of(app).bench_routes:
        app.register_blueprint(health.bench_bp)
    web.init_app(app)  # sign-up, client area and admin pages (CSRF on those blueprints only)
    return app
