"""Client actions: AddClient, GetClientsDetails, UpdateClient, DeleteClient, CloseClient,
GetClients, AddCredit, GetCredits, ValidateLogin.

Value types follow WHMCS 8's documented example answers (tests/data/whmcs_answer_shapes.json):
ids in lists and details are integers, the ids AddClient and UpdateClient return are strings.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from babel import Locale
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bridge.api.whmcs.params import bridged, money, sid, wdate
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import NotFound, ValidationFailed
from bridge.models import Client, CreditLog
from bridge.services import clients, hooks
from contracts import whmcs_requests as req

# The parameters are defined once, in contracts.whmcs_requests (and documented in bridge.json).
AddClientSchema = bridged(req.AddClientSchema)
ClientKeySchema = bridged(req.ClientKeySchema)
UpdateClientSchema = bridged(req.UpdateClientSchema)
ClientIdSchema = bridged(req.ClientIdSchema)
GetClientsSchema = bridged(req.GetClientsSchema)
AddCreditSchema = bridged(req.AddCreditSchema)
GetCreditsSchema = bridged(req.GetCreditsSchema)
ValidateLoginSchema = bridged(req.ValidateLoginSchema)

_DECIMAL_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")  # AddCredit's "### or ###.##"
_PHONE = re.compile(r"^\+(\d{1,3})\.(\d+)$")  # WHMCS's own "+CC.NUMBER" spelling
_DUMMY_HASH = clients.hash_password("not-a-password")
_EMAIL_PREFERENCES = ("general", "invoice", "support", "product", "domain", "affiliate")


def _country_name(code: str) -> str:
    return str(Locale("en").territories.get(code.upper(), "")) if code else ""


def _phone(c: Client) -> tuple[str, str]:
    """(calling code, formatted number): known only when the number is stored as +CC.NUMBER."""
    m = _PHONE.match(c.phonenumber or "")
    return (m.group(1), c.phonenumber) if m else ("", c.phonenumber or "")


def owner_id(c: Client) -> int:
    """The user that owns the client: another client's login, or the client's own."""
    return int(c.owner_user_id or c.id)


def client_fields(session: Any, c: Client) -> dict[str, Any]:
    """GetClientsDetails' ``client``: every key of WHMCS 8's example, typed as it is there."""
    cur = c.currency
    phonecc, formatted = _phone(c)
    owner = session.get(Client, owner_id(c)) or c
    return {
        "client_id": c.id, "owner_user_id": owner.id, "userid": c.id, "id": c.id, "uuid": c.uuid,
        "firstname": c.firstname, "lastname": c.lastname, "fullname": f"{c.firstname} {c.lastname}".strip(),
        "companyname": c.companyname, "email": c.email, "address1": c.address1, "address2": c.address2,
        "city": c.city, "fullstate": c.state, "state": c.state, "postcode": c.postcode,
        "countrycode": c.country, "country": c.country, "phonenumber": c.phonenumber, "tax_id": c.tax_id,
        "email_preferences": {k: "1" for k in _EMAIL_PREFERENCES},
        "statecode": c.state, "countryname": _country_name(c.country), "phonecc": phonecc,
        "phonenumberformatted": formatted, "telephoneNumber": formatted, "billingcid": 0, "notes": c.notes,
        "currency": c.currency_id, "defaultgateway": "", "groupid": c.group_id or 0, "status": c.status,
        "credit": money(c.credit), "taxexempt": bool(c.tax_exempt), "latefeeoveride": False,
        "overideduenotices": False, "separateinvoices": bool(c.group and c.group.separate_invoices),
        "disableautocc": False, "emailoptout": False, "marketing_emails_opt_in": False,
        "overrideautoclose": False, "allowSingleSignOn": 0 if c.status == "Closed" else 1,
        "email_verified": bool(c.email_verified), "language": c.language, "isOptedInToMarketingEmails": False,
        "lastlogin": "", "currency_code": cur.code if cur else "", "customfields": [],
        "datecreated": wdate(c.datecreated),  # not in the example; WHMCS's GetClients has it, and so do we
        "users": {"user": [{"id": owner.id, "name": f"{owner.firstname} {owner.lastname}".strip(),
                            "email": owner.email, "is_owner": True}]},
    }


@action("AddClient")
def add_client(ctx: ActionContext) -> dict[str, Any]:
    data = AddClientSchema.load_params(ctx.params)
    if data["owner_user_id"] is not None and ctx.session.get(Client, data["owner_user_id"]) is None:
        raise ValidationFailed("Invalid Owner User ID")
    if not clients.valid_email(data["email"]):
        raise ValidationFailed("The email address you entered was not valid")
    if data["owner_user_id"] is None and not data["password2"]:
        raise ValidationFailed("You did not enter a password")
    client = clients.create(ctx.session, data, actor=ctx.actor)
    return {"clientid": sid(client.id), "owner_id": sid(owner_id(client))}


@action("GetClientsDetails")
def get_clients_details(ctx: ActionContext) -> dict[str, Any]:
    data = ClientKeySchema.load_params(ctx.params)
    if data["clientid"] is None and not data["email"]:
        raise ValidationFailed("Either clientid Or email Is Required")
    if data["clientid"] is not None:
        client = ctx.session.get(Client, data["clientid"])
    else:
        client = clients.get_by_email(ctx.session, data["email"])
    if client is None:
        raise NotFound("Client Not Found")
    body = client_fields(ctx.session, client)
    out: dict[str, Any] = {**body, "client": body}  # the top-level copy is WHMCS's deprecated duplicate
    if data["stats"]:
        from bridge.api.whmcs.invoices import client_stats

        out["stats"] = client_stats(ctx, client)
    return out


@action("UpdateClient")
def update_client(ctx: ActionContext) -> dict[str, Any]:
    data = UpdateClientSchema.load_params(ctx.params)
    if data.get("clientid") is not None:
        client = clients.get(ctx.session, data["clientid"])
    elif data.get("clientemail"):
        client = clients.get_by_email(ctx.session, data["clientemail"])
        if client is None:
            raise NotFound("Client ID Not Found")
    else:
        raise NotFound("Client ID Not Found")
    if data.get("email") is not None and not clients.valid_email(data["email"]):
        raise ValidationFailed("The email address entered is not valid")
    clients.update(ctx.session, client, data, actor=ctx.actor)
    return {"clientid": sid(client.id)}


@action("DeleteClient")
def delete_client(ctx: ActionContext) -> dict[str, Any]:
    data = ClientIdSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    clients.delete(ctx.session, client, delete_servers=data["deleteservers"], actor=ctx.actor)
    if ctx.session.info.get(hooks.DELETION_KEY):
        # Committed with the client; SolusVM is asked after the commit, within the request's
        # budget, and the cron finishes what does not fit: the caller must not wait for it.
        return {"clientid": sid(data["clientid"]), "solusvm_user_deletion": "pending"}
    return {"clientid": sid(data["clientid"])}


@action("CloseClient")
def close_client(ctx: ActionContext) -> dict[str, Any]:
    data = ClientIdSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    clients.close(ctx.session, client, actor=ctx.actor)
    return {"clientid": sid(client.id)}


@action("GetClients")
def get_clients(ctx: ActionContext) -> dict[str, Any]:
    data = GetClientsSchema.load_params(ctx.params)
    page = clients.search(ctx.session, start=data["limitstart"], limit=data["limitnum"], status=data["status"],
                          text=data["search"] or None, orderby=data["orderby"],
                          descending=data["sorting"].upper() == "DESC")
    return {
        "totalresults": page.total, "startnumber": data["limitstart"], "numreturned": len(page.items),
        "clients": {"client": [
            {"id": c.id, "firstname": c.firstname, "lastname": c.lastname, "companyname": c.companyname,
             "email": c.email, "datecreated": wdate(c.datecreated), "groupid": c.group_id or 0,
             "status": c.status} for c in page.items]},
    }


@action("AddCredit")
def add_credit(ctx: ActionContext) -> dict[str, Any]:
    amount = ctx.params.get("amount")
    if isinstance(amount, str) and amount.strip() and not _DECIMAL_AMOUNT.match(amount.strip()):
        raise ValidationFailed("Amount must be in decimal format: ### or ###.##")
    data = AddCreditSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    balance = clients.add_credit(ctx.session, client, data["amount"], data["description"],
                                 remove=data["type"] == "remove", actor=ctx.actor)
    return {"newbalance": money(balance)}


@action("GetCredits")
def get_credits(ctx: ActionContext) -> dict[str, Any]:
    """The client's credit log: additions positive, removals and applications negative."""
    data = GetCreditsSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    rows = list(ctx.session.scalars(select(CreditLog).where(CreditLog.client_id == client.id)
                                    .order_by(CreditLog.id)))
    return {"totalresults": sid(len(rows)), "clientid": sid(client.id), "credits": {"credit": [
        {"id": sid(r.id), "date": wdate(r.date), "description": r.description, "amount": money(r.amount),
         "relid": sid(r.invoice_id or 0)} for r in rows]}}


def login_token(secret_key: str, client: Client) -> str:
    """ValidateLogin's ``passwordhash``: a session token derived from, never equal to, the stored hash.

    It changes whenever the password does, and reveals nothing about it.
    """
    msg = f"validatelogin:{client.id}:{client.password_hash}".encode()
    return hmac.new(secret_key.encode(), msg, hashlib.sha256).hexdigest()


@action("ValidateLogin")
def validate_login(ctx: ActionContext) -> dict[str, Any]:
    data = ValidateLoginSchema.load_params(ctx.params)
    client = clients.get_by_email(ctx.session, data["email"])
    stored = client.password_hash if client is not None and client.status != "Closed" else ""
    # An unknown address costs a hash check too, so the answer time tells nothing.
    good = check_password_hash(stored or _DUMMY_HASH, data["password2"]) and bool(stored)
    if not good or client is None:
        raise ValidationFailed("Email or Password Invalid")
    return {"userid": sid(client.id), "passwordhash": login_token(ctx.settings.secret_key, client),
            "twoFactorEnabled": "false"}
