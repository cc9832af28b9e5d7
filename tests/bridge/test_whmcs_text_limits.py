"""Text length limits: one definition (contracts.whmcs_requests) for the request schemas and the
columns, checked before the database sees a value; and no SQL parameters in any log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import String, text

from bridge.errors import ValidationFailed
from bridge.models import BillableItem, Client, Invoice, Transaction
from bridge.services import clients
from contracts.whmcs_requests import BILLABLE_TEXT, CLIENT_TEXT, PAYMENT_TEXT
from tests.bridge.conftest import CLIENT, err, ok, session_of


@pytest.mark.parametrize("model,limits", [(Client, CLIENT_TEXT), (Transaction, PAYMENT_TEXT),
                                          (Invoice, {"paymentmethod": PAYMENT_TEXT["paymentmethod"],
                                                     "invoicenum": PAYMENT_TEXT["invoicenum"]}),
                                          (BillableItem, BILLABLE_TEXT)])
def test_columns_are_declared_from_the_shared_limits(model: Any, limits: dict[str, int]) -> None:
    for name, limit in limits.items():
        if name in model.__table__.c:
            column_type = model.__table__.c[name].type
            assert isinstance(column_type, String) and column_type.length == limit, name


def test_reported_cases_are_clear_errors(api: Any, make_client: Any) -> None:
    """150-character city and 21-character postcode: were a 500 on PostgreSQL."""
    assert err(api("AddClient", **{**CLIENT, "city": "c" * 150})) == \
        "The value of city is too long (at most 100 characters)"
    assert err(api("AddClient", **{**CLIENT, "postcode": "1" * 21})) == \
        "The value of postcode is too long (at most 20 characters)"
    cid = make_client()
    assert err(api("UpdateClient", clientid=cid, city="c" * 150)) == \
        "The value of city is too long (at most 100 characters)"
    assert err(api("UpdateClient", clientid=cid, postcode="1" * 21)) == \
        "The value of postcode is too long (at most 20 characters)"
    assert ok(api("GetClientsDetails", clientid=cid))["client"]["city"] == CLIENT["city"]


@pytest.mark.parametrize("field", sorted(set(CLIENT_TEXT) - {"country", "status", "email"}))
def test_every_client_field_at_and_beyond_its_limit(api: Any, make_client: Any, field: str) -> None:
    limit = CLIENT_TEXT[field]
    cid = make_client()
    assert err(api("UpdateClient", clientid=cid, **{field: "x" * (limit + 1)})) == \
        f"The value of {field} is too long (at most {limit} characters)"
    ok(api("UpdateClient", clientid=cid, **{field: "x" * limit}))  # exactly the limit fits every backend
    assert ok(api("GetClientsDetails", clientid=cid))["client"][field] == "x" * limit


def test_email_at_its_limit(api: Any) -> None:
    local = "a" * 64
    long_email = f"{local}@{'b' * (CLIENT_TEXT['email'] - len(local) - 6)}.test"
    assert len(long_email) == CLIENT_TEXT["email"]
    ok(api("AddClient", **{**CLIENT, "email": long_email}))
    assert err(api("AddClient", **{**CLIENT, "email": "x" + long_email})) == \
        "The value of email is too long (at most 254 characters)"


def test_payment_fields(api: Any, make_client: Any) -> None:
    cid = make_client()
    iid = ok(api("CreateInvoice", userid=cid, itemdescription1="a", itemamount1="1"))["invoiceid"]
    assert err(api("AddInvoicePayment", invoiceid=iid, transid="t" * 129, gateway="g")) == \
        "The value of transid is too long (at most 128 characters)"
    assert err(api("CreateInvoice", userid=cid, paymentmethod="p" * 65, itemdescription1="a")) == \
        "The value of paymentmethod is too long (at most 64 characters)"
    assert err(api("AddBillableItem", clientid=cid, description="d" * 256, amount="1", unit="hours")) == \
        "The value of description is too long (at most 255 characters)"


def test_the_service_checks_too(app: Any, make_client: Any) -> None:
    """The sign-up form, admin pages and CLI write clients through the service, not the API schema."""
    cid = make_client()
    with session_of(app) as s, s.begin():
        with pytest.raises(ValidationFailed, match="city is too long"):
            clients.update(s, s.get(Client, cid), {"city": "c" * 101}, actor="test")
        with pytest.raises(ValidationFailed, match="postcode is too long"):
            clients.create(s, {**CLIENT, "email": "svc@example.com", "postcode": "1" * 21}, actor="test")


def test_no_sql_parameters_in_the_log(app: Any, api: Any, make_client: Any, caplog: pytest.LogCaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A statement that fails is logged with its exception, never with its parameters."""
    cid = make_client()

    def failing_update(session: Any, client: Any, data: Any, *, actor: str) -> None:
        # duplicate primary key: fails on every backend, with a secret among the parameters
        session.execute(text("INSERT INTO clients (id, firstname, lastname, email, email_normalized, uuid, "
                             "currency_id, password_hash) VALUES (:id, :f, :l, :e, :e, :u, 1, :p)"),
                        {"id": client.id, "f": "x", "l": "y", "e": "SECRET-ADDRESS@example.com", "u": "u",
                         "p": "SECRET-PASSWORD-HASH"})

    monkeypatch.setattr(clients, "update", failing_update)
    caplog.set_level(logging.DEBUG)
    resp = api("UpdateClient", clientid=cid, firstname="Zed")
    assert resp.status_code == 500 and resp.get_json() == {"result": "error",
                                                           "message": "An unexpected error occurred"}
    logged = caplog.text + "".join(str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    assert "WHMCS API action failed" in logged
    assert "SECRET-PASSWORD-HASH" not in logged and "SECRET-ADDRESS" not in logged
    assert "database error" in logged  # the kind of error is still named


def test_engines_hide_parameters(app: Any) -> None:
    assert app.extensions["bridge_db"]["engine"].hide_parameters is True
