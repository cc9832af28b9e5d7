"""The Flask app factory of the bridge: configuration, database, blueprints and pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the bridge app. ``config`` (keys as in docs/configuration.md) is merged last."""
    from bridge import db
    from bridge.api import health, openapi, pricing, whmcs
    from bridge.config import check_system_url, load_config
    from bridge.jsonx import DecimalJSONProvider

    # Named for the package (not this module) so root and instance paths stay those of `bridge`.
    app = Flask("bridge", instance_relative_config=True)
    app.json_provider_class = DecimalJSONProvider
    app.json = DecimalJSONProvider(app)
    app.config.update(load_config(app.instance_path, config))
    # Fail at start-up, not on the first sign-up: e-mailed links are built from SYSTEM_URL.
    check_system_url(app.config.get("SYSTEM_URL"))
    db.init_app(app)
    from bridge import observability

    observability.init_app(app)
    from bridge import body_limit

    body_limit.init_app(app)  # before any blueprint: refused bodies never reach a view

    app.register_blueprint(health.bp)
    app.register_blueprint(pricing.bp)
    app.register_blueprint(whmcs.bp)
    app.register_blueprint(openapi.bp)
    if app.config.get("BENCH_ROUTES"):
        app.register_blueprint(health.bench_bp)
    from bridge import web  # sign-up, client area and admin pages (CSRF on those blueprints only)

    web.init_app(app)
    return app
