"""Invoices a customer and an accountant can use: named tax lines, the currency once, how to
pay, pay with credit, and a PDF whose text carries every line and total of the HTML page."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
from sqlalchemy import select

from bridge.demo import DEMO_CATALOGUE
from bridge.flask_glue import settings_of
from bridge.models import Client, Currency
from bridge.services import catalogue
from bridge.services import clients as client_service
from bridge.services import invoices as invoice_service
from bridge.web.formatting import format_money
from tests.web.conftest import PASSWORD, Browser, session_of

LINES = [("web-1, 1 Core, 1 GB RAM, 2026-10: 744 h, monthly price 5000 tokens", "5.00", 744, 5000),
         ("db-1, 2 Cores, 4 GB RAM, 2026-10: 300 h × 28 tokens/h = 8400 tokens", "8.40", 300, 8400),
         ("db-1: 1 additional IP, 2026-10: 300 h, 300 tokens", "0.30", 300, 300)]


def setup_invoice(app: Any, *, currency: str = "USD", credit: Decimal = Decimal(0)) -> tuple[int, int]:
    """The demo catalogue (City Tax 6 % + State Tax 2 % compound for US), one US client, one invoice."""
    with session_of(app) as s, s.begin():
        catalogue.load_toml(s, DEMO_CATALOGUE)
        cur = s.scalar(select(Currency.id).where(Currency.code == currency))
        c = client_service.create(s, {"firstname": "Dana", "lastname": "Demo", "email": "dana@example.com",
                                      "password2": PASSWORD, "email_verified": True, "currency": cur,
                                      "country": "US", "state": "CA"}, actor="test")
        c.credit = credit
        inv = invoice_service.create_invoice(
            s, c.id, [{"description": d, "amount": Decimal(a), "taxed": True, "hours": h, "tokens": t}
                      for d, a, h, t in LINES],
            date=date(2026, 11, 1), duedate=date(2026, 11, 15), period="2026-10", actor="test")
        return c.id, inv.id


def log_in(browser: Browser) -> None:
    resp = browser.submit("/login", {"email": "dana@example.com", "password": PASSWORD})
    assert resp.status_code == 302


def expected_figures(app: Any, invoice_id: int) -> dict[str, str]:
    with session_of(app) as s:
        inv = invoice_service.get(s, invoice_id)
        m = lambda v: format_money(v, inv.currency)  # noqa: E731
        return {"subtotal": m(inv.subtotal), "tax": m(inv.tax), "tax2": m(inv.tax2), "total": m(inv.total),
                "balance": m(invoice_service.balance(s, inv))}


def test_invoice_page_names_taxes_shows_currency_once_and_how_to_pay(browser: Browser, app: Any) -> None:
    _cid, inv = setup_invoice(app)
    log_in(browser)
    html = browser.get(f"/clientarea/invoices/{inv}").get_data(as_text=True)
    assert "City Tax 6%" in html and "State Tax 2%" in html
    assert "Tax (6%)" not in html
    figures = expected_figures(app, inv)
    # 13.70 before tax; City 6 % per line 0.30 + 0.50 + 0.02; State 2 % on line + City Tax (compound)
    # 0.11 + 0.18 + 0.01; total 14.82
    assert figures == {"subtotal": "13.70 USD", "tax": "0.82 USD", "tax2": "0.30 USD", "total": "14.82 USD",
                       "balance": "14.82 USD"}
    assert f'id="total">{figures["total"]}<' in html
    assert "$" not in html.split('id="invoice-lines"')[1].split("</table>")[0]  # the currency once per amount
    assert "Subtotal before tax" in html and "Total after tax" in html
    how = html.split('id="how-to-pay"')[1]
    assert "Bank transfer to Demo Hosting Inc." in how and "pay it with credit" not in how
    assert f'href="/clientarea/invoices/{inv}.pdf"' in html


def test_unpaid_invoice_covered_by_credit_offers_and_takes_credit(browser: Browser, app: Any) -> None:
    cid, inv = setup_invoice(app, credit=Decimal("20.00"))
    log_in(browser)
    html = browser.get(f"/clientarea/invoices/{inv}").get_data(as_text=True)
    assert "you can pay it with credit" in html and "Pay with credit" in html
    resp = browser.submit(f"/clientarea/invoices/{inv}", {}, action=f"/clientarea/invoices/{inv}/pay-with-credit")
    assert resp.status_code == 302
    with session_of(app) as s:
        invoice = invoice_service.get(s, inv)
        assert invoice.status == "Paid" and invoice.credit == Decimal("14.82")
        assert s.get(Client, cid).credit == Decimal("5.18")
    html = browser.get(f"/clientarea/invoices/{inv}").get_data(as_text=True)
    assert 'id="how-to-pay"' not in html and 'id="balance">0.00 USD<' in html


def test_credit_that_does_not_cover_the_balance_is_refused(browser: Browser, app: Any) -> None:
    _cid, inv = setup_invoice(app, credit=Decimal("1.00"))
    log_in(browser)
    html = browser.get(f"/clientarea/invoices/{inv}").get_data(as_text=True)
    assert "Pay with credit" not in html
    browser.submit(f"/clientarea/invoices/{inv}", {}, action=f"/clientarea/invoices/{inv}/pay-with-credit")
    with session_of(app) as s:
        assert invoice_service.get(s, inv).status == "Unpaid"


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_carries_every_line_and_total_of_the_page(browser: Browser, app: Any, tmp_path: Path) -> None:
    _cid, inv = setup_invoice(app)
    log_in(browser)
    resp = browser.get(f"/clientarea/invoices/{inv}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert f'filename="invoice-{inv}.pdf"' in resp.headers["Content-Disposition"]
    text = " ".join(pdf_text(resp.get_data()).split())
    assert f"Invoice #{inv}" in text and "Dana Demo" in text and "dana@example.com" in text
    assert "Issued 2026-11-01" in text and "Due 2026-11-15" in text and "Unpaid" in text
    for description, amount, _hours, tokens in LINES:
        # WeasyPrint may break a long description over lines; compare with whitespace collapsed
        assert " ".join(description.split()) in text, description
        assert f"{amount} USD" in text and str(tokens) in text
    figures = expected_figures(app, inv)
    assert f"Subtotal before tax {figures['subtotal']}" in text
    assert f"City Tax 6% {figures['tax']}" in text and f"State Tax 2% {figures['tax2']}" in text
    assert f"Total after tax {figures['total']}" in text and f"Balance due {figures['balance']}" in text
    assert "Bank transfer to Demo Hosting Inc." in text


def test_pdf_is_private_to_the_client_and_open_to_the_admin(browser: Browser, app: Any) -> None:
    _cid, inv = setup_invoice(app)
    with session_of(app) as s, s.begin():
        other = client_service.create(s, {"firstname": "O", "lastname": "Ther", "email": "o@example.com",
                                          "password2": PASSWORD, "email_verified": True}, actor="test")
        other_id = other.id
    assert browser.get(f"/clientarea/invoices/{inv}.pdf").status_code == 302  # log in first
    browser.submit("/login", {"email": "o@example.com", "password": PASSWORD})
    assert other_id and browser.get(f"/clientarea/invoices/{inv}.pdf").status_code == 404
    from tests.web.test_admin import admin_login, make_admin

    make_admin(app)
    admin = Browser(app)
    admin_login(admin)
    resp = admin.get(f"/admin/invoices/{inv}.pdf")
    assert resp.status_code == 200 and "City Tax 6%" in pdf_text(resp.get_data())
    assert f'href="/admin/invoices/{inv}.pdf"' in admin.get(f"/admin/invoices/{inv}").get_data(as_text=True)


def test_dashboard_month_so_far_reads_like_the_invoice_with_a_usage_by_day_chart(
        browser: Browser, app: Any, mock: Any) -> None:

    from bridge.services.solusvm_client import connect
    from tests.web.conftest import enroll

    with session_of(app) as s, s.begin():
        catalogue.load_catalogue(s, {"settings": {"TaxEnabled": True, "TaxL2Compound": True},
                                     "currencies": [{"code": "USD", "prefix": "$", "suffix": " USD", "format": 2,
                                                     "token_price": "0.001", "default": True}],
                                     "tax_rules": [{"level": 1, "name": "City Tax", "rate": "6"},
                                                   {"level": 2, "name": "State Tax", "rate": "2"}]})
    enroll(browser)
    solus = connect(settings_of(app).solusvm)
    user = solus.find_user_by_email("ann@example.com")
    plans = list(solus.iter_plans())
    for name, plan in (("web-7", plans[0]), ("db-7", plans[-1])):
        solus.request("POST", "servers", json={"name": name, "plan": plan["id"], "user": user["id"]})
    mock.clock.advance(hours=30)
    html = browser.get("/clientarea").get_data(as_text=True)
    usage = html.split('id="usage"')[1].split("</section>")[0]
    assert "Subtotal before tax" in usage and "City Tax 6%" in usage and "State Tax 2%" in usage
    assert "Projected total after tax" in usage and "taxes included" not in usage

    def amount(text: str) -> Decimal:
        return Decimal(text.replace(" USD", "").replace(",", ""))

    body, foot = usage.split("<tbody>", 1)[1].split("</tbody>", 1)
    line_amounts = [amount(c) for c in re.findall(r'<td class="num">([\d.,]+ USD)</td>', body)]
    subtotal = amount(re.search(r'id="usage-subtotal">([^<]+)<', foot).group(1))  # type: ignore[union-attr]
    tax1, tax2 = (amount(c) for c in re.findall(r'<tr class="tax">.*?<td class="num">([^<]+)</td>', foot))
    total = amount(re.search(r'id="usage-total">([^<]+)<', foot).group(1))  # type: ignore[union-attr]
    assert len(line_amounts) == 2
    assert subtotal == sum(line_amounts) and total == subtotal + tax1 + tax2
    # The same rounding as an invoice: City Tax per line on the net, State Tax on net + City Tax.
    from contracts.solusvm_usage import quantize_money
    assert tax1 == sum(quantize_money(a * Decimal("0.06"), 2) for a in line_amounts)
    assert tax2 == sum(quantize_money((a + quantize_money(a * Decimal("0.06"), 2)) * Decimal("0.02"), 2)
                       for a in line_amounts)
    # The chart: one bar per day so far, the bars add up to the tokens in the table.
    chart = usage.split('<svg id="usage-by-day"', 1)[1].split("</svg>", 1)[0]
    values = [int(v) for v in re.findall(r'data-value="(\d+)"', chart)]
    tokens = [int(t) for t in re.findall(r'<td class="num opt">(\d+)</td>\s*<td class="num">', usage)]
    assert values and sum(values) == sum(tokens) > 0
    assert "style=" not in chart and not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script


def test_pdf_without_pango_is_a_503_page_not_a_500(browser: Browser, app: Any, monkeypatch: Any) -> None:
    import builtins

    _cid, inv = setup_invoice(app)
    log_in(browser)
    real_import = builtins.__import__

    def no_weasyprint(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    resp = browser.get(f"/clientarea/invoices/{inv}.pdf")
    assert resp.status_code == 503 and "PDF not available" in resp.get_data(as_text=True)
