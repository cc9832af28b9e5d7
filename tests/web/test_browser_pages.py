"""In headless Chromium: the invoice on a phone, admin tables at 1280 px, the overview charts
and the client's usage chart render with the data's numbers. Screenshots as in test_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.demo import DEMO_CATALOGUE
from bridge.flask_glue import settings_of
from bridge.models import Currency
from bridge.services import catalogue
from bridge.services import clients as client_service
from bridge.services import invoices as invoice_service
from tests.web.conftest import PASSWORD, session_of
from tests.web.test_browser import ARGS, CHROMIUM, TOKEN, chromium, shots, stack  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")]
assert ARGS and TOKEN

LINES = [("web-1 (deleted), 2 Cores, 4 GB RAM, 2026-10: 744 h, monthly price 20000 tokens", "20.00", 744, 20000),
         ("db-1, 1 Core, 2 GB RAM, 2026-10: 300 h × 14 tokens/h = 4200 tokens", "4.20", 300, 4200),
         ("db-1: 1 additional IP, 2026-10: 300 h, 300 tokens", "0.30", 300, 300)]


def seed(app: Any) -> tuple[int, int]:
    with session_of(app) as s, s.begin():
        catalogue.load_toml(s, DEMO_CATALOGUE)
        usd = s.scalar(select(Currency.id).where(Currency.code == "USD"))
        c = client_service.create(s, {"firstname": "Maximiliane", "lastname": "Longname-Doppelname",
                                      "companyname": "Longname Hosting Ltd", "email": "maximiliane@example.com",
                                      "password2": PASSWORD, "email_verified": True, "currency": usd,
                                      "country": "US", "state": "CA"}, actor="test")
        inv = invoice_service.create_invoice(
            s, c.id, [{"description": d, "amount": Decimal(a), "taxed": True, "hours": h, "tokens": t,
                       "plan_name": d.split(", ")[1] if ", " in d else "", "server_name": d.split(",")[0]}
                      for d, a, h, t in LINES],
            date=date(2026, 11, 1), duedate=date(2026, 11, 15), period="2026-10", actor="test")
        return c.id, inv.id


def one_line(page: Any, selector: str) -> list[str]:
    """Texts under ``selector`` that the browser broke over more than one line."""
    return page.evaluate("""(sel) => {
        const broken = [];
        for (const el of document.querySelectorAll(sel)) {
            const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
            for (let node = walk.nextNode(); node; node = walk.nextNode()) {
                if (!node.textContent.trim()) continue;
                const r = document.createRange(); r.selectNodeContents(node);
                const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
                if (tops.size > 1) broken.push(node.textContent);
            }
        }
        return broken; }""", selector)


def test_invoice_fits_a_phone_and_admin_tables_do_not_wrap(chromium: Any, stack: dict[str, Any],  # noqa: F811
                                                           shots: Path) -> None:  # noqa: F811
    app, bridge = stack["app"], stack["bridge"]
    _cid, inv = seed(app)
    ctx = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = ctx.new_page()
    page.goto(f"{bridge}/login")
    page.fill("#email", "maximiliane@example.com")
    page.fill("#password", PASSWORD)
    page.click("main button:has-text('Log in')")
    page.wait_for_url(re.compile(r".*/clientarea.*"))
    page.goto(f"{bridge}/clientarea/invoices/{inv}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for cell in ("#total", "#balance", "#subtotal", "#tax", "#tax2"):
        box = page.locator(cell).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (cell, box)
    amounts = page.locator("#invoice-lines tbody td.num:not(.opt)")
    assert amounts.count() == 3
    total_box = page.locator("#total").bounding_box()
    assert total_box is not None
    for i in range(3):
        box = amounts.nth(i).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390
        # one column of amounts: the lines line up with the totals
        assert abs((box["x"] + box["width"]) - (total_box["x"] + total_box["width"])) < 1
    assert "City Tax 6%" in page.inner_text("#invoice-lines")
    page.screenshot(path=shots / "invoice-phone.png", full_page=True)
    page.goto(f"{bridge}/clientarea/invoices")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ctx.close()

    admin = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin.goto(f"{bridge}/admin/login")
    admin.fill("#name", "root")
    admin.fill("#password", "admin pass 123")
    admin.click("button:has-text('Log in')")
    admin.wait_for_selector("#revenue-USD")
    admin.goto(f"{bridge}/admin/clients")
    assert one_line(admin, "#clients tbody td a, #clients tbody td:not(:nth-child(2))") == []
    # ... and the table fits the page instead of scrolling sideways
    assert admin.evaluate("(() => { const w = document.querySelector('#clients').parentElement;"
                          " return w.scrollWidth <= w.clientWidth; })()")
    admin.goto(f"{bridge}/admin/invoices")
    assert one_line(admin, "#invoices tbody td") == []
    admin.goto(f"{bridge}/admin/pricing")
    formats = admin.locator("#currencies td.format-example").all_inner_texts()
    assert formats == ["1,234.56", "1.234,56", "1,234.56"]  # USD, EUR, GBP of the demo catalogue
    admin.context.close()


def test_overview_and_usage_charts_render_with_the_datas_numbers(chromium: Any, stack: dict[str, Any],  # noqa: F811
                                                                shots: Path) -> None:  # noqa: F811
    from bridge.services import provisioning
    from bridge.services.solusvm_client import connect

    app, bridge, ctl = stack["app"], stack["bridge"], stack["ctl"]
    cid, inv = seed(app)
    with session_of(app) as s, s.begin():
        invoice_service.add_payment(s, invoice_service.get(s, inv), transid="t-1", gateway="bank",
                                    when=datetime.now(UTC), actor="test")
        provisioning.enroll_client(s, cid, actor="test")
    from bridge.services import outbox

    outbox.apply_pending(app.extensions["bridge_db"]["session_factory"], connect(settings_of(app).solusvm))
    solus = connect(settings_of(app).solusvm)
    user = solus.find_user_by_email("maximiliane@example.com")
    # Servers in the mock's current month: the usage chart has days to show.
    now = datetime.now(UTC)
    ctl.clock.set((now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    plans = list(solus.iter_plans())
    solus.request("POST", "servers", json={"name": "web-2", "plan": plans[0]["id"], "user": user["id"]})
    ctl.clock.advance(hours=30)
    solus.request("POST", "servers", json={"name": "db-2", "plan": plans[-1]["id"], "user": user["id"]})
    ctl.clock.set(now.strftime("%Y-%m-%dT%H:%M:%SZ"))

    admin = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin.goto(f"{bridge}/admin/login")
    admin.fill("#name", "root")
    admin.fill("#password", "admin pass 123")
    admin.click("button:has-text('Log in')")
    admin.wait_for_selector("#revenue-USD")
    bars = admin.eval_on_selector_all(
        "#revenue-USD rect.bar", "els => els.map(e => [e.dataset.series, e.dataset.label, e.dataset.value,"
        " e.getBoundingClientRect().height])")
    paid_month = f"{now.year:04d}-{now.month:02d}"
    collected = {label: Decimal(v) for series, label, v, _h in bars if series == "Collected"}
    with session_of(app) as s:
        total = invoice_service.get(s, inv).total
    assert collected[paid_month] == total  # paid in full today
    invoiced = {label: (Decimal(v), h) for series, label, v, h in bars if series == "Invoiced"}
    assert len(invoiced) == 12
    # the invoice is dated 2026-11-01: it shows in that month when it is among the last 12
    if "2026-11" in invoiced:
        assert invoiced["2026-11"][0] == total and invoiced["2026-11"][1] > 0
    statuses = admin.eval_on_selector_all("#clients-by-status rect.bar",
                                          "els => els.map(e => [e.dataset.label, e.dataset.value])")
    assert dict(statuses) == {"Active": "1", "Locked": "0", "Suspended": "0"}
    admin.screenshot(path=shots / "admin-home.png", full_page=True)
    admin.context.close()

    page = chromium.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.goto(f"{bridge}/login")
    page.fill("#email", "maximiliane@example.com")
    page.fill("#password", PASSWORD)
    page.click("main button:has-text('Log in')")
    page.wait_for_url(re.compile(r".*/clientarea.*"))
    page.goto(f"{bridge}/clientarea")
    page.wait_for_selector("#usage-by-day")
    days = page.eval_on_selector_all("#usage-by-day rect.bar", "els => els.map(e => [e.dataset.label, +e.dataset.value])")
    assert [d for d, _v in days] == [(now.date().replace(day=1) + timedelta(days=i)).isoformat()
                                     for i in range(now.day)]
    table_tokens = sum(int(t) for t in re.findall(r"\d+", " ".join(
        page.locator("#usage table tbody td:nth-child(4)").all_inner_texts())))
    assert sum(v for _d, v in days) == table_tokens > 0
    page.screenshot(path=shots / "dashboard-usage.png", full_page=True)
    page.context.close()
