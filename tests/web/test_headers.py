"""Security headers: every route of the app (walked from ``url_map``) answers with the CSP,
nosniff and a Referrer-Policy on HTML, and no-store on the client area and admin pages; no
template carries inline script or style (which the CSP would block)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bridge.web.headers import CSP
from tests.web.conftest import Browser, enroll
from tests.web.test_admin import admin_login, make_admin

EXPECTED_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=", re.I)
SOLUSVM_BUTTON_PAGES = ("/clientarea", "/signup/terms")
TEMPLATES = Path(__file__).resolve().parents[2] / "bridge" / "web" / "templates"


def urls_of(app: Any) -> list[tuple[str, str, str]]:
    """(method, url, rule) for every rule and method, with placeholder values for its arguments."""
    out = []
    for rule in app.url_map.iter_rules():
        values: dict[str, Any] = {}
        for arg in rule.arguments:
            converter = rule._converters[arg].__class__.__name__  # noqa: SLF001 - test introspection
            values[arg] = 1 if converter == "IntegerConverter" else (
                "bridge.css" if arg == "filename" else "x")
        url = rule.build(values)[1]  # type: ignore[index]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, url, rule.rule))
    return out


def check(resp: Any, method: str, url: str) -> None:
    where = f"{method} {url} -> {resp.status_code} {resp.mimetype}"
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    if resp.mimetype == "text/html":
        csp = resp.headers.get("Content-Security-Policy")
        if url in SOLUSVM_BUTTON_PAGES and csp != EXPECTED_CSP:
            # The "Log in to SolusVM" form is answered with a redirect to SolusVM, which browsers
            # check against form-action: that origin, and only it, is added on these pages.
            csp = csp.replace("form-action 'self' https://solusvm.test;", "form-action 'self';")
        assert csp == EXPECTED_CSP, where
        assert resp.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where
        assert not INLINE.search(resp.get_data(as_text=True)), where
        if url.startswith(("/clientarea", "/admin", "/login", "/signup", "/password")):
            assert resp.headers.get("Cache-Control") == "no-store", where


def test_the_policy_is_the_teams_policy() -> None:
    assert CSP == EXPECTED_CSP


@pytest.mark.parametrize("who", ["anonymous", "client", "admin"])
def test_every_route_sends_the_security_headers(app: Any, who: str) -> None:
    browser = Browser(app)
    if who == "client":
        enroll(browser)
    elif who == "admin":
        make_admin(app)
        assert admin_login(browser).status_code == 302
    seen_html = 0
    routes = urls_of(app)
    assert len(routes) > 30
    for method, url, _rule in routes:
        if url in ("/logout", "/admin/logout"):
            continue  # would end the session the walk needs (checked at the end)
        resp = browser.http.open(url, method=method, buffered=True)
        check(resp, method, url)
        seen_html += resp.mimetype == "text/html"
    for url in ("/logout", "/admin/logout", "/no-such-page"):
        check(browser.http.open(url, method="POST" if "logout" in url else "GET", buffered=True), "*", url)
    assert seen_html > 20


def test_client_area_and_admin_pages_are_not_cached(app: Any) -> None:
    browser = Browser(app)
    enroll(browser)
    for url in ("/clientarea", "/clientarea/invoices"):
        resp = browser.get(url)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store", url
    make_admin(app)
    admin = Browser(app)
    admin_login(admin)
    for url in ("/admin/clients", "/admin/invoices", "/admin/pricing"):
        resp = admin.get(url)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store", url


def test_no_template_has_inline_script_or_style() -> None:
    files = sorted(TEMPLATES.rglob("*.html"))
    assert files
    offenders = [f"{p.relative_to(TEMPLATES)}: {m.group(0)}" for p in files
                 for m in [INLINE.search(p.read_text())] if m]
    assert offenders == []


def test_the_solusvm_button_page_allows_only_the_solusvm_login_origin(app: Any) -> None:
    browser = Browser(app)
    enroll(browser)
    csp = browser.get("/clientarea").headers["Content-Security-Policy"]
    assert "form-action 'self' https://solusvm.test;" in csp
    assert csp.replace(" https://solusvm.test", "") == EXPECTED_CSP
    assert browser.get("/clientarea/invoices").headers["Content-Security-Policy"] == EXPECTED_CSP
