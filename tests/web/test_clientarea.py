"""Client log-in, dashboard panels, invoices and security rules (Flask test client)."""

from __future__ import annotations

import urllib.parse
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from bridge.flask_glue import settings_of
from bridge.models import Client, Currency
from bridge.services import clients as client_service
from bridge.services import invoices as invoice_service
from bridge.web.common import safe_next
from bridge.web.formatting import format_money
from contracts.solusvm_usage import quantize_money
from tests.web.conftest import PASSWORD, Browser, csrf_of, enroll, session_of

USD = {"prefix": "$", "suffix": " USD", "format": 2, "decimals": 2}


def make_client(app: Any, email_addr: str, *, verified: bool = True, currency: str = "USD") -> int:
    with session_of(app) as s, s.begin():
        cur = s.scalar(select(Currency.id).where(Currency.code == currency))
        c = client_service.create(s, {"firstname": "Cy", "lastname": "Test", "email": email_addr,
                                      "password2": PASSWORD, "email_verified": verified, "currency": cur},
                                  actor="test")
        return c.id


def make_invoice(app: Any, client_id: int, period: str = "2026-10", **kw: Any) -> int:
    with session_of(app) as s, s.begin():
        inv = invoice_service.create_invoice(
            s, client_id, [{"description": "web-1 (1 Core) 700 h", "amount": Decimal("1234.5"), "taxed": True,
                            "hours": 700, "tokens": 4900, "server_name": "web-1"}],
            date=date(2026, 11, 1), duedate=date(2026, 11, 15), period=period, actor="test", **kw)
        return inv.id


def log_in(browser: Browser, email_addr: str, password: str = PASSWORD) -> Any:
    return browser.submit("/login", {"email": email_addr, "password": password})


def test_login_and_not_enrolled_panel(browser: Browser, app: Any) -> None:
    make_client(app, "cy@example.com")
    resp = log_in(browser, "cy@example.com")
    assert resp.status_code == 302 and resp.location.endswith("/clientarea")
    html = browser.get("/clientarea").get_data(as_text=True)
    assert 'id="panel-not-enrolled"' in html and 'href="/signup/terms"' in html
    assert "Log in to SolusVM" not in html


def test_wrong_password_and_unknown_email_get_the_same_answer(browser: Browser, app: Any) -> None:
    make_client(app, "cy@example.com")
    wrong = log_in(browser, "cy@example.com", "not the password 1")
    unknown = log_in(browser, "nobody@example.com", "not the password 1")
    assert wrong.status_code == unknown.status_code == 401
    assert "E-mail or password is not correct." in wrong.get_data(as_text=True)
    assert "E-mail or password is not correct." in unknown.get_data(as_text=True)
    assert browser.get("/clientarea").status_code == 302


def test_unverified_client_must_confirm_first(browser: Browser, app: Any) -> None:
    make_client(app, "cy@example.com", verified=False)
    resp = log_in(browser, "cy@example.com")
    assert resp.status_code == 403
    assert "confirm your e-mail" in resp.get_data(as_text=True)


def test_client_area_requires_login(browser: Browser) -> None:
    for url in ("/clientarea", "/clientarea/invoices", "/clientarea/invoices/1", "/signup/terms"):
        resp = browser.get(url)
        assert resp.status_code == 302 and "/login" in resp.location, url


def test_invoices_list_and_detail_in_the_clients_currency(browser: Browser, app: Any) -> None:
    cid = make_client(app, "eu@example.com", currency="EUR")
    inv = make_invoice(app, cid)
    log_in(browser, "eu@example.com")
    listing = browser.get("/clientarea/invoices").get_data(as_text=True)
    assert f"/clientarea/invoices/{inv}" in listing
    assert "1.234,50 EUR" in listing and "€" not in listing  # WHMCS format 3, the currency shown once
    detail = browser.get(f"/clientarea/invoices/{inv}")
    html = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert "web-1 (1 Core) 700 h" in html and "4900" in html
    assert 'id="total">1.234,50 EUR' in html and 'id="balance">1.234,50 EUR' in html


def test_invoice_with_taxes_shows_tax_lines(browser: Browser, app: Any) -> None:
    cid = make_client(app, "tax@example.com")
    inv = make_invoice(app, cid, taxrate=Decimal("19"))
    with session_of(app) as s:
        invoice = invoice_service.get(s, inv)
        expected_total = invoice.total
    log_in(browser, "tax@example.com")
    html = browser.get(f"/clientarea/invoices/{inv}").get_data(as_text=True)
    assert "Tax 19%" in html  # no rule names this rate: the generic name
    from bridge.web.formatting import format_money

    with session_of(app) as s:
        usd = s.scalar(select(Currency).where(Currency.code == "USD"))
        assert f'id="total">{format_money(expected_total, usd)}' in html


def test_client_cannot_see_another_clients_invoice(browser: Browser, app: Any) -> None:
    a = make_client(app, "a@example.com")
    b = make_client(app, "b@example.com")
    make_invoice(app, a)
    b_inv = make_invoice(app, b)
    log_in(browser, "a@example.com")
    resp = browser.get(f"/clientarea/invoices/{b_inv}")
    assert resp.status_code == 404
    assert "b@example.com" not in resp.get_data(as_text=True)
    assert f"/clientarea/invoices/{b_inv}" not in browser.get("/clientarea/invoices").get_data(as_text=True)
    assert browser.get("/clientarea/invoices/999999").status_code == 404


@pytest.mark.parametrize("huge", ["999999999999999999999999", str(2**63), str(2**31)])
def test_huge_invoice_id_is_404(browser: Browser, app: Any, huge: str) -> None:
    make_client(app, "cy@example.com")
    log_in(browser, "cy@example.com")
    resp = browser.get(f"/clientarea/invoices/{huge}")
    assert resp.status_code == 404
    assert "There is nothing here" in resp.get_data(as_text=True)


def test_draft_invoices_are_not_shown(browser: Browser, app: Any) -> None:
    cid = make_client(app, "d@example.com")
    inv = make_invoice(app, cid, status="Draft")
    log_in(browser, "d@example.com")
    assert browser.get(f"/clientarea/invoices/{inv}").status_code == 404


def test_post_without_csrf_token_is_refused(browser: Browser, app: Any) -> None:
    for url, data in (("/signup", {"firstname": "A", "lastname": "B", "email": "x@example.com",
                                   "password": PASSWORD}),
                      ("/login", {"email": "x@example.com", "password": PASSWORD}),
                      ("/admin/login", {"name": "root", "password": PASSWORD})):
        resp = browser.http.post(url, data=data)
        assert resp.status_code == 400, url
        assert "This form has expired" in resp.get_data(as_text=True)
    with session_of(app) as s:
        assert s.scalar(select(Client).where(Client.email_normalized == "x@example.com")) is None


def test_api_endpoints_stay_csrf_exempt(browser: Browser) -> None:
    # Token-authenticated machine APIs answer in their own format, never with a CSRF error.
    resp = browser.http.post("/includes/api.php", data={"action": "GetCurrencies", "responsetype": "json"})
    assert resp.is_json and resp.get_json()["result"] == "error"
    resp = browser.http.post("/modules/addons/solusio/api/", data={"action": "GetTokenPricing", "userid": "1",
                                                                 "token": "wrong"})
    assert "This form has expired" not in resp.get_data(as_text=True)


def test_session_cookie_flags_and_expiry(browser: Browser, app: Any) -> None:
    make_client(app, "cy@example.com")
    with time_machine.travel("2026-11-22 08:00:00Z", tick=False):
        resp = log_in(browser, "cy@example.com")
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
        assert browser.get("/clientarea").status_code == 200
    later = settings_of(app).web.session_lifetime + timedelta(minutes=1)
    assert later < timedelta(days=1)
    with time_machine.travel("2026-11-22 08:00:00Z", tick=False) as traveller:
        traveller.shift(later)
        # The signed cookie carries its own age; an expired one is ignored by the server.
        assert browser.get("/clientarea").status_code == 302


def test_logout_ends_the_session(browser: Browser, app: Any) -> None:
    make_client(app, "cy@example.com")
    log_in(browser, "cy@example.com")
    page = browser.get("/clientarea").get_data(as_text=True)
    browser.http.post("/logout", data={"csrf_token": csrf_of(page)})
    assert browser.get("/clientarea").status_code == 302


NASTY_NEXT = ["//evil.example/x", "/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example",
              "/%20/evil.example", "%09//evil.example", "/%5cevil.example", "/%5c%5cevil.example",
              "%5c%5cevil.example", "/%5c/evil.example", "https://evil.example", "https:evil.example",
              "javascript:alert(1)", "/%00/evil.example", "/%7f/evil.example", "/%e3%80%80/evil.example",
              "evil.example", "///evil.example", "/\t/evil.example"]


@pytest.mark.parametrize("target", NASTY_NEXT)
def test_next_parameter_cannot_leave_the_site(browser: Browser, app: Any, target: str) -> None:
    make_client(app, "cy@example.com")
    resp = browser.submit(f"/login?next={target}", {"email": "cy@example.com", "password": PASSWORD})
    assert resp.status_code == 302
    assert resp.location == "/clientarea"


@pytest.mark.parametrize("target", ["/clientarea/invoices", "/clientarea/invoices?x=1", "/signup/terms"])
def test_next_parameter_keeps_local_paths(target: str) -> None:
    assert safe_next(target, "/default") == target


@pytest.mark.parametrize("target", [urllib.parse.unquote(t) for t in NASTY_NEXT] + ["/\\evil.example", "\t/x"])
def test_safe_next_refuses_the_decoded_variants(target: str) -> None:
    assert safe_next(target, "/default") == "/default"


def test_enrolled_dashboard_shows_usage_so_far(browser: Browser, app: Any, mock: Any) -> None:
    enroll(browser)
    html = browser.get("/clientarea").get_data(as_text=True)
    assert 'id="usage"' in html and 'id="usage-total">0.00 USD' in html


def test_sso_refused_with_a_message_when_not_enrolled(browser: Browser, app: Any) -> None:
    make_client(app, "cy@example.com")
    log_in(browser, "cy@example.com")
    resp = browser.submit("/clientarea", {}, action="/clientarea/solusvm")
    assert resp.status_code == 409
    assert "not enrolled" in resp.get_data(as_text=True)


def test_dashboard_lists_this_months_servers_with_projected_cost(browser: Browser, app: Any, mock: Any) -> None:
    from bridge.services.solusvm_client import connect

    enroll(browser)
    solus = connect(settings_of(app).solusvm)
    user = solus.find_user_by_email("ann@example.com")
    assert user is not None
    plan = next(solus.iter_plans())
    solus.request("POST", "servers", json={"name": "web-7", "plan": plan["id"], "user": user["id"]})
    html = browser.get("/clientarea").get_data(as_text=True)
    usage = html.split('id="usage"')[1].split("</section>")[0]
    assert "web-7" in usage and plan["name"] in usage
    # one started hour at 0.001 USD per token
    expected = format_money(quantize_money(plan["tokens_per_hour"] * Decimal("0.001"), 2), USD)
    assert f'id="usage-total">{expected}' in usage


def test_dashboard_says_when_usage_is_unavailable(browser: Browser, app: Any, mock: Any) -> None:
    enroll(browser)
    mock.faults.add(method="GET", path="/api/v1/usage", status=503, times=10)
    resp = browser.get("/clientarea")
    assert resp.status_code == 200
    assert "Usage could not be loaded from SolusVM right now" in resp.get_data(as_text=True)


def test_landing_page_for_a_logged_in_client_continues_instead_of_signing_up(browser: Browser, app: Any) -> None:
    make_client(app, "cy@example.com")
    log_in(browser, "cy@example.com")
    html = browser.get("/signup").get_data(as_text=True)
    assert 'id="signed-in"' in html and 'href="/signup/terms"' in html and 'id="signup"' not in html
