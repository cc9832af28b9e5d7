"""WHMCS External API requests (``POST /includes/api.php``): one schema per action.

Every call is one form (``application/x-www-form-urlencoded``, PHP array syntax) with the
authentication fields of :class:`WhmcsAuthSchema`, an ``action`` and the action's own
parameters. The bridge validates the parameters with these schemas and
:mod:`contracts.openapi` documents them, so the two cannot disagree.

``WhmcsRequestSchema.load_params`` turns the first bad field (in declared order) into the
WHMCS text of ``WHMCS_ERRORS`` and raises :class:`InvalidParams`; the bridge re-raises it as
its own WHMCS error. Fields made with :func:`handled` are documented here but checked by the
action handler itself (numbered invoice lines, a few fields whose error order matters);
``load_params`` leaves them out. Fields marked ``later`` (invoice-line PHP arrays) are real
fields that ``load_params`` also leaves out: the action loads them after its lookups, with
``load_later`` (or an action schema's own loader, such as ``CreateInvoiceSchema.load_lines``),
so "not found" still comes before a bad line.

All values travel as text. WHMCS spells booleans ``1``/``0``, ``on``/``off``, ``true``/``false``,
``yes``/``no`` (empty is false); ids and counters are 32-bit integers; money has at most 14
integer digits (WHMCS's ``DECIMAL(16,2)``); dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from contracts.billing import AsciiInt

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


class _PhpBool(fields.Boolean):
    """PHP reads ``True``, ``TRUE``, ``On``, ``YES`` like their lower-case spellings."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kw: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kw)


def WBool(**kw: Any) -> fields.Boolean:  # noqa: N802 - reads like a field class
    """WHMCS booleans, any case: "1"/"on"/"true"/"yes" and "0"/""/"off"/"false"/"no"."""
    return _PhpBool(truthy=TRUTHY, falsy=FALSY, **kw)


#: ASCII decimal digits only: int() would also take "١", "１", "+1", " 1 " and "1_0" (as 10).
DECIMAL_INT = re.compile(r"^-?[0-9]{1,12}\Z")


class _AsciiInt(AsciiInt):
    """``AsciiInt`` of at most 12 digits (every WHMCS id and number here)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(pattern=DECIMAL_INT, **kw)


def parse_int(value: Any) -> int | None:
    """``value`` as an int when it is ASCII decimal digits (or an int), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and DECIMAL_INT.match(value):
        return int(value)
    return None


def WInt(**kw: Any) -> fields.Integer:  # noqa: N802
    """A 32-bit integer in ASCII digits (further checks in ``validate``)."""
    extra = kw.pop("validate", None)
    checks = [validate.Range(min=-MAX_INT, max=MAX_INT)] + ([extra] if extra else [])
    return _AsciiInt(strict=False, validate=checks, **kw)


def WId(**kw: Any) -> fields.Integer:  # noqa: N802
    """A record id: 1 to 2³¹−1 in ASCII digits (larger ids are "not found", never an overflow)."""
    return _AsciiInt(strict=False, validate=validate.Range(min=1, max=MAX_INT), **kw)


class _ClampedLimit(_AsciiInt):
    """A page size: values above the maximum are clamped (integrations send 999999 for "all")."""

    def __init__(self, maximum: int, **kw: Any) -> None:
        super().__init__(strict=False, validate=validate.Range(min=1), **kw)
        self.maximum = maximum

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kw: Any) -> Any:
        if isinstance(value, str) and len(value) > 12 and value.isascii() and value.isdigit():
            return self.maximum  # more digits than an int field takes: still just "everything"
        number = super()._deserialize(value, attr, data, **kw)
        return min(number, self.maximum)


#: The largest page GetClients / GetInvoices / GetTransactions / GetClientsProducts return.
MAX_PAGE = 1000


def WLimit(default: int = 25) -> fields.Integer:  # noqa: N802
    """``limitnum``: 1 or more; above :data:`MAX_PAGE` it is clamped to it, not refused."""
    return _ClampedLimit(MAX_PAGE, load_default=default, metadata={
        "description": f"Page size (default {default}); larger values are clamped to {MAX_PAGE}"})


#: A plain decimal in ASCII digits: Decimal() would also read "١٢", "1_0" (as 10) and "1e3".
DECIMAL_TEXT = re.compile(r"^-?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})\Z")


def parse_decimal(value: Any) -> Decimal | None:
    """``value`` as a Decimal when it is a plain ASCII decimal (or an int), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and DECIMAL_TEXT.match(value.strip()):
        return Decimal(value.strip())
    return None


class _AsciiDecimal(fields.Decimal):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kw: Any) -> Any:
        if isinstance(value, str) and not DECIMAL_TEXT.match(value.strip()):
            raise self.make_error("invalid")
        return super()._deserialize(value.strip() if isinstance(value, str) else value, attr, data, **kw)


def WMoney(**kw: Any) -> fields.Decimal:  # noqa: N802
    """An amount in ASCII digits: at most 14 integer digits (further checks in ``validate``)."""
    extra = kw.pop("validate", None)
    checks = [validate.Range(min=-MAX_MONEY, max=MAX_MONEY)] + ([extra] if extra else [])
    return _AsciiDecimal(allow_nan=False, validate=checks, **kw)


def WDate(**kw: Any) -> fields.Date:  # noqa: N802
    """A date, ``YYYY-MM-DD``."""
    return fields.Date(format="%Y-%m-%d", **kw)


class _TextTime(fields.String):
    """A time written in one of ``formats`` (read as UTC); an empty value is none."""

    def __init__(self, formats: tuple[str, ...], **kw: Any) -> None:
        super().__init__(**kw)
        self.formats = formats

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kw: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kw)
        if not text:
            return None
        for fmt in self.formats:
            try:
                return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
        raise self.make_error("invalid")


def WDateTime(*formats: str, **kw: Any) -> fields.String:  # noqa: N802
    """A time in one of ``formats`` (default ``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD``), as UTC."""
    return _TextTime(formats or ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"), **kw)


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


class PhpArray(fields.Dict):
    """A PHP array parameter (``name[]=x`` or ``name[k]=x``): loads as a dict, a list's keys being
    its indexes; a plain value is invalid. ``kind`` is the OpenAPI type of the values; ``keys``
    (a field) checks and converts the keys."""

    def __init__(self, kind: str = "string", *, keys: fields.Field | None = None, **kw: Any) -> None:
        meta = {"php_array": True, "type": "object", **kw.pop("metadata", {})}
        super().__init__(keys=keys, values=fields.Raw(metadata={"type": kind}), metadata=meta, **kw)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kw: Any) -> Any:
        if isinstance(value, list):
            value = {str(i): v for i, v in enumerate(value)}
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kw)


def later(field: fields.Field) -> fields.Field:
    """Mark ``field`` as loaded by the action after its lookups (``load_later``), not by ``load_params``."""
    field.metadata = {**field.metadata, "later": True}
    return field


#: The length of every bounded text column the API writes: ``bridge.models`` declares its
#: ``String(n)`` columns from these and the request schemas check them, so a value the API
#: accepts always fits (PostgreSQL would refuse it; SQLite would keep it silently).
CLIENT_TEXT = {"firstname": 100, "lastname": 100, "companyname": 200, "email": 254, "address1": 200,
               "address2": 200, "city": 100, "state": 100, "postcode": 20, "country": 2, "phonenumber": 50,
               "tax_id": 64, "language": 32, "status": 16}
PAYMENT_TEXT = {"paymentmethod": 64, "gateway": 64, "transid": 128, "description": 255, "invoicenum": 64}
BILLABLE_TEXT = {"description": 255, "unit": 16, "invoiceaction": 16, "recurcycle": 16}
PASSWORD_MAX = 200  # hashed before storage; a bound keeps hashing cheap

TOO_LONG = "too long: "  # marks a length error so load_params can name the field and the limit


class MaxLength(validate.Length):
    """``validate.Length`` whose too-long error load_params turns into "<field> is too long ..."."""

    def __init__(self, max: int, min: int | None = None) -> None:  # noqa: A002 - marshmallow's names
        super().__init__(min=min, max=max)

    def __call__(self, value: Any) -> Any:
        if self.max is not None and len(value) > self.max:
            raise ValidationError(f"{TOO_LONG}{self.max}")
        return super().__call__(value)


def _text(max_len: int = 200, min_len: int | None = None, **kw: Any) -> fields.String:
    return fields.String(validate=MaxLength(max_len, min_len), **kw)


def _client_text(name: str, min_len: int | None = None, **kw: Any) -> fields.String:
    return _text(CLIENT_TEXT[name], min_len, **kw)


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
    def later_fields(cls) -> tuple[str, ...]:
        """The fields the action loads after its lookups (made with :func:`later`)."""
        return tuple(name for name, field in cls._declared_fields.items() if field.metadata.get("later"))

    @classmethod
    def load_params(cls, params: Mapping[str, Any], *, only: tuple[str, ...] | None = None,
                    errors: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Validate ``params``; the first bad field raises InvalidParams with its WHMCS text.

        Arrays where a scalar is expected (or the reverse) are an error too, never a crash.
        ``only`` loads just those fields; ``errors`` adds or replaces WHMCS texts for this call.
        """
        schema = cls(only=only) if only is not None else cls(exclude=cls.handled_fields() + cls.later_fields())
        texts = {**cls.WHMCS_ERRORS, **(errors or {})}
        data = {k: v for k, v in params.items() if k in schema.fields or k.split("[")[0] in schema.fields}
        try:
            return schema.load(data)
        except ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            for name in schema.fields:  # declared order, so the message is deterministic
                if name in messages:
                    found = messages[name]
                    too_long = [t for t in found if isinstance(t, str) and t.startswith(TOO_LONG)] \
                        if isinstance(found, list) else []
                    if too_long:
                        limit = too_long[0].removeprefix(TOO_LONG)
                        raise InvalidParams(f"The value of {name} is too long (at most {limit} characters)") \
                            from None
                    raise InvalidParams(texts.get(name, f"Invalid value for {name}")) from None
            raise InvalidParams(texts.get("_schema", "Invalid parameters")) from None

    @classmethod
    def load_later(cls, params: Mapping[str, Any], *names: str) -> dict[str, Any]:
        """Load the :func:`later` fields ``names`` (after the action's lookups)."""
        return cls.load_params(params, only=names)


class WhmcsAuthSchema(Schema):
    """The fields every authenticated ``/includes/api.php`` call carries besides ``action``.

    Either ``identifier`` + ``secret`` or ``username`` + ``password`` authenticates; the latter may
    also be a bridge admin's name and the lowercase hex MD5 of that admin's password (WHMCS's
    pre-7.2 mode). A wrong pair is ``Authentication Failed`` (HTTP 403).
    """

    class Meta:
        unknown = EXCLUDE

    identifier = fields.String(metadata={"description": "API credential identifier"})
    secret = fields.String(metadata={"description": "API credential secret"})
    username = fields.String(metadata={"description": "The identifier, legacy spelling; or a bridge admin's name"})
    password = fields.String(metadata={"description": "The secret or the MD5 hex of the secret (legacy); with an "
                                       "admin's name, the MD5 of the admin's password as 32 lowercase hex digits"})
    accesskey = fields.String(metadata={"description": "API access key: skips the IP allow-list when it matches"})
    responsetype = fields.String(validate=validate.OneOf(["json", "xml"]),
                                 metadata={"description": "Answer format (default json)"})


# --- clients ----------------------------------------------------------------------------


class AddClientSchema(WhmcsRequestSchema):
    """AddClient: a new client (and its owner user)."""

    owner_user_id = WId(load_default=None, metadata={
        "description": "An existing user (here: a client's login) to own the new client; then password2 "
                       "is optional"})
    firstname = _client_text("firstname", 1, required=True)
    lastname = _client_text("lastname", 1, required=True)
    email = _client_text("email", 3, required=True, metadata=EMAIL)
    address1 = _client_text("address1", 1, required=True)
    city = _client_text("city", 1, required=True)
    state = _client_text("state", 1, required=True)
    postcode = _client_text("postcode", 1, required=True)
    country = fields.String(required=True, validate=COUNTRY, metadata={"description": "ISO 3166-1 alpha-2"})
    phonenumber = _client_text("phonenumber", 1, required=True)
    password2 = _text(PASSWORD_MAX, 1, load_default=None, metadata={
        "description": "The client's password (stored hashed); required unless owner_user_id is given"})
    companyname = _client_text("companyname", load_default="")
    address2 = _client_text("address2", load_default="")
    tax_id = _client_text("tax_id", load_default="")
    language = _client_text("language", load_default="")
    notes = fields.String(load_default="")
    currency = WId(load_default=None, metadata={"description": "Currency id (default: the default currency)"})
    groupid = WInt(load_default=None, validate=validate.Range(min=0), metadata={"description": "Client group id"})
    taxexempt = WBool(load_default=False)
    WHMCS_ERRORS = {
        "firstname": "You did not enter your first name",
        "lastname": "You did not enter your last name",
        "email": "You did not enter your email address",
        "address1": "You did not enter your  address line 1",  # sic: WHMCS's documented text
        "city": "You did not enter your city",
        "state": "You did not enter your state",
        "postcode": "You did not enter your postcode",
        "country": "Valid country required",
        "phonenumber": "You did not enter your phone number",
        "password2": "You did not enter a password",
        "owner_user_id": "Invalid Owner User ID",
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
    firstname = _client_text("firstname", 1)
    lastname = _client_text("lastname", 1)
    companyname = _client_text("companyname")
    email = _client_text("email", metadata=EMAIL)
    address1 = _client_text("address1")
    address2 = _client_text("address2")
    city = _client_text("city")
    state = _client_text("state")
    postcode = _client_text("postcode")
    country = fields.String(validate=COUNTRY, metadata={"description": "ISO 3166-1 alpha-2"})
    phonenumber = _client_text("phonenumber")
    tax_id = _client_text("tax_id")
    language = _client_text("language")
    notes = fields.String()
    password2 = _text(PASSWORD_MAX, 1)
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
    limitnum = WLimit()
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


class GetCreditsSchema(WhmcsRequestSchema):
    """GetCredits: a client's credit log (what AddCredit, ApplyCredit and overpayments wrote)."""

    clientid = WId(required=True)
    WHMCS_ERRORS = {"clientid": "Client ID Not Found"}


class ValidateLoginSchema(WhmcsRequestSchema):
    """ValidateLogin: check a client login's e-mail and password."""

    email = _client_text("email", 1, required=True, metadata=EMAIL)
    password2 = _text(PASSWORD_MAX, 1, required=True)
    WHMCS_ERRORS = {"email": "Email or Password Invalid", "password2": "Email or Password Invalid"}


# --- invoices ---------------------------------------------------------------------------

_LINE_TEXT = "Invoice line N (1, 2, ...): itemdescriptionN, itemamountN, itemtaxedN"
#: CreateInvoice's numbered line parameters: ``itemdescription1``, ``itemamount1``, ``itemtaxed1``, ...
_NUMBERED_LINE = re.compile(r"^(itemdescription|itemamount|itemtaxed)([0-9]+)\Z")  # ASCII digits only
#: Wire name of a line part → its name in an invoice line.
LINE_PARTS = {"itemdescription": "description", "itemamount": "amount", "itemtaxed": "taxed"}


def LineNumber() -> fields.Integer:  # noqa: N802 - reads like a field class
    """A line number or line id (PHP array key): 0 or more, in ASCII digits."""
    return _AsciiInt(strict=False, validate=validate.Range(min=0))


class InvoiceLineSchema(WhmcsRequestSchema):
    """One invoice line as UpdateInvoice changes or adds it: any description, an amount, taxed or not."""

    description = fields.String(load_default="")
    amount = WMoney(load_default=Decimal(0))
    taxed = WBool(load_default=False)
    WHMCS_ERRORS = {"taxed": "Invalid value for itemtaxed"}


class NumberedLineSchema(InvoiceLineSchema):
    """CreateInvoice's line N: a description is required (surrounding blanks are dropped)."""

    description = fields.String(required=True, validate=validate.Regexp(r"\s*\S"))

    @post_load
    def _strip(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        data["description"] = data["description"].strip()
        return data


def _line_id(key: str) -> int:
    """An ``itemdescription[<line id>]`` key as the line id."""
    try:
        return int(LineNumber().deserialize(key))
    except ValidationError:
        raise InvalidParams("Malformed array parameter itemdescription") from None


def _line_errors(n: Any, new: bool = False) -> dict[str, str]:
    return {"description": f"Missing Variables: itemdescription{n} is required",
            "amount": f"Invalid amount for {'new item' if new else 'item'} {n}"}


class CreateInvoiceSchema(WhmcsRequestSchema):
    """CreateInvoice: an invoice with numbered lines ``itemdescriptionN``/``itemamountN``/``itemtaxedN``."""

    userid = WId(required=True)
    status = fields.String(load_default="Unpaid", validate=validate.OneOf(INVOICE_STATUSES))
    draft = WBool(load_default=False)
    sendinvoice = WBool(load_default=False)
    paymentmethod = _text(PAYMENT_TEXT["paymentmethod"], load_default="")
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
    itemdescription = later(PhpArray(keys=LineNumber(), load_default=dict, metadata={
        "description": "itemdescription[N]: line N's description, instead of itemdescriptionN"}))
    itemamount = later(PhpArray("number", keys=LineNumber(), load_default=dict,
                                metadata={"description": "itemamount[N]: line N's amount"}))
    itemtaxed = later(PhpArray(keys=LineNumber(), load_default=dict,
                               metadata={"description": "itemtaxed[N]: 1 or 0"}))
    WHMCS_ERRORS = {"userid": "Client ID Not Found", "status": "Invalid status",
                    "taxrate": "Invalid taxrate", "taxrate2": "Invalid taxrate2",
                    "date": "Invalid date format (YYYY-MM-DD required)",
                    "duedate": "Invalid duedate format (YYYY-MM-DD required)",
                    "itemdescription": "Malformed array parameter itemdescription",
                    "itemamount": "Malformed array parameter itemamount",
                    "itemtaxed": "Malformed array parameter itemtaxed"}

    @classmethod
    def load_lines(cls, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The invoice lines, in line-number order: ``itemdescriptionN``/``itemamountN``/``itemtaxedN``
        or the arrays ``itemdescription[N]`` (``[]``: numbered from 0), each a :class:`NumberedLineSchema`.

        A line is any number that one of its three parameters names; a plain (non-array)
        ``itemdescription`` is ignored.
        """
        by_n: dict[int, dict[str, Any]] = {}
        for key, value in params.items():
            m = _NUMBERED_LINE.match(key)
            if m:
                by_n.setdefault(int(m.group(2)), {})[LINE_PARTS[m.group(1)]] = value
        arrays = {name: params[name] for name in LINE_PARTS if isinstance(params.get(name), dict | list)}
        for name, values in cls.load_params(arrays, only=tuple(LINE_PARTS)).items():
            for n, value in values.items():
                by_n.setdefault(n, {})[LINE_PARTS[name]] = value
        return [NumberedLineSchema.load_params(by_n[n], errors=_line_errors(n)) for n in sorted(by_n)]


class InvoiceIdSchema(WhmcsRequestSchema):
    """GetInvoice."""

    invoiceid = WId(required=True)
    WHMCS_ERRORS = {"invoiceid": "Invoice ID Not Found"}


class GetInvoicesSchema(WhmcsRequestSchema):
    """GetInvoices: a page of invoices."""

    limitstart = WInt(load_default=0, validate=validate.Range(min=0))
    limitnum = WLimit()
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
    paymentmethod = _text(PAYMENT_TEXT["paymentmethod"], load_default=None)
    taxrate = WMoney(load_default=None, validate=validate.Range(min=0, max=100))
    taxrate2 = WMoney(load_default=None, validate=validate.Range(min=0, max=100))
    credit = WMoney(load_default=None, validate=validate.Range(min=0))
    date = WDate(load_default=None)
    duedate = WDate(load_default=None)
    datepaid = later(WDateTime(load_default=None, metadata={"description": "YYYY-MM-DD HH:MM:SS or YYYY-MM-DD"}))
    notes = fields.String(load_default=None)
    publish = WBool(load_default=False, metadata={"description": "Publish a Draft invoice (it becomes Unpaid)"})
    publishandsendemail = WBool(load_default=False)
    itemdescription = later(PhpArray(load_default=dict, metadata={
        "description": "itemdescription[<line id>]: new description"}))
    itemamount = later(PhpArray("number", load_default=dict, metadata={
        "description": "itemamount[<line id>]: new amount"}))
    itemtaxed = later(PhpArray(load_default=dict, metadata={"description": "itemtaxed[<line id>]: 1 or 0"}))
    newitemdescription = later(PhpArray(load_default=dict, metadata={
        "description": "newitemdescription[] (or [n]): a new line"}))
    newitemamount = later(PhpArray("number", load_default=dict, metadata={
        "description": "newitemamount[]: the new line's amount"}))
    newitemtaxed = later(PhpArray(load_default=dict, metadata={"description": "newitemtaxed[]: 1 or 0"}))
    deletelineids = later(PhpArray("integer", load_default=dict, metadata={
        "description": "deletelineids[]: line ids to delete"}))
    WHMCS_ERRORS = {"invoiceid": "Invoice ID Not Found", "taxrate": "Invalid taxrate",
                    "taxrate2": "Invalid taxrate2", "credit": "Invalid credit",
                    "date": "Invalid date format (YYYY-MM-DD required)",
                    "duedate": "Invalid duedate format (YYYY-MM-DD required)",
                    "datepaid": "Invalid datepaid format",
                    **{name: f"Malformed array parameter {name}" for name in (
                        "itemdescription", "itemamount", "itemtaxed", "newitemdescription", "newitemamount",
                        "newitemtaxed", "deletelineids")}}

    @classmethod
    def load_edits(cls, params: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
        """Changed lines by line id: ``itemdescription[id]``, ``itemamount[id]`` and ``itemtaxed[id]``,
        all three for each line changed (an :class:`InvoiceLineSchema` each)."""
        arrays = cls.load_later(params, "itemdescription", "itemamount", "itemtaxed")
        desc, amount, taxed = arrays["itemdescription"], arrays["itemamount"], arrays["itemtaxed"]
        if not set(desc) == set(amount) == set(taxed):
            raise InvalidParams("Missing Variables: itemdescription, itemamount and itemtaxed are required "
                                "for each item being changed")
        return {_line_id(key): InvoiceLineSchema.load_params(
            {"description": str(desc[key]), "amount": amount[key], "taxed": taxed[key]},
            errors=_line_errors(key)) for key in desc}

    @classmethod
    def load_new_lines(cls, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Added lines: ``newitemdescription[]`` with ``newitemamount[]`` (and ``newitemtaxed[]``) at the
        same keys (an :class:`InvoiceLineSchema` each)."""
        arrays = cls.load_later(params, "newitemdescription", "newitemamount", "newitemtaxed")
        desc, amount, taxed = arrays["newitemdescription"], arrays["newitemamount"], arrays["newitemtaxed"]
        lines = []
        for key in desc:
            if key not in amount:
                raise InvalidParams("Missing Variables: newitemamount is required for each new item")
            parts = {"description": str(desc[key]), "amount": amount[key]}
            if taxed.get(key) is not None:
                parts["taxed"] = taxed[key]
            lines.append(InvoiceLineSchema.load_params(parts, errors=_line_errors(key, new=True)))
        return lines

    @classmethod
    def load_deletions(cls, params: Mapping[str, Any]) -> list[int]:
        """``deletelineids[]`` (or one ``deletelineids``): the ids of the lines to delete."""
        value = params.get("deletelineids")
        if isinstance(value, str):  # one id, not an array (empty: none)
            value = [value] if value else []
        ids = cls.load_later({"deletelineids": value} if value is not None else {}, "deletelineids")
        found = [parse_int(v) for v in ids["deletelineids"].values()]
        if any(i is None for i in found):
            raise InvalidParams("Malformed array parameter deletelineids")
        return [i for i in found if i is not None]


class AddPaymentSchema(WhmcsRequestSchema):
    """AddInvoicePayment."""

    invoiceid = WId(required=True)
    transid = _text(PAYMENT_TEXT["transid"], 1, required=True)
    gateway = _text(PAYMENT_TEXT["gateway"], 1, required=True)
    date = later(WDateTime(load_default=None, metadata={
        "description": "YYYY-MM-DD HH:MM:SS or YYYY-MM-DD (default: now)"}))
    amount = WMoney(load_default=None, validate=validate.Range(min=0),
                    metadata={"description": "Default: the invoice balance; more than it goes to the client's "
                                             "credit"})
    fees = WMoney(load_default=Decimal(0), validate=validate.Range(min=0))
    noemail = WBool(load_default=False)
    WHMCS_ERRORS = {"invoiceid": "Invoice ID Not Found", "transid": "Missing Variables: transid is required",
                    "gateway": "Missing Variables: gateway is required",
                    "amount": "Amount must be in decimal format: ### or ###.##",
                    "fees": "Invalid fees", "date": "Invalid date format"}


class ApplyCreditSchema(WhmcsRequestSchema):
    """ApplyCredit: move client credit onto an open invoice."""

    invoiceid = WId(required=True)
    amount = WMoney(load_default=None, metadata={"description": "Default: as much as the credit and the "
                                                                 "invoice balance allow"})
    noemail = WBool(load_default=False)
    WHMCS_ERRORS = {"invoiceid": "Invoice ID Not Found",
                    "amount": "Credit Amount to apply must be greater than zero"}


class GetTransactionsSchema(WhmcsRequestSchema):
    """GetTransactions: payments and other transactions, filtered by invoice, client or transid."""

    invoiceid = WId(load_default=None)
    clientid = WId(load_default=None)
    transid = _text(PAYMENT_TEXT["transid"], load_default=None)
    limitstart = WInt(load_default=0, validate=validate.Range(min=0))
    limitnum = WLimit(MAX_PAGE)
    WHMCS_ERRORS = {"invoiceid": "Invoice ID Not Found", "clientid": "Client ID Not Found",
                    "limitstart": "Invalid limitstart", "limitnum": "Invalid limitnum"}


class AddTransactionSchema(WhmcsRequestSchema):
    """AddTransaction: record money in (or out) for a client, an invoice or the client's credit."""

    paymentmethod = _text(PAYMENT_TEXT["paymentmethod"], 1, required=True)
    userid = WId(load_default=None)
    invoiceid = WId(load_default=None)
    transid = _text(PAYMENT_TEXT["transid"], load_default="")
    date = later(WDateTime("%d/%m/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", load_default=None, metadata={
        "description": "DD/MM/YYYY (or YYYY-MM-DD); default now"}))
    currencyid = WId(load_default=None)
    description = _text(PAYMENT_TEXT["description"], load_default="")
    amountin = WMoney(load_default=Decimal(0), validate=validate.Range(min=0))
    fees = WMoney(load_default=Decimal(0))
    amountout = WMoney(load_default=Decimal(0), validate=validate.Range(min=0))
    rate = WMoney(load_default=Decimal(1), validate=validate.Range(min=0, min_inclusive=False))
    credit = WBool(load_default=False, metadata={"description": "Add amountin to the client's credit "
                                                                "(not with invoiceid)"})
    allowduplicatetransid = WBool(load_default=False)
    WHMCS_ERRORS = {"paymentmethod": "Payment Method is required", "userid": "Client ID Not Found",
                    "invoiceid": "Invoice ID Not Found", "currencyid": "Currency ID Not Found",
                    "amountin": "Invalid amountin", "fees": "Invalid fees", "amountout": "Invalid amountout",
                    "rate": "Invalid rate", "date": "Invalid date format"}


#: Templates SendEmail can send (the bridge's own mails).
EMAIL_TEMPLATES = ("Invoice Created", "Invoice Payment Confirmation", "First Invoice Overdue Notice",
                   "Second Invoice Overdue Notice", "Third Invoice Overdue Notice")


class SendEmailSchema(WhmcsRequestSchema):
    """SendEmail: one of the bridge's invoice templates, or a custom message, to a client."""

    messagename = fields.String(load_default=None, metadata={"enum": list(EMAIL_TEMPLATES)})
    id = WId(load_default=None, metadata={"description": "The invoice id (templates) or client id (custom)"})
    customtype = fields.String(load_default=None, metadata={"enum": ["general", "invoice"]})
    customsubject = _text(200, load_default=None)
    custommessage = fields.String(load_default=None)
    customvars = handled(description="Accepted and ignored")
    WHMCS_ERRORS = {"id": "A related ID is required", "customsubject": "A subject is required for a custom message"}


#: AddBillableItem ``invoiceaction`` and ``recurcycle`` values.
BILLABLE_ACTIONS = ("noinvoice", "nextcron", "nextinvoice", "duedate", "recur")
RECUR_CYCLES = ("Days", "Weeks", "Months", "Years")


class AddBillableItemSchema(WhmcsRequestSchema):
    """AddBillableItem: a charge recorded now, invoiced later."""

    clientid = WId(required=True)
    description = _text(BILLABLE_TEXT["description"], 1, required=True)
    amount = WMoney(required=True, validate=validate.Range(min=0))
    unit = fields.String(load_default=None, metadata={"enum": ["hours", "quantity"]})
    quantity = WMoney(load_default=Decimal(0), validate=validate.Range(min=0, max=Decimal("99999999999999")))
    invoiceaction = fields.String(load_default="noinvoice", validate=validate.OneOf(BILLABLE_ACTIONS))
    recur = WInt(load_default=0, validate=validate.Range(min=0))
    recurcycle = fields.String(load_default="", validate=validate.OneOf(["", *RECUR_CYCLES]))
    recurfor = WInt(load_default=0, validate=validate.Range(min=0))
    duedate = WDate(load_default=None)
    WHMCS_ERRORS = {"clientid": "Client ID not Found", "description": "You must provide a description",
                    "amount": "Invalid amount", "quantity": "Invalid quantity",
                    "invoiceaction": "Invalid Invoice Action", "recur": "Recurring must have a unit, cycle and limit",
                    "recurcycle": "Recurring must have a unit, cycle and limit",
                    "recurfor": "Recurring must have a unit, cycle and limit",
                    "duedate": "Invalid Date Format - Expected: 'YYYY-mm-dd'"}


class GetClientsProductsSchema(WhmcsRequestSchema):
    """GetClientsProducts: one product per SolusVM server of the client(s)."""

    clientid = WId(load_default=None)
    serviceid = WId(load_default=None, metadata={"description": "A SolusVM server id"})
    limitstart = WInt(load_default=0, validate=validate.Range(min=0))
    limitnum = WLimit()
    WHMCS_ERRORS = {"clientid": "Client ID Not Found", "serviceid": "Invalid Service ID",
                    "limitstart": "Invalid limitstart", "limitnum": "Invalid limitnum"}


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
    "GetCredits": GetCreditsSchema,
    "ValidateLogin": ValidateLoginSchema,
    "GetClientsProducts": GetClientsProductsSchema,
    "GetCurrencies": NoParamsSchema,
    "GetClientGroups": NoParamsSchema,
    "CreateInvoice": CreateInvoiceSchema,
    "GetInvoice": InvoiceIdSchema,
    "GetInvoices": GetInvoicesSchema,
    "UpdateInvoice": UpdateInvoiceSchema,
    "AddInvoicePayment": AddPaymentSchema,
    "ApplyCredit": ApplyCreditSchema,
    "GetTransactions": GetTransactionsSchema,
    "AddTransaction": AddTransactionSchema,
    "GetPaymentMethods": NoParamsSchema,
    "SendEmail": SendEmailSchema,
    "AddBillableItem": AddBillableItemSchema,
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
