"""WHMCS External API requests (``POST /includes/api.php``): one schema per action.

Every call is one form (``application/x-www-form-urlencoded``, PHP array syntax) with the
authentication fields of :class:`WhmcsAuthSchema`, an ``action`` and the action's own
parameters. The bridge validates the parameters with these schemas and
:mod:`contracts.openapi` documents them, so the two cannot disagree.

``WhmcsRequestSchema.load_params`` turns the first bad field (in declared order) into the
WHMCS text of ``WHMCS_ERRORS`` and raises :class:`InvalidParams`; the bridge re-raises it as
its own WHMCS error. Fields made with :func:`handled` are documented here but checked by the
action handler itself (numbered invoice lines, PHP arrays, a few fields whose error order
matters); ``load_params`` leaves them out.

All values travel as text. WHMCS spells booleans ``1``/``0``, ``on``/``off``, ``true``/``false``,
``yes``/``no`` (empty is false); ids and counters are 32-bit integers; money has at most 14
integer digits (WHMCS's ``DECIMAL(16,2)``); dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

# --- value rules shared with the bridge -------------------------------------------------

#: Client statuses (``bridge.services.clients.STATUSES`` holds the same tuple).
CLIENT_STATUSES = ("Active", "Inactive", "Closed")
#: GetClients ``orderby`` values.
CLIENT_ORDER_FIELDS = ("id", "firstname", "lastname", "companyname", "email", "groupid", "datecreated", "status")
#: Stored invoice statuses (GetInvoices also filters on ``Overdue``).
INVOICE_STATUSES = ("Draft", "Unpaid", "Paid", "Cancelled", "Refunded", "Collections", "Payment Pending")
#: GetInvoices ``orderby`` values.
INVOICE_ORDER_FIELDS = ("id", "invoicenumber", "date", "duedate", "total", "status")
#: Settings GetConfigurationValue may read; anything else is "Invalid name for parameter setting".
READABLE_SETTINGS = frozenset({"SystemURL", "TaxEnabled", "TaxType", "TaxL2Compound", "TaxPerLineItem",
                               "CompanyName", "Email", "Domain", "Language", "DefaultCountry"})
#: CreateSsoToken destinations.
SSO_DESTINATIONS = frozenset({"clientarea:home", "clientarea:profile", "clientarea:invoices",
                              "clientarea:services", "sso:custom_redirect"})

TRUTHY = {"1", "on", "true", "yes", True}
FALSY = {"0", "off", "false", "no", "", False}
MAX_INT = 2**31 - 1  # INTEGER columns on SQLite and PostgreSQL; larger values would overflow
MAX_MONEY = Decimal("99999999999999")  # 14 integer digits, WHMCS's DECIMAL(16,2)


# --- field helpers ----------------------------------------------------------------------


def WBool(**kw: Any) -> fields.Boolean:  # noqa: N802 - reads like a field class
    """WHMCS booleans: "1"/"on"/"true"/"yes" and "0"/""/"off"/"false"/"no"."""
    return fields.Boolean(truthy=TRUTHY, falsy=FALSY, **kw)


def WInt(**kw: Any) -> fields.Integer:  # noqa: N802
    """A 32-bit integer (further checks in ``validate``)."""
    extra = kw.pop("validate", None)
    checks = [validate.Range(min=-MAX_INT, max=MAX_INT)] + ([extra] if extra else [])
    return fields.Integer(strict=False, validate=checks, **kw)


def WId(**kw: Any) -> fields.Integer:  # noqa: N802
    """A record id: 1 to 2³¹−1 (larger ids are "not found", never an overflow)."""
    return fields.Integer(strict=False, validate=validate.Range(min=1, max=MAX_INT), **kw)


def WMoney(**kw: Any) -> fields.Decimal:  # noqa: N802
    """An amount: finite, at most 14 integer digits (further checks in ``validate``)."""
    extra = kw.pop("validate", None)
    checks = [validate.Range(min=-MAX_MONEY, max=MAX_MONEY)] + ([extra] if extra else [])
    return fields.Decimal(allow_nan=False, validate=checks, **kw)


def WDate(**kw: Any) -> fields.Date:  # noqa: N802
    """A date, ``YYYY-MM-DD``."""
    return fields.Date(format="%Y-%m-%d", **kw)


def handled(kind: str = "string", *, php_array: bool = False, required: bool = False, **schema: Any) -> fields.Raw:
    """A parameter the action handler reads and checks itself; documented, never loaded.

    ``kind`` is its OpenAPI type; ``php_array`` marks ``name[key]=value`` arrays (OpenAPI
    ``deepObject``); ``required`` only documents; ``schema`` adds OpenAPI keywords
    (``description``, ``enum``, ...).
    """
    meta: dict[str, Any] = {"handled": True, "type": "object" if php_array else kind, **schema}
    if php_array:
        meta["php_array"] = True
        meta.setdefault("additionalProperties", {"type": kind})
    return fields.Raw(required=required, metadata=meta)


def _text(max_len: int = 200, min_len: int | None = None, **kw: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=min_len, max=max_len), **kw)


COUNTRY = validate.Regexp(r"^[A-Za-z]{2}$")
EMAIL = {"format": "email"}  # documents only: the bridge checks addresses its own way


# --- the base schemas -------------------------------------------------------------------


class InvalidParams(ValueError):
    """A parameter failed validation; ``message`` is the WHMCS text for it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WhmcsRequestSchema(Schema):
    """Base of every action's parameters: unknown parameters are ignored; errors map to WHMCS texts."""

    class Meta:
        unknown = EXCLUDE

    WHMCS_ERRORS: ClassVar[dict[str, str]] = {}

    @classmethod
    def handled_fields(cls) -> tuple[str, ...]:
        """The fields the action handler checks itself (made with :func:`handled`)."""
        return tuple(name for name, field in cls._declared_fields.items() if field.metadata.get("handled"))

    @classmethod
    def load_params(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params``; the first bad field raises InvalidParams with its WHMCS text.

        Arrays where a scalar is expected (or the reverse) are an error too, never a crash.
        """
        schema = cls(exclude=cls.handled_fields())
        data = {k: v for k, v in params.items() if k in schema.fields or k.split("[")[0] in schema.fields}
        try:
            return schema.load(data)
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            for name in schema.fields:  # declared order, so the message is deterministic
                if name in messages:
                    raise InvalidParams(cls.WHMCS_ERRORS.get(name, f"Invalid value for {name}")) from None
            raise InvalidParams(cls.WHMCS_ERRORS.get("_schema", "Invalid parameters")) from None


class WhmcsAuthSchema(Schema):
    """The fields every authenticated ``/includes/api.php`` call carries besides ``action``.

    Either ``identifier`` + ``secret`` or ``username`` + ``password`` authenticates; a wrong pair
    is ``Authentication Failed`` (HTTP 403).
    """

    class Meta:
        unknown = EXCLUDE

    identifier = fields.String(metadata={"description": "API credential identifier"})
    secret = fields.String(metadata={"description": "API credential secret"})
    username = fields.String(metadata={"description": "The identifier, legacy spelling"})
    password = fields.String(metadata={"description": "The secret or the MD5 hex of the secret (legacy)"})
    accesskey = fields.String(metadata={"description": "API access key: skips the IP allow-list when it matches"})
    responsetype = fields.String(validate=validate.OneOf(["json", "xml"]),
                                 metadata={"description": "Answer format (default json)"})


# --- clients ----------------------------------------------------------------------------


class AddClientSchema(WhmcsRequestSchema):
    """AddClient: a new client (and its owner user)."""

    firstname = _text(100, 1, required=True)
    lastname = _text(100, 1, required=True)
    email = _text(254, 3, required=True, metadata=EMAIL)
    address1 = _text(200, 1, required=True)
    city = _text(100, 1, required=True)
    state = _text(100, 1, required=True)
    postcode = _text(20, 1, required=True)
    country = fields.String(required=True, validate=COUNTRY, metadata={"description": "ISO 3166-1 alpha-2"})
    phonenumber = _text(50, 1, required=True)
    password2 = _text(200, 1, required=True, metadata={"description": "The client's password (stored hashed)"})
    companyname = _text(load_default="")
    address2 = _text(load_default="")
    tax_id = _text(load_default="")
    language = _text(load_default="")
    notes = fields.String(load_default="")
    currency = WId(load_default=None, metadata={"description": "Currency id (default: the default currency)"})
    groupid = WInt(load_default=None, validate=validate.Range(min=0), metadata={"description": "Client group id"})
    taxexempt = WBool(load_default=False)
    WHMCS_ERRORS = {
        "firstname": "You did not enter your first name",
        "lastname": "You did not enter your last name",
        "email": "You did not enter your email address",
        "address1": "You did not enter your address (line 1)",
        "city": "You did not enter your city",
        "state": "You did not enter your state",
        "postcode": "You did not enter your postcode",
        "country": "Valid country required",
        "phonenumber": "You did not enter your phone number",
        "password2": "You did not enter a password",
        "currency": "Invalid Currency ID",
        "groupid": "Invalid Client Group ID",
        "taxexempt": "Invalid value for taxexempt",
    }


class ClientKeySchema(WhmcsRequestSchema):
    """GetClientsDetails: ``clientid`` or ``email``."""

    clientid = WId(load_default=None)
    email = fields.String(load_default=None, metadata=EMAIL)
    stats = WBool(load_default=False, metadata={"description": "Add invoice counts and sums by status"})
    WHMCS_ERRORS = {"clientid": "Client Not Found", "email": "Client Not Found"}


class UpdateClientSchema(WhmcsRequestSchema):
    """UpdateClient: ``clientid`` or ``clientemail``, then only the fields to change."""

    clientid = WId(load_default=None)
    clientemail = fields.String(load_default=None, metadata={**EMAIL, "description": "Find the client by e-mail"})
    firstname = _text(100, 1)
    lastname = _text(100, 1)
    companyname = _text()
    email = fields.String(validate=validate.Length(max=254), metadata=EMAIL)
    address1 = _text()
    address2 = _text()
    city = _text()
    state = _text()
    postcode = _text()
    country = fields.String(validate=COUNTRY, metadata={"description": "ISO 3166-1 alpha-2"})
    phonenumber = _text()
    tax_id = _text()
    language = _text()
    notes = fields.String()
    password2 = _text(200, 1)
    currency = WId()
    groupid = WInt(validate=validate.Range(min=0))
    taxexempt = WBool()
    status = fields.String(validate=validate.OneOf(CLIENT_STATUSES))
    WHMCS_ERRORS = {
        "clientid": "Client ID Not Found",
        "firstname": "You did not enter your first name",
        "lastname": "You did not enter your last name",
        "email": "The email address entered is not valid",
        "country": "Valid country required",
        "currency": "Invalid Currency ID",
        "groupid": "Invalid Client Group ID",
        "status": "Invalid status",
    }


class ClientIdSchema(WhmcsRequestSchema):
    """DeleteClient and CloseClient."""

    clientid = WId(required=True)
    deleteusers = WBool(load_default=True)
    deletetransactions = WBool(load_default=True)
    deleteservers = WBool(load_default=False, metadata={
        "description": "Bridge extension (DeleteClient): also delete the SolusVM user's servers"})
    WHMCS_ERRORS = {"clientid": "Client ID Not Found", "deleteservers": "Invalid value for deleteservers"}


class GetClientsSchema(WhmcsRequestSchema):
    """GetClients: a page of clients."""

    limitstart = WInt(load_default=0, validate=validate.Range(min=0))
    limitnum = WInt(load_default=25, validate=validate.Range(min=1, max=1000))
    sorting = fields.String(load_default="ASC", validate=validate.OneOf(["ASC", "DESC", "asc", "desc"]))
    status = fields.String(load_default=None, validate=validate.OneOf(CLIENT_STATUSES))
    search = fields.String(load_default=None, metadata={
        "description": "Prefix of the e-mail, first name, last name or company name"})
    orderby = fields.String(load_default="id", validate=validate.OneOf(CLIENT_ORDER_FIELDS))
    WHMCS_ERRORS = {"limitstart": "Invalid limitstart", "limitnum": "Invalid limitnum",
                    "sorting": "Invalid sorting", "status": "Invalid status", "orderby": "Invalid orderby"}


class AddCreditSchema(WhmcsRequestSchema):
    """AddCredit: add to (or remove from) a client's credit balance."""

    clientid = WId(required=True)
    description = fields.String(required=True, validate=validate.Length(min=1))
    amount = WMoney(required=True)
    type = fields.String(load_default="add", validate=validate.OneOf(["add", "remove"]))
    WHMCS_ERRORS = {"clientid": "Client ID Not Found", "description": "You must provide a description",
                    "amount": "No Amount Provided", "type": "Type can only be add or remove"}


# --- invoices ---------------------------------------------------------------------------

_LINE_TEXT = "Invoice line N (1, 2, ...): itemdescriptionN, itemamountN, itemtaxedN"


class CreateInvoiceSchema(WhmcsRequestSchema):
    """CreateInvoice: an invoice with numbered lines ``itemdescriptionN``/``itemamountN``/``itemtaxedN``."""

    userid = WId(required=True)
    status = fields.String(load_default="Unpaid", validate=validate.OneOf(INVOICE_STATUSES))
    draft = WBool(load_default=False)
    sendinvoice = WBool(load_default=False)
    paymentmethod = fields.String(load_default="", validate=validate.Length(max=64))
    taxrate = WMoney(load_default=None, validate=validate.Range(min=0, max=100))
    taxrate2 = WMoney(load_default=None, validate=validate.Range(min=0, max=100))
    date = WDate(load_default=None, metadata={"description": "Default: today"})
    duedate = WDate(load_default=None, metadata={"description": "Default: the invoice date"})
    notes = fields.String(load_default="")
    autoapplycredit = WBool(load_default=False)
    itemdescription1 = handled(description=f"{_LINE_TEXT}: the description (required for each line)")
    itemamount1 = handled("number", description=f"{_LINE_TEXT}: the amount (default 0)")
    itemtaxed1 = handled(enum=["1", "0", "on", "off", "true", "false", "yes", "no", ""],
                         description=f"{_LINE_TEXT}: whether the line is taxed (default no)")
    WHMCS_ERRORS = {"userid": "Client ID Not Found", "status": "Invalid status",
                    "taxrate": "Invalid taxrate", "taxrate2": "Invalid taxrate2",
                    "date": "Invalid date format (YYYY-MM-DD required)",
                    "duedate": "Invalid duedate format (YYYY-MM-DD required)"}


class InvoiceIdSchema(WhmcsRequestSchema):
    """GetInvoice."""

    invoiceid = WId(required=True)
    WHMCS_ERRORS = {"invoiceid": "Invoice ID Not Found"}


class GetInvoicesSchema(WhmcsRequestSchema):
    """GetInvoices: a page of invoices."""

    limitstart = WInt(load_default=0, validate=validate.Range(min=0))
    limitnum = WInt(load_default=25, validate=validate.Range(min=1, max=1000))
    userid = WId(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf([*INVOICE_STATUSES, "Overdue"]),
                           metadata={"description": "A stored status, or Overdue (Unpaid and past due)"})
    orderby = fields.String(load_default="id", validate=validate.OneOf(INVOICE_ORDER_FIELDS))
    order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc", "ASC", "DESC"]))
    WHMCS_ERRORS = {"limitstart": "Invalid limitstart", "limitnum": "Invalid limitnum",
                    "userid": "Client ID Not Found", "status": "Invalid status", "orderby": "Invalid orderby",
                    "order": "Invalid order"}


class UpdateInvoiceSchema(WhmcsRequestSchema):
    """UpdateInvoice: fields to change, line edits by line id, new lines, lines to delete."""

    invoiceid = WId(required=True)
    status = fields.String(load_default=None, metadata={"enum": list(INVOICE_STATUSES)})  # checked by the service
    paymentmethod = fields.String(load_default=None, validate=validate.Length(max=64))
    taxrate = WMoney(load_default=None, validate=validate.Range(min=0, max=100))
    taxrate2 = WMoney(load_default=None, validate=validate.Range(min=0, max=100))
    credit = WMoney(load_default=None, validate=validate.Range(min=0))
    date = WDate(load_default=None)
    duedate = WDate(load_default=None)
    datepaid = fields.String(load_default=None, metadata={"description": "YYYY-MM-DD HH:MM:SS or YYYY-MM-DD"})
    notes = fields.String(load_default=None)
    publish = WBool(load_default=False, metadata={"description": "Publish a Draft invoice (it becomes Unpaid)"})
    publishandsendemail = WBool(load_default=False)
    itemdescription = handled(php_array=True, description="itemdescription[<line id>]: new description")
    itemamount = handled("number", php_array=True, description="itemamount[<line id>]: new amount")
    itemtaxed = handled(php_array=True, description="itemtaxed[<line id>]: 1 or 0")
    newitemdescription = handled(php_array=True, description="newitemdescription[] (or [n]): a new line")
    newitemamount = handled("number", php_array=True, description="newitemamount[]: the new line's amount")
    newitemtaxed = handled(php_array=True, description="newitemtaxed[]: 1 or 0")
    deletelineids = handled("integer", php_array=True, description="deletelineids[]: line ids to delete")
    WHMCS_ERRORS = {"invoiceid": "Invoice ID Not Found", "taxrate": "Invalid taxrate",
                    "taxrate2": "Invalid taxrate2", "credit": "Invalid credit",
                    "date": "Invalid date format (YYYY-MM-DD required)",
                    "duedate": "Invalid duedate format (YYYY-MM-DD required)"}


class AddPaymentSchema(WhmcsRequestSchema):
    """AddInvoicePayment."""

    invoiceid = WId(required=True)
    transid = fields.String(required=True, validate=validate.Length(min=1, max=128))
    gateway = fields.String(required=True, validate=validate.Length(min=1, max=64))
    date = fields.String(load_default=None, metadata={"description": "YYYY-MM-DD HH:MM:SS (default: now)"})
    amount = WMoney(load_default=None, validate=validate.Range(min=0, min_inclusive=False),
                    metadata={"description": "Default: the invoice balance"})
    fees = WMoney(load_default=Decimal(0), validate=validate.Range(min=0))
    noemail = WBool(load_default=False)
    WHMCS_ERRORS = {"invoiceid": "Invoice ID Not Found", "transid": "Missing Variables: transid is required",
                    "gateway": "Missing Variables: gateway is required", "amount": "Invalid amount",
                    "fees": "Invalid fees"}


# --- system -----------------------------------------------------------------------------


class NoParamsSchema(WhmcsRequestSchema):
    """An action without parameters (GetCurrencies, GetClientGroups, WhmcsDetails)."""


class GetConfigurationValueSchema(WhmcsRequestSchema):
    """GetConfigurationValue."""

    setting = handled(required=True, enum=sorted(READABLE_SETTINGS), description="The setting to read")


class SsoSchema(WhmcsRequestSchema):
    """CreateSsoToken: ``client_id`` or ``user_id`` (one user per client: the same id)."""

    client_id = WId(load_default=None)
    user_id = WId(load_default=None)
    # Checked after the client lookup, so a bad destination never hides "Invalid client_id".
    destination = handled(enum=sorted(SSO_DESTINATIONS), description="Default clientarea:home")
    sso_redirect_path = handled(description="Path for destination=sso:custom_redirect: a local path starting "
                                "with one '/' (no scheme, host or control characters), else 'Invalid "
                                "sso_redirect_path'")
    WHMCS_ERRORS = {"client_id": "Invalid client_id", "user_id": "Invalid user_id"}


# --- SolusVM user lifecycle (bridge extensions, docs/users.md) ----------------------------


class SolusVMClientSchema(WhmcsRequestSchema):
    """SolusVMEnrollClient, SolusVM(Un)LockClient, SolusVM(Un)SuspendClient, SolusVMGetLoginURL."""

    clientid = WId(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=500), metadata={
        "description": "Status actions: shown to the client and in the audit log"})
    WHMCS_ERRORS = {"clientid": "Client ID Not Found", "reason": "The reason is too long (500 characters at most)"}


class SolusVMSyncStatusSchema(WhmcsRequestSchema):
    """SolusVMSyncStatus: pending and failed SolusVM changes of one client (or all)."""

    clientid = WId(load_default=None)
    retryfailed = WBool(load_default=False, metadata={"description": "Re-queue the failed changes"})
    WHMCS_ERRORS = {"clientid": "Client ID Not Found", "retryfailed": "Invalid value for retryfailed"}


#: Every action of ``/includes/api.php`` that takes API credentials → its parameters.
#: (GetTokenPricing is authenticated by SolusVM's token: :mod:`contracts.billing`.)
ACTIONS: dict[str, type[WhmcsRequestSchema]] = {
    "AddClient": AddClientSchema,
    "GetClientsDetails": ClientKeySchema,
    "UpdateClient": UpdateClientSchema,
    "DeleteClient": ClientIdSchema,
    "CloseClient": ClientIdSchema,
    "GetClients": GetClientsSchema,
    "AddCredit": AddCreditSchema,
    "GetCurrencies": NoParamsSchema,
    "GetClientGroups": NoParamsSchema,
    "CreateInvoice": CreateInvoiceSchema,
    "GetInvoice": InvoiceIdSchema,
    "GetInvoices": GetInvoicesSchema,
    "UpdateInvoice": UpdateInvoiceSchema,
    "AddInvoicePayment": AddPaymentSchema,
    "CreateSsoToken": SsoSchema,
    "GetConfigurationValue": GetConfigurationValueSchema,
    "WhmcsDetails": NoParamsSchema,
    "SolusVMEnrollClient": SolusVMClientSchema,
    "SolusVMLockClient": SolusVMClientSchema,
    "SolusVMUnlockClient": SolusVMClientSchema,
    "SolusVMSuspendClient": SolusVMClientSchema,
    "SolusVMUnsuspendClient": SolusVMClientSchema,
    "SolusVMGetLoginURL": SolusVMClientSchema,
    "SolusVMSyncStatus": SolusVMSyncStatusSchema,
}
