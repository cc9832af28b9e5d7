"""Security headers on every response the bridge sends (see docs/web.md, "Security model").

Every HTML page gets a Content-Security-Policy that allows only this site's own scripts and
styles (templates carry no inline script, event handler, ``<style>`` or ``style=""``), may not
be framed, and may post forms only to this site. Pages of the client area, the admin and the
account pages (anything with a session, a CSRF token or a link token) are never cached.
"""

from __future__ import annotations

from flask import Flask, Response, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
REFERRER_POLICY = "same-origin"  # reset and confirmation links carry tokens in their paths
# Static files (CSS, JS) may be cached; every page rendered for a visitor may not.
CACHEABLE_ENDPOINTS = frozenset({"static", "web_signup.static"})


def add_security_headers(response: Response) -> Response:
    """``after_request``: nosniff everywhere; CSP, framing, referrer and no-store on HTML pages."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")  # for browsers without frame-ancestors
        headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response of ``app`` (error pages included)."""
    app.after_request(add_security_headers)
