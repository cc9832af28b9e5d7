"""The bridge's web pages: server-rendered HTML for sign-up and e-mail verification, client
log-in and password reset, WHMCS single sign-on, the client area (usage, invoices, "Log in to
SolusVM") and the admin pages (clients, invoices, pricing). See docs/web.md.

``init_app(app)`` registers the blueprints, their settings, CSRF protection for these
blueprints only (the WHMCS API and GetTokenPricing stay token-authenticated and
CSRF-exempt) and the one place where web errors become HTML pages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask
from flask_wtf.csrf import CSRFError

from bridge.errors import WebError
from bridge.services.ratelimit import RateLimited
from bridge.web.common import error_page as _error_page

WEB_DEFAULTS: dict[str, Any] = {
    "SIGNUP_LINK_MAX_AGE": 24 * 3600,  # seconds a verification link stays valid
    "PASSWORD_RESET_MAX_AGE": 3600,  # seconds a password reset link stays valid
    "TERMS_URL": "",  # Terms of Service; empty = the built-in placeholder page /terms
    "POSTPAY_TERMS_URL": "",  # Post-Pay Terms & Conditions; empty = not asked
    "RATE_LIMIT_SIGNUP": "5/3600",  # hits/seconds per IP (and per e-mail)
    "RATE_LIMIT_LOGIN": "10/300",  # attempts per (source address, account)
    "RATE_LIMIT_LOGIN_ADDRESS": "100/300",  # attempts per source address, all accounts together
    # wrong passwords per account from anywhere, in growing tiers (browsers that logged in before are exempt)
    "RATE_LIMIT_LOGIN_ACCOUNT": "20/900,50/3600,200/86400",
    "RATE_LIMIT_RESEND": "3/3600",
    "RATE_LIMIT_RETRY": "10/600",  # "Try again" provisioning button, per client
    "SOLUSVM_LOGIN_URL_TEMPLATE": "{solusvm_url}/auth/by_token?token={token}",
    "WEB_SOLUSVM_RETRIES": 1,
    "SITE_NAME": "Cloud Billing",
    "ADMIN_REQUIRE_2FA": False,  # every admin must turn on TOTP two-factor log-in before using /admin
}

from bridge.web.common import csrf  # noqa: E402 - the one CSRFProtect, used by our blueprints


def _settings(app: Flask) -> None:
    for key, value in WEB_DEFAULTS.items():
        app.config.setdefault(key, value)
        # BRIDGE_* environment values arrive as strings.
        if isinstance(value, bool) and isinstance(app.config[key], str):
            app.config[key] = app.config[key].strip().lower() in {"1", "true", "yes", "on"}
        elif isinstance(value, int) and isinstance(app.config[key], str):
            app.config[key] = int(app.config[key])
    lifetime = app.config.get("PERMANENT_SESSION_LIFETIME")
    if isinstance(lifetime, str | int):
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=int(lifetime))
    elif lifetime == timedelta(days=31):  # Flask's default is far too long for a billing account
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=8)
    if app.config.get("SESSION_COOKIE_NAME", "session") == "session":
        # Cookies ignore ports: SolusVM (or the demo mock) on the same host would overwrite a "session".
        app.config["SESSION_COOKIE_NAME"] = "bridge_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    secure = app.config.get("SESSION_COOKIE_SECURE", False)
    app.config["SESSION_COOKIE_SECURE"] = secure if isinstance(secure, bool) else str(secure).lower() in {
        "1", "true", "yes", "on"}
    # CSRF is checked only by our blueprints (see _protect), never app-wide.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False


def init_app(app: Flask) -> None:
    """Register the web pages on the bridge app."""
    from bridge import models as _models  # noqa: F401 - tables join the shared metadata
    from bridge.services.pricing import plain
    from bridge.web import admin, auth, clientarea, headers, signup, whmcs_sso
    from bridge.web.formatting import format_money, format_when

    _settings(app)
    csrf.init_app(app)
    headers.init_app(app)
    blueprints: list[Blueprint] = [signup.bp, auth.bp, clientarea.bp, admin.bp, whmcs_sso.bp]
    for bp in blueprints:
        app.register_blueprint(bp)
    whmcs_sso.install_log_filters(app.config)  # SSO tokens travel in a query string
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["plain"] = plain
    app.jinja_env.filters["when"] = format_when

    @app.context_processor
    def _globals() -> dict[str, Any]:
        from bridge.web.common import current_admin, current_client

        return {"site_name": app.config["SITE_NAME"], "current_client": current_client,
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
