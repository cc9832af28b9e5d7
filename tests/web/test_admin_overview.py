"""The admin home page: its SVG charts are drawn from the data and say the same numbers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import time_machine
from sqlalchemy import select

from bridge.demo import DEMO_CATALOGUE
from bridge.models import Currency, SolusVMHold
from bridge.services import catalogue
from bridge.services import clients as client_service
from bridge.services import invoices as invoice_service
from bridge.services.overview import last_months
from tests.web.conftest import PASSWORD, Browser, session_of
from tests.web.test_admin import admin_login, make_admin


def bars(html: str, chart_id: str) -> dict[tuple[str, str], Decimal]:
    """(series, label) -> value of every bar of one chart."""
    svg = html.split(f'<svg id="{chart_id}"', 1)[1].split("</svg>", 1)[0]
    out = {}
    for attrs in re.findall(r"<rect class=\"bar[^>]*>", svg):
        series = re.search(r'data-series="([^"]*)"', attrs)
        label = re.search(r'data-label="([^"]*)"', attrs).group(1)  # type: ignore[union-attr]
        out[(series.group(1) if series else "", label)] = Decimal(re.search(r'data-value="([^"]*)"', attrs).group(1))  # type: ignore[union-attr]
    return out


def seed(app: Any) -> None:
    """Three clients (USD, USD, EUR), invoices over three months, payments, one locked client."""
    with session_of(app) as s, s.begin():
        catalogue.load_toml(s, DEMO_CATALOGUE)
        usd = s.scalar(select(Currency.id).where(Currency.code == "USD"))
        eur = s.scalar(select(Currency.id).where(Currency.code == "EUR"))
        ids = []
        for email, cur in (("a@example.com", usd), ("b@example.com", usd), ("e@example.com", eur)):
            c = client_service.create(s, {"firstname": "A", "lastname": "B", "email": email, "password2": PASSWORD,
                                          "email_verified": True, "currency": cur, "country": "DE"}, actor="test")
            ids.append(c.id)

        def invoice(client_id: int, when: date, amount: str, plan: str, tokens: int) -> Any:
            return invoice_service.create_invoice(
                s, client_id, [{"description": f"{plan} usage", "amount": Decimal(amount), "taxed": False,
                                "plan_name": plan, "tokens": tokens, "hours": 10}],
                date=when, duedate=when + timedelta(days=14), period=None, actor="test")

        paid = invoice(ids[0], date(2026, 10, 1), "100.00", "Small", 100000)
        invoice_service.add_payment(s, paid, transid="t1", gateway="bank",
                                    when=datetime(2026, 10, 20, tzinfo=UTC), actor="test")
        invoice(ids[0], date(2026, 11, 1), "40.50", "Small", 40500)          # overdue on 2026-11-20
        invoice(ids[1], date(2026, 11, 1), "9.50", "Large", 9500)            # overdue too
        invoice(ids[1], date(2026, 11, 18), "5.00", "Large", 5000)            # unpaid, due later
        invoice(ids[2], date(2026, 11, 1), "20.00", "Small", 22000)          # EUR, overdue
        s.add(SolusVMHold(client_id=ids[1], admin="locked", admin_reason="test"))


@time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=UTC), tick=False)
def test_overview_charts_match_the_data(browser: Browser, app: Any) -> None:
    seed(app)
    make_admin(app)
    admin_login(browser)
    resp = browser.get("/admin")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "style=" not in html  # no inline script
    usd = bars(html, "revenue-USD")
    months = last_months(date(2026, 11, 20))
    assert months[0] == "2025-12" and months[-1] == "2026-11"
    assert len([k for k in usd if k[0] == "Invoiced"]) == 12
    assert usd[("Invoiced", "2026-10")] == Decimal("100.00")
    assert usd[("Invoiced", "2026-11")] == Decimal("55.00")  # 40.50 + 9.50 + 5.00
    assert usd[("Collected", "2026-10")] == Decimal("100.00")
    assert usd[("Collected", "2026-11")] == Decimal("0")
    eur = bars(html, "revenue-EUR")
    assert eur[("Invoiced", "2026-11")] == Decimal("20.00") and eur[("Invoiced", "2026-10")] == Decimal("0")
    assert 'id="overdue-USD">50.00 USD<' in html, re.findall(r'id="(?:overdue|unpaid)-USD">[^<]*<', html)
    assert 'id="unpaid-USD">5.00 USD<' in html
    assert 'id="overdue-EUR">20,00 EUR<' in html
    assert bars(html, "owed-USD") == {("", "Unpaid, not yet due"): Decimal("5.00"), ("", "Overdue"): Decimal("50.00")}
    plans = bars(html, "plans")  # invoices issued in November
    assert plans == {("", "Small"): Decimal(62500), ("", "Large"): Decimal(14500)}
    assert "62,500 tokens · 20,00 EUR, 40.50 USD" in html
    assert bars(html, "clients-by-status") == {("", "Active"): 2, ("", "Locked"): 1, ("", "Suspended"): 0}


def test_overview_with_no_data_and_login_lands_there(browser: Browser, app: Any) -> None:
    make_admin(app)
    resp = admin_login(browser)
    assert resp.status_code == 302 and resp.location.endswith("/admin")
    html = browser.get("/admin").get_data(as_text=True)
    assert "No invoices issued yet this month." in html
    assert set(bars(html, "revenue-USD").values()) == {Decimal(0)}
