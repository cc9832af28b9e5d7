"""Two transactions changing the same balance at once both count (PostgreSQL row locks).

SQLite needs no lock for this: its later writer fails with "database is locked" rather than
overwriting (see bridge.db.lock_row), so these tests run on PostgreSQL only.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bridge.errors import ValidationFailed
from bridge.models import Client, Invoice
from bridge.services import catalogue, clients, invoices
from tests.bridge.conftest import _empty_postgres, session_of


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL only (this module's ``app`` and ``make_client`` build on it)."""
    catalogue.clear_cache()
    url = request.getfixturevalue("pg_database")
    _empty_postgres(request.getfixturevalue("pg_reset_engine"))
    return url


@pytest.fixture
def pg_app(app: Any) -> Any:
    return app


def _race(app: Any, first: Any, second: Any) -> None:
    """Run ``first`` in an open transaction, start ``second`` in a thread, then commit the first."""
    errors: list[BaseException] = []
    with session_of(app) as a:
        a.begin()
        first(a)

        def other() -> None:
            try:
                with session_of(app) as b, b.begin():
                    second(b)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join(0.5)
        assert t.is_alive(), "the second transaction did not wait for the first one's row lock"
        a.commit()
        t.join(10)
    assert not errors, errors


def test_two_credits_at_once_both_count(pg_app: Any, make_client: Any) -> None:
    cid = make_client()

    def add(s: Any) -> None:
        clients.add_credit(s, s.get(Client, cid), Decimal("1.25"), "top-up", remove=False, actor="test")

    _race(pg_app, add, add)
    with session_of(pg_app) as s:
        assert s.get(Client, cid).credit == Decimal("2.50")


def test_two_full_payments_at_once_pay_once(pg_app: Any, make_client: Any) -> None:
    cid = make_client()
    with session_of(pg_app) as s, s.begin():
        inv_id = invoices.create_invoice(s, cid, [{"description": "usage", "amount": Decimal("10.00"),
                                                   "taxed": False}], date=date(2026, 11, 1),
                                         duedate=date(2026, 11, 15), actor="test").id

    def pay(s: Any) -> None:
        invoices.add_payment(s, s.get(Invoice, inv_id), transid="T1", gateway="bank",
                             when=datetime.now(UTC), actor="test")

    refused: list[str] = []

    def pay_again(s: Any) -> None:
        try:
            invoices.add_payment(s, s.get(Invoice, inv_id), transid="T2", gateway="bank",
                                 when=datetime.now(UTC), actor="test")
        except ValidationFailed as exc:
            refused.append(exc.message)

    _race(pg_app, pay, pay_again)
    # the second waited for the first one's lock, then saw the invoice Paid
    assert refused == ["It is not possible to add a payment to an invoice that is Paid"]
    with session_of(pg_app) as s:
        inv = s.get(Invoice, inv_id)
        assert inv.status == "Paid"
        assert invoices.paid_amount(s, inv) == Decimal("10.00")
