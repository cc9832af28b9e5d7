"""The bridge's web pages: server-rendered HTML for sign-up and e-mail verification, client
log-in and password reset, WHMCS single sign-on, the client area (usage, invoices, "Log in to
SolusVM") and the admin pages (clients, invoices, pricing). See docs/web.md.

``init_app(app)`` registers the blueprints, CSRF protection for these
blueprints only (the WHMCS API and GetTokenPricing stay token-authenticated and
CSRF-exempt) and the one place where web errors become HTML pages.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFError

from bridge.errors import WebError
from bridge.flask_glue import settings_of
from bridge.services.pricing import plain
from bridge.services.ratelimit import RateLimited
from bridge.web import admin, auth, clientarea, headers, signup, whmcs_sso
from bridge.web.common import (
    csrf,  # the one CSRFProtect, used by our blueprints
    current_admin,
    current_client,
)
from bridge.web.common import error_page as _error_page
from bridge.web.formatting import format_money, format_when


def init_app(app: Flask) -> None:
    """Register the web pages on the bridge app."""
    csrf.init_app(app)
    headers.init_app(app)
    blueprints: list[Blueprint] = [signup.bp, auth.bp, clientarea.bp, admin.bp, whmcs_sso.bp]
    for bp in blueprints:
        app.register_blueprint(bp)
    whmcs_sso.install_log_filters(settings_of(app))  # SSO tokens travel in a query string
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["plain"] = plain
    app.jinja_env.filters["when"] = format_when

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {"site_name": settings_of(app).web.site_name, "current_client": current_client,
                "current_admin": current_admin}

    @app.errorhandler(WebError)
    def _web_error(exc: WebError) -> Any:
        return _error_page(exc.title, exc.message, exc.status, error=exc)

    @app.errorhandler(RateLimited)
    def _rate_limited(exc: RateLimited) -> Any:
        minutes = max(1, round(exc.retry_after / 60))
        body, status = _error_page("Too many attempts",
                                   f"Please wait about {minutes} minute(s) before trying again.", 429)
        return body, status, {"Retry-After": str(exc.retry_after)}

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return _error_page("This form has expired",
                           "The page was open too long or the form was not sent from this site. "
                           "Go back, reload the page and try again.", 400)
