"""WHMCS External API envelopes (``/includes/api.php``), standalone marshmallow schemas.

WHMCS answers ``{"result": "success", ...action fields...}`` or ``{"result": "error",
"message": "<exact WHMCS text>"}``. Lists are double-wrapped (``clients.client[]``) and
scalars are strings (ids ``"1"``, money ``"15.95"``, rates ``"0.000"``). The OpenAPI generator
and the bridge's tests use these; the bridge builds its answers to match them.
"""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

MONEY = r"^-?\d+\.\d{2}$"
ID = r"^\d+$"


class ErrorEnvelopeSchema(Schema):
    """Every error: HTTP 200 for business errors, 403 for authentication and IP failures."""

    result = fields.String(required=True, validate=validate.Equal("error"))
    message = fields.String(required=True)


class SuccessEnvelopeSchema(Schema):
    """Every success: ``result`` plus the action's own fields."""

    class Meta:
        unknown = INCLUDE

    result = fields.String(required=True, validate=validate.Equal("success"))


def StrId(**kw: Any) -> fields.String:  # noqa: N802 - reads like a field class
    return fields.String(validate=validate.Regexp(ID), **kw)


def StrMoney(**kw: Any) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.Regexp(MONEY), **kw)


class PagedSchema(SuccessEnvelopeSchema):
    totalresults = StrId(required=True)
    startnumber = StrId(required=True)
    numreturned = StrId(required=True)


class ClientRowSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = StrId(required=True)
    firstname = fields.String(required=True)
    lastname = fields.String(required=True)
    companyname = fields.String(required=True)
    email = fields.String(required=True)
    datecreated = fields.String(required=True)
    groupid = StrId(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["Active", "Inactive", "Closed"]))


class ClientListSchema(Schema):
    client = fields.List(fields.Nested(ClientRowSchema), required=True)


class GetClientsResponseSchema(PagedSchema):
    clients = fields.Nested(ClientListSchema, required=True)


class CurrencyRowSchema(Schema):
    id = StrId(required=True)
    code = fields.String(required=True)
    prefix = fields.String(required=True)
    suffix = fields.String(required=True)
    format = fields.String(required=True, validate=validate.OneOf(["1", "2", "3", "4"]))
    rate = fields.String(required=True, validate=validate.Regexp(r"^\d+\.\d{5}$"))


class CurrencyListSchema(Schema):
    currency = fields.List(fields.Nested(CurrencyRowSchema), required=True)


class GetCurrenciesResponseSchema(SuccessEnvelopeSchema):
    totalresults = StrId(required=True)
    currencies = fields.Nested(CurrencyListSchema, required=True)


class GroupRowSchema(Schema):
    id = StrId(required=True)
    groupname = fields.String(required=True)
    groupcolour = fields.String(required=True)
    discountpercent = StrMoney(required=True)
    susptermexempt = fields.String(required=True, validate=validate.OneOf(["on", ""]))
    separateinvoices = fields.String(required=True, validate=validate.OneOf(["on", ""]))


class GroupListSchema(Schema):
    group = fields.List(fields.Nested(GroupRowSchema), required=True)


class GetClientGroupsResponseSchema(SuccessEnvelopeSchema):
    totalresults = StrId(required=True)
    groups = fields.Nested(GroupListSchema, required=True)


class InvoiceItemSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = StrId(required=True)
    type = fields.String(required=True)
    relid = StrId(required=True)
    description = fields.String(required=True)
    amount = StrMoney(required=True)
    taxed = fields.String(required=True, validate=validate.OneOf(["0", "1"]))


class InvoiceItemListSchema(Schema):
    item = fields.List(fields.Nested(InvoiceItemSchema), required=True)


class GetInvoiceResponseSchema(SuccessEnvelopeSchema):
    invoiceid = StrId(required=True)
    userid = StrId(required=True)
    date = fields.String(required=True)
    duedate = fields.String(required=True)
    datepaid = fields.String(required=True)
    subtotal = StrMoney(required=True)
    credit = StrMoney(required=True)
    tax = StrMoney(required=True)
    tax2 = StrMoney(required=True)
    total = StrMoney(required=True)
    balance = StrMoney(required=True)
    taxrate = fields.String(required=True)
    taxrate2 = fields.String(required=True)
    status = fields.String(required=True)
    items = fields.Nested(InvoiceItemListSchema, required=True)


class InvoiceRowSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = StrId(required=True)
    userid = StrId(required=True)
    date = fields.String(required=True)
    duedate = fields.String(required=True)
    subtotal = StrMoney(required=True)
    total = StrMoney(required=True)
    status = fields.String(required=True)
    currencycode = fields.String(required=True)


class InvoiceListSchema(Schema):
    invoice = fields.List(fields.Nested(InvoiceRowSchema), required=True)


class GetInvoicesResponseSchema(PagedSchema):
    invoices = fields.Nested(InvoiceListSchema, required=True)
