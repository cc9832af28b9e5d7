"""Security headers on every response the bridge sends (see docs/web.md, "Security model").

Every HTML page gets a Content-Security-Policy that allows only this site's own scripts and
styles (templates carry no inline script, event handler, ``<style>`` or ``style=""``), may not
be framed, and may post forms only to this site. Pages of the client area, the admin and the
account pages (anything with a session, a CSRF token or a link token) are never cached.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from bridge.flask_glue import current_settings

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
REFERRER_POLICY = "same-origin"  # reset and confirmation links carry tokens in their paths
# Static files (CSS, JS) may be cached; every page rendered for a visitor may not.
CACHEABLE_ENDPOINTS = frozenset({"static", "web_signup.static"})


def allow_solusvm_login_form() -> None:
    """For a page with the "Log in to SolusVM" button: its form posts here and is answered with
    a redirect to SolusVM, and browsers check ``form-action`` against that redirect too, so the
    SolusVM login origin joins ``form-action`` on this page only."""
    solusvm = current_settings().solusvm
    try:
        url = solusvm.login_url_template.format(solusvm_url=solusvm.url.rstrip("/"), token="t")
    except (KeyError, IndexError, ValueError):
        return  # a broken template: the button's page says so, nothing to allow
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        g.csp_form_targets = [f"{parts.scheme}://{parts.netloc}"]


def policy() -> str:
    """The page's CSP: the team's policy, with any extra form target of this page."""
    extra = g.get("csp_form_targets")
    if not extra:
        return CSP
    return CSP.replace("form-action 'self'", "form-action 'self' " + " ".join(extra))


def add_security_headers(response: Response) -> Response:
    """``after_request``: nosniff everywhere; CSP, framing, referrer and no-store on HTML pages."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if (headers.get("Content-Type") or "").startswith("text/html"):
        headers.setdefault("Content-Security-Policy", policy())
        headers.setdefault("X-Frame-Options", "DENY")  # for browsers without frame-ancestors
        headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response of ``app`` (error pages included)."""
    app.after_request(add_security_headers)
