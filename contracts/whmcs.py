"""WHMCS External API envelopes (``/includes/api.php``), standalone marshmallow schemas.

WHMCS answers ``{"result": "success", ...action fields...}`` or ``{"result": "error",
"message": "<exact WHMCS text>"}``. Lists are double-wrapped (``clients.client[]``). Value
types are those of WHMCS 8's documented example answers: paging counters and the ids in
lists and details are integers (``"totalresults": 2``, ``"id": 1``), the ids returned by
AddClient, CreateInvoice, UpdateInvoice and the actions documented flat (GetCurrencies,
GetCredits) are strings (``"1"``); money is a 2-dp string (``"15.95"``), rates ``"0.000"``. The OpenAPI generator
and the bridge's tests use these; the bridge builds its answers to match them.
``ACTION_RESPONSES`` maps every action to its success schema; the requests are in
:mod:`contracts.whmcs_requests`.
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


def IntId(**kw: Any) -> fields.Integer:  # noqa: N802
    return fields.Integer(strict=True, validate=validate.Range(min=0), **kw)


class PagedSchema(SuccessEnvelopeSchema):
    totalresults = IntId(required=True)
    startnumber = IntId(required=True)
    numreturned = IntId(required=True)


class ClientRowSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = IntId(required=True)
    firstname = fields.String(required=True)
    lastname = fields.String(required=True)
    companyname = fields.String(required=True)
    email = fields.String(required=True)
    datecreated = fields.String(required=True)
    groupid = IntId(required=True)
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
    id = IntId(required=True)
    groupname = fields.String(required=True)
    groupcolour = fields.String(required=True)
    discountpercent = StrMoney(required=True)
    susptermexempt = fields.String(required=True, validate=validate.OneOf(["on", ""]))
    separateinvoices = fields.String(required=True, validate=validate.OneOf(["on", ""]))


class GroupListSchema(Schema):
    group = fields.List(fields.Nested(GroupRowSchema), required=True)


class GetClientGroupsResponseSchema(SuccessEnvelopeSchema):
    totalresults = IntId(required=True)
    groups = fields.Nested(GroupListSchema, required=True)


class InvoiceItemSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = IntId(required=True)
    type = fields.String(required=True)
    relid = IntId(required=True)
    description = fields.String(required=True)
    amount = StrMoney(required=True)
    taxed = fields.Integer(strict=True, required=True, validate=validate.OneOf([0, 1]))


class InvoiceItemListSchema(Schema):
    item = fields.List(fields.Nested(InvoiceItemSchema), required=True)


class GetInvoiceResponseSchema(SuccessEnvelopeSchema):
    invoiceid = IntId(required=True)
    userid = IntId(required=True)
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

    id = IntId(required=True)
    userid = IntId(required=True)
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


# --- the other actions' answers (same conventions: ids, counters and money are strings) ---


class AddClientResponseSchema(SuccessEnvelopeSchema):
    clientid = StrId(required=True)
    owner_id = StrId(required=True)


class ClientIdResponseSchema(SuccessEnvelopeSchema):
    """UpdateClient, DeleteClient, CloseClient."""

    clientid = StrId(required=True)


class ClientUserSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = IntId(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    is_owner = fields.Boolean(required=True)


class ClientUserListSchema(Schema):
    user = fields.List(fields.Nested(ClientUserSchema), required=True)


class ClientDetailsSchema(Schema):
    """GetClientsDetails ``client`` (also repeated at the top level, WHMCS's deprecated copy)."""

    class Meta:
        unknown = INCLUDE

    id = IntId(required=True)
    client_id = IntId(required=True)
    userid = IntId(required=True)
    owner_user_id = IntId(required=True)
    uuid = fields.String(required=True)
    firstname = fields.String(required=True)
    lastname = fields.String(required=True)
    fullname = fields.String(required=True)
    companyname = fields.String(required=True)
    email = fields.String(required=True)
    address1 = fields.String(required=True)
    address2 = fields.String(required=True)
    city = fields.String(required=True)
    state = fields.String(required=True)
    postcode = fields.String(required=True)
    countrycode = fields.String(required=True)
    phonenumber = fields.String(required=True)
    tax_id = fields.String(required=True)
    currency = IntId(required=True)
    currency_code = fields.String(required=True)
    groupid = IntId(required=True)
    taxexempt = fields.Boolean(required=True)
    credit = StrMoney(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["Active", "Inactive", "Closed"]))
    email_verified = fields.Boolean(required=True)
    allowSingleSignOn = fields.Integer(required=True, validate=validate.OneOf([0, 1]))  # noqa: N815 - WHMCS's name
    datecreated = fields.String(required=True)
    users = fields.Nested(ClientUserListSchema, required=True)


class GetClientsDetailsResponseSchema(SuccessEnvelopeSchema):
    client = fields.Nested(ClientDetailsSchema, required=True)
    stats = fields.Dict(keys=fields.String(), values=fields.Raw(),
                        metadata={"description": "With stats=1: WHMCS's keys - invoice counts (integers) and "
                                                 "amounts formatted in the client's currency ('$1,234.50 USD') "
                                                 "by status, credit, revenue, products; booleans incredit, "
                                                 "isAffiliate"})


class AddCreditResponseSchema(SuccessEnvelopeSchema):
    newbalance = StrMoney(required=True)


class CreateInvoiceResponseSchema(SuccessEnvelopeSchema):
    invoiceid = StrId(required=True)
    status = fields.String(required=True)


class InvoiceIdResponseSchema(SuccessEnvelopeSchema):
    """UpdateInvoice."""

    invoiceid = StrId(required=True)


class CreateSsoTokenResponseSchema(SuccessEnvelopeSchema):
    access_token = fields.String(required=True)
    redirect_url = fields.String(required=True)


class GetConfigurationValueResponseSchema(SuccessEnvelopeSchema):
    setting = fields.String(required=True)
    value = fields.String(required=True)


class WhmcsVersionSchema(Schema):
    version = fields.String(required=True)
    canonicalversion = fields.String(required=True)


class WhmcsDetailsResponseSchema(SuccessEnvelopeSchema):
    whmcs = fields.Nested(WhmcsVersionSchema, required=True)


class SolusVMStateResponseSchema(SuccessEnvelopeSchema):
    """SolusVMEnrollClient, SolusVM(Un)LockClient, SolusVM(Un)SuspendClient (docs/users.md)."""

    clientid = StrId(required=True)
    solusvm_user_id = StrId(required=True, metadata={"description": "0 while the user is not created yet"})
    enrolled = fields.Boolean(required=True)
    solusvm_status = fields.String(required=True)
    reason = fields.String(required=True)
    pendingchanges = StrId(required=True)
    failedchanges = StrId(required=True)


class SolusVMLoginUrlResponseSchema(SuccessEnvelopeSchema):
    clientid = StrId(required=True)
    url = fields.String(required=True, metadata={"description": "One-time login link (a credential)"})


class SolusVMChangeSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = StrId(required=True)
    clientid = StrId(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    attempts = StrId(required=True)
    last_error = fields.String(required=True)
    next_attempt_at = fields.String(required=True)
    created_at = fields.String(required=True)


class SolusVMChangeListSchema(Schema):
    change = fields.List(fields.Nested(SolusVMChangeSchema), required=True)


class SolusVMSyncStatusResponseSchema(SuccessEnvelopeSchema):
    """Plus the SolusVMStateResponse fields when ``clientid`` is given."""

    totalresults = StrId(required=True)
    retried = StrId(required=True)
    changes = fields.Nested(SolusVMChangeListSchema, required=True)


class CreditRowSchema(Schema):
    id = StrId(required=True)
    date = fields.String(required=True)
    description = fields.String(required=True)
    amount = fields.String(required=True, validate=validate.Regexp(MONEY))
    relid = StrId(required=True, metadata={"description": "The invoice the entry concerns, 0 for none"})


class CreditListSchema(Schema):
    credit = fields.List(fields.Nested(CreditRowSchema), required=True)


class GetCreditsResponseSchema(SuccessEnvelopeSchema):
    totalresults = StrId(required=True)
    clientid = StrId(required=True)
    credits = fields.Nested(CreditListSchema, required=True)


class ApplyCreditResponseSchema(SuccessEnvelopeSchema):
    invoiceid = StrId(required=True)
    amount = StrMoney(required=True)
    invoicepaid = fields.String(required=True, validate=validate.OneOf(["true", "false"]))


class TransactionRowSchema(Schema):
    id = StrId(required=True)
    userid = StrId(required=True)
    currency = StrId(required=True)
    gateway = fields.String(required=True)
    date = fields.String(required=True)
    description = fields.String(required=True)
    amountin = StrMoney(required=True)
    fees = fields.String(required=True, validate=validate.Regexp(MONEY))
    amountout = StrMoney(required=True)
    rate = fields.String(required=True, validate=validate.Regexp(r"^\d+\.\d{5}$"))
    transid = fields.String(required=True)
    invoiceid = StrId(required=True)
    refundid = StrId(required=True)


class TransactionListSchema(Schema):
    transaction = fields.List(fields.Nested(TransactionRowSchema), required=True)


class GetTransactionsResponseSchema(PagedSchema):
    transactions = fields.Nested(TransactionListSchema, required=True)


class PaymentMethodSchema(Schema):
    module = fields.String(required=True)
    displayname = fields.String(required=True)


class PaymentMethodListSchema(Schema):
    paymentmethod = fields.List(fields.Nested(PaymentMethodSchema), required=True)


class GetPaymentMethodsResponseSchema(SuccessEnvelopeSchema):
    totalresults = IntId(required=True)
    paymentmethods = fields.Nested(PaymentMethodListSchema, required=True)


class ValidateLoginResponseSchema(SuccessEnvelopeSchema):
    userid = StrId(required=True)
    passwordhash = fields.String(required=True, metadata={"description": "A login session token"})
    twoFactorEnabled = fields.String(required=True, validate=validate.OneOf(["true", "false"]))  # noqa: N815


class AddBillableItemResponseSchema(SuccessEnvelopeSchema):
    billableid = IntId(required=True)


class ProductRowSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = StrId(required=True, metadata={"description": "The SolusVM server id"})
    clientid = StrId(required=True)
    name = fields.String(required=True)
    domain = fields.String(required=True)
    status = fields.String(required=True)
    regdate = fields.String(required=True)


class ProductListSchema(Schema):
    product = fields.List(fields.Nested(ProductRowSchema), required=True)


class GetClientsProductsResponseSchema(SuccessEnvelopeSchema):
    clientid = fields.String(required=True, allow_none=True)
    serviceid = fields.String(required=True, allow_none=True)
    pid = fields.String(required=True, allow_none=True)
    domain = fields.String(required=True, allow_none=True)
    totalresults = StrId(required=True)
    startnumber = IntId(required=True)
    numreturned = IntId(required=True)
    products = fields.Nested(ProductListSchema, required=True)


#: Action → the schema of its success answer (errors are :class:`ErrorEnvelopeSchema`).
ACTION_RESPONSES: dict[str, type[Schema]] = {
    "AddClient": AddClientResponseSchema,
    "GetClientsDetails": GetClientsDetailsResponseSchema,
    "UpdateClient": ClientIdResponseSchema,
    "DeleteClient": ClientIdResponseSchema,
    "CloseClient": ClientIdResponseSchema,
    "GetClients": GetClientsResponseSchema,
    "AddCredit": AddCreditResponseSchema,
    "GetCredits": GetCreditsResponseSchema,
    "ValidateLogin": ValidateLoginResponseSchema,
    "GetClientsProducts": GetClientsProductsResponseSchema,
    "GetCurrencies": GetCurrenciesResponseSchema,
    "GetClientGroups": GetClientGroupsResponseSchema,
    "CreateInvoice": CreateInvoiceResponseSchema,
    "GetInvoice": GetInvoiceResponseSchema,
    "GetInvoices": GetInvoicesResponseSchema,
    "UpdateInvoice": InvoiceIdResponseSchema,
    "AddInvoicePayment": SuccessEnvelopeSchema,
    "ApplyCredit": ApplyCreditResponseSchema,
    "GetTransactions": GetTransactionsResponseSchema,
    "AddTransaction": SuccessEnvelopeSchema,
    "GetPaymentMethods": GetPaymentMethodsResponseSchema,
    "SendEmail": SuccessEnvelopeSchema,
    "AddBillableItem": AddBillableItemResponseSchema,
    "CreateSsoToken": CreateSsoTokenResponseSchema,
    "GetConfigurationValue": GetConfigurationValueResponseSchema,
    "WhmcsDetails": WhmcsDetailsResponseSchema,
    "SolusVMEnrollClient": SolusVMStateResponseSchema,
    "SolusVMLockClient": SolusVMStateResponseSchema,
    "SolusVMUnlockClient": SolusVMStateResponseSchema,
    "SolusVMSuspendClient": SolusVMStateResponseSchema,
    "SolusVMUnsuspendClient": SolusVMStateResponseSchema,
    "SolusVMGetLoginURL": SolusVMLoginUrlResponseSchema,
    "SolusVMSyncStatus": SolusVMSyncStatusResponseSchema,
}
