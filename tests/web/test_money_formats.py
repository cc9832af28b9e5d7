"""Money reads the same everywhere: the client area, its PDF source, the invoice e-mails and the
WHMCS answers all format through ``bridge.billing.format_money`` (regression: the SendEmail
invoice mails wrote ``€1234.56 EUR`` to a format-3 EUR client whose invoice page says
``1.234,56 EUR``)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from bridge.billing import format_money
from bridge.models import Currency
from bridge.services import clients as client_service
from bridge.services import credentials, invoicing
from bridge.services import invoices as invoice_service
from tests.web.conftest import PASSWORD, Browser, mail_text, outbox_mails, session_of


def _euro_invoice(app: Any) -> tuple[int, str]:
    """A format-3 EUR client (the default catalogue) with one untaxed invoice of 1234.56."""
    with session_of(app) as s, s.begin():
        eur = s.scalar(select(Currency).where(Currency.code == "EUR"))
        assert eur is not None and eur.format == 3
        c = client_service.create(s, {"firstname": "Eva", "lastname": "Euro", "email": "eva@example.com",
                                      "password2": PASSWORD, "email_verified": True, "currency": eur.id,
                                      "country": "DE"}, actor="test")
        inv = invoice_service.create_invoice(s, c.id, [{"description": "usage", "amount": Decimal("1234.56"),
                                                        "taxed": False}],
                                             date=date(2026, 11, 1), duedate=date(2026, 11, 15), period="2026-10",
                                             actor="test")
        return inv.id, format_money(inv.total, eur)


def test_invoice_mails_write_money_as_the_client_area_does(browser: Browser, app: Any) -> None:
    invoice_id, expected = _euro_invoice(app)
    assert expected == "1.234,56 EUR"
    assert browser.submit("/login", {"email": "eva@example.com", "password": PASSWORD}).status_code == 302
    page = browser.get(f"/clientarea/invoices/{invoice_id}").get_data(as_text=True)
    assert f'id="total">{expected}<' in page and f'id="balance">{expected}<' in page

    # the monthly run's invoice mail
    with session_of(app) as s:
        text = invoicing.mail_text(s, invoice_service.get(s, invoice_id), "https://billing.test")
    assert f"Total: {expected}" in text and "1234.56" not in text

    # the WHMCS SendEmail templates (created, payment confirmation, overdue notices)
    with session_of(app) as s, s.begin():
        cred = credentials.create(s, "mail-test", actor="test")
    for name in ("Invoice Created", "Invoice Payment Confirmation", "First Invoice Overdue Notice"):
        resp = app.test_client().post("/includes/api.php", data={
            "action": "SendEmail", "identifier": cred.identifier, "secret": cred.secret, "responsetype": "json",
            "messagename": name, "id": invoice_id})
        assert resp.get_json()["result"] == "success", resp.get_json()
    mails = [m for m in outbox_mails(app) if m["To"] == "eva@example.com"]
    assert len(mails) == 3
    for msg in mails:
        body = mail_text(msg)
        assert expected in body, body
        assert not re.search(r"1234[.,]56", body), body
