"""Admin pages: own log-in, client status buttons against the mock, invoices, pricing preview."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from bridge.cli import main as cli
from bridge.flask_glue import replace_settings, settings_of
from bridge.models import Admin, Client, Currency, Invoice, TokenPrice
from bridge.services import accounts
from bridge.services import invoices as invoice_service
from contracts.solusvm_usage import quantize_money
from tests.web.conftest import Browser, enroll, session_of

ADMIN_PW = "admin pass 123"


def make_admin(app: Any, name: str = "root") -> None:
    with session_of(app) as s, s.begin():
        accounts.create_admin(s, name, ADMIN_PW)


def admin_login(browser: Browser, name: str = "root", password: str = ADMIN_PW) -> Any:
    return browser.submit("/admin/login", {"name": name, "password": password})


def enrolled_client(app: Any) -> tuple[Browser, Client]:
    user = Browser(app)
    enroll(user, "ann@example.com")
    with session_of(app) as s:
        client = s.scalar(select(Client).where(Client.email_normalized == "ann@example.com"))
    assert client is not None and client.solusvm_user_id
    return user, client


def test_admin_create_cli_stores_a_hash(sqlite_url: str, tmp_path: Any, monkeypatch: Any, app: Any) -> None:
    monkeypatch.setenv("BRIDGE_DATABASE_URL", settings_of(app).database_url)
    monkeypatch.setenv("BRIDGE_SECRET_KEY", "x")
    result = CliRunner().invoke(cli, ["admin", "create", "--name", "ops", "--password", ADMIN_PW])
    assert result.exit_code == 0, result.output
    weak = CliRunner().invoke(cli, ["admin", "create", "--name", "ops2", "--password", "short"])
    assert weak.exit_code != 0 and "too short" in weak.output
    with session_of(app) as s:
        admin = s.scalar(select(Admin).where(Admin.name == "ops"))
        assert admin is not None and ADMIN_PW not in admin.password_hash
        assert s.scalar(select(Admin).where(Admin.name == "ops2")) is None


def test_admin_pages_need_the_admin_login(browser: Browser, app: Any) -> None:
    for url in ("/admin", "/admin/clients", "/admin/invoices", "/admin/pricing", "/admin/clients/1"):
        resp = browser.get(url)
        assert resp.status_code == 302 and resp.location.endswith("/admin/login"), url
    # A logged-in client is not an admin.
    make_admin(app)
    enroll(browser)
    assert browser.get("/admin/clients").status_code == 302
    bad = admin_login(browser, "root", "wrong password 1")
    assert bad.status_code == 401 and "not correct" in bad.get_data(as_text=True)
    assert admin_login(browser).status_code == 302
    assert browser.get("/admin/clients").status_code == 200


def test_clients_page_shows_enrollment_and_status(browser: Browser, app: Any) -> None:
    make_admin(app)
    _user, client = enrolled_client(app)
    admin_login(browser)
    html = browser.get("/admin/clients").get_data(as_text=True)
    row = html.split(f'id="client-{client.id}"')[1].split("</tr>")[0]
    assert "ann@example.com" in row and str(client.solusvm_user_id) in row and "active" in row


def test_lock_reaches_solusvm_and_unlock_reverts(browser: Browser, app: Any, mock: Any) -> None:
    make_admin(app)
    _user, client = enrolled_client(app)
    admin_login(browser)
    page = f"/admin/clients/{client.id}"
    resp = browser.submit(page, {"reason": "unpaid"}, action=f"{page}/lock")
    assert resp.status_code == 302
    assert mock.backend.users[client.solusvm_user_id]["status"] == "locked"
    html = browser.get(page).get_data(as_text=True)
    assert 'id="desired-status">locked' in html and "done, SolusVM updated" in html
    browser.submit(page, {}, action=f"{page}/unlock")
    assert mock.backend.users[client.solusvm_user_id]["status"] == "active"
    browser.submit(page, {}, action=f"{page}/suspend")
    assert mock.backend.users[client.solusvm_user_id]["status"] == "suspended"
    browser.submit(page, {}, action=f"{page}/unsuspend")
    assert mock.backend.users[client.solusvm_user_id]["status"] == "active"


def test_lock_while_solusvm_is_down_is_queued(browser: Browser, app: Any, mock: Any) -> None:
    make_admin(app)
    _user, client = enrolled_client(app)
    admin_login(browser)
    mock.faults.add(method="PATCH", path=f"/api/v1/users/{client.solusvm_user_id}", status=503, times=50)
    mock.faults.add(method="PUT", path=f"/api/v1/users/{client.solusvm_user_id}", status=503, times=50)
    page = f"/admin/clients/{client.id}"
    browser.submit(page, {}, action=f"{page}/lock")
    html = browser.get(page).get_data(as_text=True)
    assert "change is queued" in html and 'id="pending"' in html
    assert mock.backend.users[client.solusvm_user_id]["status"] == "active"
    listing = browser.get("/admin/clients").get_data(as_text=True)
    row = listing.split(f'id="client-{client.id}"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in row


def test_unknown_action_or_client_is_404(browser: Browser, app: Any) -> None:
    make_admin(app)
    admin_login(browser)
    page = browser.get("/admin/clients").get_data(as_text=True)
    from tests.web.conftest import csrf_of

    token = csrf_of(page)
    assert browser.http.post("/admin/clients/1/explode", data={"csrf_token": token}).status_code == 404
    assert browser.http.post("/admin/clients/999/lock", data={"csrf_token": token}).status_code == 404


def test_mark_invoice_paid(browser: Browser, app: Any) -> None:
    make_admin(app)
    _user, client = enrolled_client(app)
    with session_of(app) as s, s.begin():
        inv = invoice_service.create_invoice(s, client.id, [{"description": "web-1", "amount": Decimal("5.00")}],
                                             date=date(2026, 11, 1), duedate=date(2026, 11, 15),
                                             period="2026-10", actor="test")
        inv_id = inv.id
    admin_login(browser)
    assert "Mark as paid" in browser.get("/admin/invoices").get_data(as_text=True)
    resp = browser.submit("/admin/invoices", {}, action=f"/admin/invoices/{inv_id}/paid")
    assert resp.status_code == 302
    with session_of(app) as s:
        paid = s.get(Invoice, inv_id)
        assert paid is not None and paid.status == "Paid" and paid.datepaid is not None
    assert "marked as paid" in browser.get("/admin/invoices").get_data(as_text=True)


def test_pricing_catalogue_and_preview(browser: Browser, app: Any, mock: Any) -> None:
    make_admin(app)
    _user, client = enrolled_client(app)
    admin_login(browser)
    html = browser.get("/admin/pricing").get_data(as_text=True)
    assert "USD" in html and "EUR" in html and "0.00091" in html
    resp = browser.get(f"/admin/pricing?client_id={client.id}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'id="user-cost">0.001<' in html
    # every plan of the mock with its per-hour price in the client's currency
    plans = list(mock.backend.plans.values())
    assert plans and all(p["name"] in html for p in plans)
    table = html.split('id="plan-prices"')[1].split("</table>")[0]
    for plan in plans:
        per_hour = quantize_money(plan["tokens_per_hour"] * Decimal("0.001"), 2)
        assert f'<td class="num">{per_hour} USD</td>' in table


def test_pricing_preview_of_a_zero_decimal_currency_shows_whole_units(browser: Browser, app: Any,
                                                                      mock: Any) -> None:
    # Regression: the preview read decimals as ``decimals or 2``, so JPY plan prices were rounded to
    # cents first and then to yen: 0.497 became 0.50 and then 1, instead of 0.
    make_admin(app)
    _user, client = enrolled_client(app)
    with session_of(app) as s, s.begin():
        jpy = Currency(code="JPY", prefix="¥", suffix=" JPY", format=4, rate=Decimal("150"), decimals=0)
        s.add(jpy)
        s.flush()
        s.add(TokenPrice(currency_id=jpy.id, price_per_token=Decimal("0.071")))  # 7 tokens/h: 0.497
        s.execute(update(Client).where(Client.id == client.id).values(currency_id=jpy.id))
    admin_login(browser)
    html = browser.get(f"/admin/pricing?client_id={client.id}").get_data(as_text=True)
    assert 'id="plan-prices"' in html, html[html.find("<main"):]
    table = html.split('id="plan-prices"')[1].split("</table>")[0]
    user_cost = Decimal(html.split('id="user-cost">')[1].split("<")[0])
    plans = list(mock.backend.plans.values())
    assert plans and user_cost > 0
    for plan in plans:
        per_hour = quantize_money(plan["tokens_per_hour"] * user_cost, 0)
        assert f'<td class="num">{per_hour:,} JPY</td>' in table


def test_pricing_preview_bad_input(browser: Browser, app: Any) -> None:
    make_admin(app)
    admin_login(browser)
    for value, text in (("abc", "Not a valid integer value."), ("0", "Client IDs are whole numbers from 1."), ("424242", "Client Not Found")):
        resp = browser.get(f"/admin/pricing?client_id={value}")
        assert resp.status_code == 400, value
        assert text in resp.get_data(as_text=True), value


def test_admin_login_does_not_reveal_admin_names(browser: Browser, app: Any) -> None:
    make_admin(app)
    a = admin_login(browser, "root", "bad password 1").get_data(as_text=True)
    b = admin_login(Browser(app), "nobody", "bad password 1").get_data(as_text=True)
    assert "Name or password is not correct." in a and "Name or password is not correct." in b


def test_clients_search_and_paging(browser: Browser, app: Any) -> None:
    from bridge.services import clients as client_service
    from bridge.web import admin as admin_views

    make_admin(app)
    with session_of(app) as s, s.begin():
        for i in range(admin_views.PER_PAGE + 3):
            client_service.create(s, {"firstname": "P", "lastname": f"Person{i}", "email": f"p{i}@example.com"},
                                  actor="test")
        client_service.create(s, {"firstname": "Zed", "lastname": "Unique", "email": "zed@corp.example",
                                  "companyname": "Zed Corp"}, actor="test")
    admin_login(browser)
    first = browser.get("/admin/clients").get_data(as_text=True)
    assert first.count('id="client-') == admin_views.PER_PAGE and "page=2" in first
    second = browser.get("/admin/clients?page=2").get_data(as_text=True)
    assert second.count('id="client-') == 4 and "page=1" in second
    found = browser.get("/admin/clients?q=zed+corp").get_data(as_text=True)
    assert found.count('id="client-') == 1 and "zed@corp.example" in found
    assert browser.get("/admin/clients?page=abc").status_code == 200
    assert browser.get("/admin/invoices?page=-1&status=Paid").status_code == 200


HUGE_IDS = ["999999999999999999999999", str(2**63), str(2**31)]


@pytest.mark.parametrize("huge", HUGE_IDS)
def test_huge_ids_in_admin_urls_are_404(browser: Browser, app: Any, huge: str) -> None:
    make_admin(app)
    admin_login(browser)
    from tests.web.conftest import csrf_of

    token = csrf_of(browser.get("/admin/clients").get_data(as_text=True))
    for url in (f"/admin/clients/{huge}", f"/admin/invoices/{huge}"):
        resp = browser.get(url)
        assert resp.status_code == 404, url
        assert "There is nothing here" in resp.get_data(as_text=True)
    for url in (f"/admin/clients/{huge}/lock", f"/admin/invoices/{huge}/paid"):
        resp = browser.http.post(url, data={"csrf_token": token})
        assert resp.status_code == 404, url
        assert "There is nothing here" in resp.get_data(as_text=True)


def test_too_long_reason_is_refused_with_the_error(browser: Browser, app: Any, mock: Any) -> None:
    make_admin(app)
    _user, client = enrolled_client(app)
    admin_login(browser)
    page = f"/admin/clients/{client.id}"
    resp = browser.submit(page, {"reason": "x" * 501}, action=f"{page}/lock")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "at most 500 characters" in html and 'id="desired-status">active' in html
    assert mock.backend.users[client.solusvm_user_id]["status"] == "active"
    ok = browser.submit(page, {"reason": "y" * 500}, action=f"{page}/lock")
    assert ok.status_code == 302
    assert mock.backend.users[client.solusvm_user_id]["status"] == "locked"


def test_admin_password_reset_logs_out_admin_sessions(browser: Browser, app: Any) -> None:
    make_admin(app)
    admin_login(browser)
    assert browser.get("/admin/clients").status_code == 200
    with session_of(app) as s, s.begin():  # solus-bridge admin create --name root (new password)
        accounts.create_admin(s, "root", "another admin pass 9")
    resp = browser.get("/admin/clients")
    assert resp.status_code == 302 and resp.location.endswith("/admin/login")
    assert admin_login(browser, password="another admin pass 9").status_code == 302
    assert browser.get("/admin/clients").status_code == 200


def test_marking_the_overdue_invoice_paid_reactivates_the_user_at_once(browser: Browser, app: Any,
                                                                        mock: Any) -> None:
    """The payment lifts the overdue hold with the configured thresholds and the change is sent
    right after commit, as AddInvoicePayment does (not a day later by the cron)."""
    from bridge.services import outbox, overdue

    make_admin(app)
    _user, client = enrolled_client(app)
    today = date.today()
    with session_of(app) as s, s.begin():
        inv_id = invoice_service.create_invoice(
            s, client.id, [{"description": "web-1", "amount": Decimal("5.00")}], date=today.replace(day=1),
            duedate=today.fromordinal(today.toordinal() - 4), actor="test").id
    settings = replace_settings(app, {"OVERDUE_LOCK_DAYS": 3, "OVERDUE_SUSPEND_DAYS": 30})
    with session_of(app) as s, s.begin():
        assert overdue.apply_rules(s, today=today, settings=settings.overdue).locked == [client.id]
    outbox.apply_pending(app.extensions["bridge_db"]["session_factory"], _solus(app))
    assert mock.backend.users[client.solusvm_user_id]["status"] == "locked"
    admin_login(browser)
    assert browser.submit("/admin/invoices", {}, action=f"/admin/invoices/{inv_id}/paid").status_code == 302
    assert mock.backend.users[client.solusvm_user_id]["status"] == "active"


def _solus(app: Any) -> Any:
    from bridge.services.solusvm_client import connect

    return connect(settings_of(app).solusvm)


def test_a_lost_sqlite_write_lock_is_a_retry_page_not_a_500(browser: Browser, app: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    make_admin(app)
    _user, client = enrolled_client(app)
    with session_of(app) as s, s.begin():
        inv_id = invoice_service.create_invoice(s, client.id, [{"description": "web-1", "amount": Decimal("5.00")}],
                                                date=date(2026, 11, 1), duedate=date(2026, 11, 15), actor="test").id

    def locked(*_a: Any, **_k: Any) -> Any:
        raise OperationalError("INSERT INTO transactions ...", {}, Exception("database is locked"))

    admin_login(browser)
    monkeypatch.setattr(invoice_service, "add_payment", locked)
    resp = browser.submit("/admin/invoices", {}, action=f"/admin/invoices/{inv_id}/paid")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "2"
    assert "send the form again" in resp.get_data(as_text=True)
    with session_of(app) as s:
        assert s.get(Invoice, inv_id).status == "Unpaid"
