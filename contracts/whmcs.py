"""WHMCS External API answers (``/includes/api.php``): one marshmallow schema per wire shape.

WHMCS answers ``{"result": "success", ...action fields...}`` or ``{"result": "error",
"message": "<exact WHMCS text>"}``. Lists are double-wrapped (``clients.client[]``). Value
types are those of WHMCS 8's documented example answers: paging counters and the ids in
lists and details are integers (``"totalresults": 2``, ``"id": 1``), the ids returned by
AddClient, CreateInvoice, UpdateInvoice and the actions documented flat (GetCurrencies,
GetCredits) are strings (``"1"``); money is a 2-dp string (``"15.95"``), rates ``"0.000"``.

The same schemas document the answers (the OpenAPI generator), check them (the tests'
``load``) and write them: the bridge dumps its rows with ``schema.dump``, and the field
types below hold the wire's spelling rules (ids as text, empty dates ``0000-00-00``, PHP
``"on"``/``""`` flags, fixed values). Money is formatted by the serving side: a schema
that dumps money is made with ``money=`` (a function of the amount and, for the
currency-formatted ``stats``, the currency); this package has no money rules of its own.
``ACTION_RESPONSES`` maps every action to its success schema; the requests are in
:mod:`contracts.whmcs_requests`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

MONEY = r"^-?\d+\.\d{2}$"
ID = r"^\d+$"

#: ``money(amount, currency)``: the serving side's formatter (``currency`` None: a plain 2-dp amount).
MoneyFormatter = Callable[[Any, Any], str]


class AnswerSchema(Schema):
    """Base of the answer shapes: ``money`` formats the amounts when the schema dumps."""

    def __init__(self, *args: Any, money: MoneyFormatter | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.money = money


def _money_of(field: fields.Field) -> MoneyFormatter:
    root = field.root
    money = root.money if isinstance(root, AnswerSchema) else None
    if money is None:
        raise TypeError("dumping money needs the schema made with money=<formatter>")
    return money


class AnswerNested(fields.Nested):
    """A nested answer shape: hands the money formatter of its schema down."""

    @property
    def schema(self) -> Schema:
        """The nested schema, with this schema's ``money``."""
        nested = super().schema
        if isinstance(nested, AnswerSchema) and isinstance(self.root, AnswerSchema):
            nested.money = self.root.money
        return nested


class Listed(AnswerNested):
    """WHMCS's double-wrapped list: a list of rows dumps as ``{"<key>": [rows]}``.

    ``nested`` is a schema with the one list field ``<key>``; ``empty`` (when given) is what an
    empty list dumps as instead (GetInvoice's ``"transactions": ""``).
    """

    def __init__(self, nested: type[Schema], *, empty: Any = None, **kwargs: Any) -> None:
        super().__init__(nested, **kwargs)
        self.key = next(iter(nested._declared_fields))
        self.empty = empty

    # marshmallow's Nested names Field's first parameter differently; either name breaks one of them.
    def _serialize(self, nested_obj: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if nested_obj is None:
            return None
        if self.empty is not None and not nested_obj:
            return self.empty
        return super()._serialize({self.key: list(nested_obj)}, attr, obj, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     partial: bool | Sequence[str] | AbstractSet[str] | None = None, **kwargs: Any) -> Any:
        if self.empty is not None and value == self.empty:
            return value
        return super()._deserialize(value, attr, data, partial, **kwargs)


class _IdText(fields.String):
    """An id or counter as text; none is ``"0"``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return "0" if value is None else str(int(value))


class _IdNumber(fields.Integer):
    """An id or counter as a JSON integer; none is ``0``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> int:
        return 0 if value is None else int(value)


class _MoneyText(fields.String):
    """An amount as text, written by the schema's ``money`` formatter (none is zero)."""

    def __init__(self, *, in_currency: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_currency = in_currency

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        currency = getattr(obj, "currency", None) if self.in_currency else None
        return _money_of(self)(Decimal(value or 0), currency)


class _RateText(fields.String):
    """A rate as text with a fixed number of places (tax rates 3, currency rates 5)."""

    def __init__(self, places: int, **kwargs: Any) -> None:
        super().__init__(validate=validate.Regexp(rf"^\d+\.\d{{{places}}}$"), **kwargs)
        self.exponent = Decimal(1).scaleb(-places)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return str(Decimal(value or 0).quantize(self.exponent, rounding=ROUND_HALF_UP))


class _DateText(fields.String):
    """A date as ``YYYY-MM-DD``; none is ``0000-00-00``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        if value is None:
            return "0000-00-00"
        if isinstance(value, datetime):
            return value.date().isoformat()
        return value.isoformat() if isinstance(value, date) else str(value)


class _DateTimeText(fields.String):
    """A time as ``YYYY-MM-DD HH:MM:SS``; none is ``0000-00-00 00:00:00``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return "0000-00-00 00:00:00" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


class _Text(fields.String):
    """Text; none is the empty string, as WHMCS writes it."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return "" if value is None else str(value)


class _Flag(fields.Boolean):
    """A JSON boolean (true/false), whatever truthy value the row holds."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> bool | None:
        return None if value is None else bool(value)


class _Bit(fields.Integer):
    """A boolean written as the integer 1 or 0."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> int:
        return 1 if value else 0


class _Choice(fields.String):
    """A boolean written as one of two texts (``"on"``/``""``, ``"true"``/``"false"``)."""

    def __init__(self, yes: str, no: str, **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf([yes, no]), **kwargs)
        self.yes, self.no = yes, no

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return self.yes if value else self.no


_JSON_TYPES = {bool: "boolean", int: "integer", str: "string", list: "array", dict: "object"}


class Fixed(fields.Field):
    """A key WHMCS sends that has one value here (a feature the bridge has not got)."""

    _CHECK_ATTRIBUTE = False

    def __init__(self, value: Any, **kwargs: Any) -> None:
        meta: dict[str, Any] = {"nullable": True} if value is None else {"type": _JSON_TYPES[type(value)]}
        if isinstance(value, bool | int | str) and value is not None:
            meta["enum"] = [value]
        if value is None:
            kwargs.setdefault("allow_none", True)
        super().__init__(metadata={**meta, **kwargs.pop("metadata", {})}, **kwargs)
        self.value = value

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return copy.deepcopy(self.value)


def StrId(**kw: Any) -> fields.String:  # noqa: N802 - reads like a field class
    """An id or counter written as text (``"1"``; none is ``"0"``)."""
    return _IdText(validate=validate.Regexp(ID), **kw)


def StrMoney(**kw: Any) -> fields.String:  # noqa: N802
    """An amount written as a 2-dp text by the schema's ``money`` formatter."""
    return _MoneyText(validate=validate.Regexp(MONEY), **kw)


def CurrencyMoney(**kw: Any) -> fields.String:  # noqa: N802
    """An amount in the row's ``currency`` (``$7.00 USD``), by the schema's ``money`` formatter."""
    return _MoneyText(in_currency=True, **kw)


def IntId(**kw: Any) -> fields.Integer:  # noqa: N802
    """An id or counter written as a JSON integer (none is 0)."""
    return _IdNumber(strict=True, validate=validate.Range(min=0), **kw)


def Rate(places: int = 3, **kw: Any) -> fields.String:  # noqa: N802
    """A rate as a fixed-place text (tax rates 3 places, currency rates 5)."""
    return _RateText(places, **kw)


def WDateText(**kw: Any) -> fields.String:  # noqa: N802
    """A date, ``YYYY-MM-DD`` (none: ``0000-00-00``)."""
    return _DateText(**kw)


def WDateTimeText(**kw: Any) -> fields.String:  # noqa: N802
    """A time, ``YYYY-MM-DD HH:MM:SS`` (none: ``0000-00-00 00:00:00``)."""
    return _DateTimeText(**kw)


def Text(**kw: Any) -> fields.String:  # noqa: N802
    """Text (none: ``""``)."""
    return _Text(**kw)


def Flag(**kw: Any) -> fields.Boolean:  # noqa: N802
    """A JSON boolean."""
    return _Flag(**kw)


def Bit(**kw: Any) -> fields.Integer:  # noqa: N802
    """A boolean as the integer 1 or 0."""
    return _Bit(strict=True, validate=validate.OneOf([0, 1]), **kw)


def OnOff(**kw: Any) -> fields.String:  # noqa: N802
    """A PHP checkbox: ``"on"`` or ``""``."""
    return _Choice("on", "", **kw)


def TrueFalse(**kw: Any) -> fields.String:  # noqa: N802
    """A boolean as the text ``"true"`` or ``"false"``."""
    return _Choice("true", "false", **kw)


class ErrorEnvelopeSchema(Schema):
    """Every error: HTTP 200 for business errors, 403 for authentication and IP failures."""

    result = fields.String(required=True, validate=validate.Equal("error"))
    message = fields.String(required=True)


class SuccessEnvelopeSchema(AnswerSchema):
    """Every success: ``result`` plus the action's own fields (the bridge's rows have no
    ``result``, so a dump writes the action's fields only; the envelope adds it)."""

    class Meta:
        unknown = INCLUDE

    result = fields.String(required=True, validate=validate.Equal("success"))


class PagedSchema(SuccessEnvelopeSchema):
    totalresults = IntId(required=True)
    startnumber = IntId(required=True)
    numreturned = IntId(required=True)


class ClientRowSchema(AnswerSchema):
    class Meta:
        unknown = INCLUDE

    id = IntId(required=True)
    firstname = fields.String(required=True)
    lastname = fields.String(required=True)
    companyname = fields.String(required=True)
    email = fields.String(required=True)
    datecreated = WDateText(required=True)
    groupid = IntId(required=True, attribute="group_id")
    status = fields.String(required=True, validate=validate.OneOf(["Active", "Inactive", "Closed"]))


class ClientListSchema(AnswerSchema):
    client = fields.List(AnswerNested(ClientRowSchema), required=True)


class GetClientsResponseSchema(PagedSchema):
    clients = Listed(ClientListSchema, required=True)


class CurrencyRowSchema(AnswerSchema):
    id = StrId(required=True)
    code = fields.String(required=True)
    prefix = fields.String(required=True)
    suffix = fields.String(required=True)
    format = fields.String(required=True, validate=validate.OneOf(["1", "2", "3", "4"]))
    rate = Rate(5, required=True)


class CurrencyListSchema(AnswerSchema):
    currency = fields.List(AnswerNested(CurrencyRowSchema), required=True)


class GetCurrenciesResponseSchema(SuccessEnvelopeSchema):
    totalresults = StrId(required=True)
    currencies = Listed(CurrencyListSchema, required=True)


class GroupRowSchema(AnswerSchema):
    id = IntId(required=True)
    groupname = fields.String(required=True, attribute="name")
    groupcolour = fields.String(required=True, attribute="colour")
    discountpercent = StrMoney(required=True, attribute="discount_percent")
    susptermexempt = OnOff(required=True, attribute="susp_term_exempt")
    separateinvoices = OnOff(required=True, attribute="separate_invoices")


class GroupListSchema(AnswerSchema):
    group = fields.List(AnswerNested(GroupRowSchema), required=True)


class GetClientGroupsResponseSchema(SuccessEnvelopeSchema):
    totalresults = IntId(required=True)
    groups = Listed(GroupListSchema, required=True)


class InvoiceItemSchema(AnswerSchema):
    class Meta:
        unknown = INCLUDE

    id = IntId(required=True)
    type = fields.String(required=True)
    relid = IntId(required=True)
    description = fields.String(required=True)
    amount = StrMoney(required=True)
    taxed = Bit(required=True)
    tax = StrMoney(attribute="tax_amount")
    tax2 = StrMoney(attribute="tax2_amount")


class InvoiceItemListSchema(AnswerSchema):
    item = fields.List(AnswerNested(InvoiceItemSchema), required=True)


class TransactionRowSchema(AnswerSchema):
    """One transaction, as GetTransactions and GetInvoice list it (all text, as documented)."""

    id = StrId(required=True)
    userid = StrId(required=True, attribute="client_id")
    currency = Fixed("0", required=True)
    gateway = fields.String(required=True)
    date = WDateTimeText(required=True)
    description = fields.String(required=True)
    amountin = StrMoney(required=True, attribute="amount_in")
    fees = StrMoney(required=True)
    amountout = StrMoney(required=True, attribute="amount_out")
    rate = Rate(5, required=True)
    transid = fields.String(required=True)
    invoiceid = StrId(required=True, attribute="invoice_id", metadata={"description": "0 for none"})
    refundid = Fixed("0", required=True)


class TransactionListSchema(AnswerSchema):
    transaction = fields.List(AnswerNested(TransactionRowSchema), required=True)


class GetInvoiceResponseSchema(SuccessEnvelopeSchema):
    invoiceid = IntId(required=True, attribute="id")
    invoicenum = fields.String()
    userid = IntId(required=True, attribute="client_id")
    date = WDateText(required=True)
    duedate = WDateText(required=True)
    datepaid = WDateTimeText(required=True)
    lastcaptureattempt = Fixed("0000-00-00 00:00:00")
    subtotal = StrMoney(required=True)
    credit = StrMoney(required=True)
    tax = StrMoney(required=True)
    tax2 = StrMoney(required=True)
    total = StrMoney(required=True)
    balance = StrMoney(required=True)
    taxrate = Rate(required=True)
    taxrate2 = Rate(required=True)
    status = fields.String(required=True)
    paymentmethod = fields.String()
    notes = fields.String()
    ccgateway = Fixed(False)
    period = Text()
    currencycode = fields.String(attribute="currency.code")
    items = Listed(InvoiceItemListSchema, required=True)
    transactions = Listed(TransactionListSchema, empty="", metadata={
        "description": "The invoice's payments; an empty string when there are none"})


class InvoiceRowSchema(AnswerSchema):
    class Meta:
        unknown = INCLUDE

    id = IntId(required=True)
    userid = IntId(required=True, attribute="client_id")
    firstname = fields.String(attribute="client.firstname")
    lastname = fields.String(attribute="client.lastname")
    companyname = fields.String(attribute="client.companyname")
    invoicenum = fields.String()
    date = WDateText(required=True)
    duedate = WDateText(required=True)
    datepaid = WDateTimeText()
    last_capture_attempt = Fixed("0000-00-00 00:00:00")
    date_refunded = WDateTimeText(metadata={"description": "When a Refunded invoice last changed"})
    date_cancelled = WDateTimeText(metadata={"description": "When a Cancelled invoice last changed"})
    subtotal = StrMoney(required=True)
    credit = StrMoney()
    tax = StrMoney()
    tax2 = StrMoney()
    total = StrMoney(required=True)
    taxrate = Rate()
    taxrate2 = Rate()
    status = fields.String(required=True)
    paymentmethod = fields.String()
    paymethodid = Fixed(None)
    notes = fields.String()
    period = Text()
    created_at = WDateTimeText()
    updated_at = WDateTimeText()
    currencycode = fields.String(required=True, attribute="currency.code")
    currencyprefix = fields.String(attribute="currency.prefix")
    currencysuffix = fields.String(attribute="currency.suffix")


class InvoiceListSchema(AnswerSchema):
    invoice = fields.List(AnswerNested(InvoiceRowSchema), required=True)


class GetInvoicesResponseSchema(PagedSchema):
    invoices = Listed(InvoiceListSchema, required=True)


# --- the other actions' answers (same conventions: ids, counters and money are strings) ---


class AddClientResponseSchema(SuccessEnvelopeSchema):
    clientid = StrId(required=True)
    owner_id = StrId(required=True)


class ClientIdResponseSchema(SuccessEnvelopeSchema):
    """UpdateClient, DeleteClient, CloseClient."""

    clientid = StrId(required=True)
    solusvm_user_deletion = fields.String(validate=validate.OneOf(["pending"]), metadata={
        "description": "DeleteClient: the SolusVM user is deleted after the answer (bridge extension)"})


class ClientUserSchema(AnswerSchema):
    class Meta:
        unknown = INCLUDE

    id = IntId(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    is_owner = Flag(required=True)


class ClientUserListSchema(AnswerSchema):
    user = fields.List(AnswerNested(ClientUserSchema), required=True)


#: GetClientsDetails ``email_preferences``: every kind on (the bridge sends invoice mail only).
EMAIL_PREFERENCES = {k: "1" for k in ("general", "invoice", "support", "product", "domain", "affiliate")}


class ClientDetailsSchema(AnswerSchema):
    """GetClientsDetails ``client`` (also repeated at the top level, WHMCS's deprecated copy).

    Dumped from a client row with ``owner`` (the owning client), ``fullname``, ``countryname``,
    ``phonecc``, ``phonenumberformatted``, ``separateinvoices``, ``allowSingleSignOn`` and
    ``users`` beside its columns.
    """

    class Meta:
        unknown = INCLUDE

    client_id = IntId(required=True, attribute="id", dump_only=True)
    owner_user_id = IntId(required=True, attribute="owner.id")
    userid = IntId(required=True, attribute="id", dump_only=True)
    id = IntId(required=True)
    uuid = fields.String(required=True)
    firstname = fields.String(required=True)
    lastname = fields.String(required=True)
    fullname = fields.String(required=True)
    companyname = fields.String(required=True)
    email = fields.String(required=True)
    address1 = fields.String(required=True)
    address2 = fields.String(required=True)
    city = fields.String(required=True)
    fullstate = fields.String(attribute="state", dump_only=True)
    state = fields.String(required=True)
    postcode = fields.String(required=True)
    countrycode = fields.String(required=True, attribute="country", dump_only=True)
    country = fields.String()
    phonenumber = fields.String(required=True)
    tax_id = fields.String(required=True)
    email_preferences = Fixed(EMAIL_PREFERENCES)
    statecode = fields.String(attribute="state", dump_only=True)
    countryname = fields.String()
    phonecc = fields.String(metadata={"description": "Known when the number is stored as +CC.NUMBER"})
    phonenumberformatted = fields.String()
    telephoneNumber = fields.String(attribute="phonenumberformatted", dump_only=True)  # noqa: N815 - WHMCS's name
    billingcid = Fixed(0)
    notes = fields.String()
    currency = IntId(required=True, attribute="currency_id")
    defaultgateway = Fixed("")
    groupid = IntId(required=True, attribute="group_id")
    status = fields.String(required=True, validate=validate.OneOf(["Active", "Inactive", "Closed"]))
    credit = StrMoney(required=True)
    taxexempt = Flag(required=True, attribute="tax_exempt")
    latefeeoveride = Fixed(False)
    overideduenotices = Fixed(False)
    separateinvoices = Flag()
    disableautocc = Fixed(False)
    emailoptout = Fixed(False)
    marketing_emails_opt_in = Fixed(False)
    overrideautoclose = Fixed(False)
    allowSingleSignOn = Bit(required=True)  # noqa: N815 - WHMCS's name
    email_verified = Flag(required=True)
    language = fields.String()
    isOptedInToMarketingEmails = Fixed(False)  # noqa: N815 - WHMCS's name
    lastlogin = Fixed("")
    currency_code = fields.String(required=True, attribute="currency.code")
    customfields = Fixed([])
    datecreated = WDateText(required=True, metadata={
        "description": "Not in WHMCS's example; its GetClients has it"})
    users = Listed(ClientUserListSchema, required=True)


class ClientStatsSchema(AnswerSchema):
    """GetClientsDetails ``stats`` (with ``stats=1``): every key of WHMCS 8's example.

    Dumped from the client's invoice totals (``by_status`` maps each invoice status to its
    ``count``, ``total`` and ``due``); amounts are written in the client's ``currency``
    (``$1,234.50 USD``). Domains, quotes, tickets and affiliates do not exist in the bridge:
    their zero values.
    """

    numdueinvoices = IntId(attribute="by_status.Unpaid.count")
    dueinvoicesbalance = CurrencyMoney(attribute="by_status.Unpaid.due")
    incredit = Flag(attribute="in_credit")
    creditbalance = CurrencyMoney(attribute="credit")
    grossRevenue = CurrencyMoney(attribute="gross")  # noqa: N815 - WHMCS's names from here on
    expenses = CurrencyMoney()
    income = CurrencyMoney()
    numoverdueinvoices = IntId(attribute="overdue_count")
    overdueinvoicesbalance = CurrencyMoney(attribute="overdue_balance")
    numDraftInvoices = IntId(attribute="by_status.Draft.count")  # noqa: N815
    draftInvoicesBalance = CurrencyMoney(attribute="by_status.Draft.due")  # noqa: N815
    numunpaidinvoices = IntId(attribute="by_status.Unpaid.count", dump_only=True)
    unpaidinvoicesamount = CurrencyMoney(attribute="by_status.Unpaid.due", dump_only=True)
    numpaidinvoices = IntId(attribute="by_status.Paid.count")
    paidinvoicesamount = CurrencyMoney(attribute="by_status.Paid.total")
    numcancelledinvoices = IntId(attribute="by_status.Cancelled.count")
    cancelledinvoicesamount = CurrencyMoney(attribute="by_status.Cancelled.total")
    numrefundedinvoices = IntId(attribute="by_status.Refunded.count")
    refundedinvoicesamount = CurrencyMoney(attribute="by_status.Refunded.total")
    numcollectionsinvoices = IntId(attribute="by_status.Collections.count")
    collectionsinvoicesamount = CurrencyMoney(attribute="by_status.Collections.total")
    numpaymentpendinginvoices = IntId(attribute="by_status.Payment Pending.count")
    paymentpendinginvoicesamount = CurrencyMoney(attribute="by_status.Payment Pending.total")
    productsnumactivehosting = Fixed(0)
    productsnumhosting = Fixed(0)
    productsnumactivereseller = Fixed(0)
    productsnumreseller = Fixed(0)
    productsnumactiveservers = Fixed(0)
    productsnumservers = Fixed(0)
    productsnumactiveother = IntId(attribute="active_products", metadata={
        "description": "The client's SolusVM account, once enrolled, counts as one product"})
    productsnumother = IntId(attribute="products")
    productsnumactive = IntId(attribute="active_products", dump_only=True)
    productsnumtotal = IntId(attribute="products", dump_only=True)
    numactivedomains = Fixed(0)
    numdomains = Fixed(0)
    numacceptedquotes = Fixed(0)
    numquotes = Fixed(0)
    numtickets = Fixed(0)
    numactivetickets = Fixed(0)
    numaffiliatesignups = Fixed(0)
    isAffiliate = Fixed(False)  # noqa: N815


class GetClientsDetailsResponseSchema(SuccessEnvelopeSchema, ClientDetailsSchema):
    """The client's fields at the top level (WHMCS's deprecated copy), then ``client`` and ``stats``."""

    class Meta:
        unknown = INCLUDE

    client = AnswerNested(ClientDetailsSchema, required=True)
    stats = AnswerNested(ClientStatsSchema)


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


class WhmcsVersionSchema(AnswerSchema):
    version = fields.String(required=True)
    canonicalversion = fields.String(required=True)


class WhmcsDetailsResponseSchema(SuccessEnvelopeSchema):
    whmcs = AnswerNested(WhmcsVersionSchema, required=True)


class SolusVMStateResponseSchema(SuccessEnvelopeSchema):
    """SolusVMEnrollClient, SolusVM(Un)LockClient, SolusVM(Un)SuspendClient (docs/users.md)."""

    clientid = StrId(required=True)
    solusvm_user_id = StrId(required=True, metadata={"description": "0 while the user is not created yet"})
    enrolled = Flag(required=True)
    solusvm_status = fields.String(required=True)
    reason = fields.String(required=True)
    pendingchanges = StrId(required=True)
    failedchanges = StrId(required=True)


class SolusVMLoginUrlResponseSchema(SuccessEnvelopeSchema):
    clientid = StrId(required=True)
    url = fields.String(required=True, metadata={"description": "One-time login link (a credential)"})


class SolusVMChangeSchema(AnswerSchema):
    class Meta:
        unknown = INCLUDE

    id = StrId(required=True)
    clientid = StrId(required=True, attribute="client_id")
    kind = fields.String(required=True)
    status = fields.String(required=True)
    attempts = StrId(required=True)
    last_error = Text(required=True)
    next_attempt_at = WDateTimeText(required=True)
    created_at = WDateTimeText(required=True)


class SolusVMChangeListSchema(AnswerSchema):
    change = fields.List(AnswerNested(SolusVMChangeSchema), required=True)


class SolusVMSyncStatusResponseSchema(SuccessEnvelopeSchema):
    """Plus the SolusVMStateResponse fields when ``clientid`` is given."""

    totalresults = StrId(required=True)
    retried = StrId(required=True)
    changes = Listed(SolusVMChangeListSchema, required=True)
    clientid = StrId()
    solusvm_user_id = StrId()
    enrolled = Flag()
    solusvm_status = fields.String()
    reason = fields.String()
    pendingchanges = StrId()
    failedchanges = StrId()


class CreditRowSchema(AnswerSchema):
    id = StrId(required=True)
    date = WDateText(required=True)
    description = fields.String(required=True)
    amount = StrMoney(required=True)
    relid = StrId(required=True, attribute="invoice_id",
                  metadata={"description": "The invoice the entry concerns, 0 for none"})


class CreditListSchema(AnswerSchema):
    credit = fields.List(AnswerNested(CreditRowSchema), required=True)


class GetCreditsResponseSchema(SuccessEnvelopeSchema):
    totalresults = StrId(required=True)
    clientid = StrId(required=True)
    credits = Listed(CreditListSchema, required=True)


class ApplyCreditResponseSchema(SuccessEnvelopeSchema):
    invoiceid = StrId(required=True)
    amount = StrMoney(required=True)
    invoicepaid = TrueFalse(required=True)


class GetTransactionsResponseSchema(PagedSchema):
    transactions = Listed(TransactionListSchema, required=True)


class PaymentMethodSchema(AnswerSchema):
    module = fields.String(required=True)
    displayname = fields.String(required=True)


class PaymentMethodListSchema(AnswerSchema):
    paymentmethod = fields.List(AnswerNested(PaymentMethodSchema), required=True)


class GetPaymentMethodsResponseSchema(SuccessEnvelopeSchema):
    totalresults = IntId(required=True)
    paymentmethods = Listed(PaymentMethodListSchema, required=True)


class ValidateLoginResponseSchema(SuccessEnvelopeSchema):
    userid = StrId(required=True)
    passwordhash = fields.String(required=True, metadata={"description": "A login session token"})
    twoFactorEnabled = Fixed("false", required=True)  # noqa: N815


class AddBillableItemResponseSchema(SuccessEnvelopeSchema):
    billableid = IntId(required=True)


class ProductRowSchema(AnswerSchema):
    """A SolusVM server as a WHMCS product (all text, as documented); no money: usage is invoiced monthly.

    Dumped from the server's ``id``, ``clientid``, ``pid``, ``regdate``, ``name``, ``groupname``,
    ``domain``, ``dedicatedip``, ``billingcycle``, ``status`` and ``assignedips``.
    """

    class Meta:
        unknown = INCLUDE

    id = StrId(required=True, metadata={"description": "The SolusVM server id"})
    qty = Fixed("1")
    clientid = StrId(required=True)
    orderid = Fixed("0")
    ordernumber = Fixed("")
    pid = StrId()
    regdate = WDateText(required=True)
    name = fields.String(required=True)
    translated_name = fields.String(attribute="name", dump_only=True)
    groupname = fields.String()
    translated_groupname = fields.String(attribute="groupname", dump_only=True)
    domain = fields.String(required=True)
    dedicatedip = fields.String()
    serverid = Fixed("0")
    servername = Fixed("")
    serverip = Fixed("")
    serverhostname = Fixed("")
    suspensionreason = Fixed("")
    firstpaymentamount = Fixed("0.00")
    recurringamount = Fixed("0.00")
    paymentmethod = Fixed("")
    paymentmethodname = Fixed("")
    billingcycle = fields.String()
    nextduedate = Fixed("0000-00-00")
    status = fields.String(required=True)
    username = Fixed("")
    password = Fixed("")
    subscriptionid = Fixed("")
    promoid = Fixed("0")
    overideautosuspend = Fixed("")
    overidesuspenduntil = Fixed("0000-00-00")
    ns1 = Fixed("")
    ns2 = Fixed("")
    assignedips = fields.String()
    notes = Fixed("")
    diskusage = Fixed("0")
    disklimit = Fixed("0")
    bwusage = Fixed("0")
    bwlimit = Fixed("0")
    lastupdate = Fixed("0000-00-00 00:00:00")
    customfields = Fixed({"customfield": []})
    configoptions = Fixed({"configoption": []})


class ProductListSchema(AnswerSchema):
    product = fields.List(AnswerNested(ProductRowSchema), required=True)


class GetClientsProductsResponseSchema(SuccessEnvelopeSchema):
    clientid = fields.String(required=True, allow_none=True)
    serviceid = fields.String(required=True, allow_none=True)
    pid = fields.String(required=True, allow_none=True)
    domain = fields.String(required=True, allow_none=True)
    totalresults = StrId(required=True)
    startnumber = IntId(required=True)
    numreturned = IntId(required=True)
    products = Listed(ProductListSchema, required=True)


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
