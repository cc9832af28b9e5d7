"""Client actions: AddClient, GetClientsDetails, UpdateClient, DeleteClient, CloseClient,
GetClients, AddCredit, GetCredits, ValidateLogin.

Answers are dumped with the schemas of ``contracts.whmcs``, whose value types follow WHMCS 8's
documented example answers (tests/data/whmcs_answer_shapes.json): ids in lists and details
are integers, the ids AddClient and UpdateClient return are strings.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from babel import Locale
from sqlalchemy import select
from werkzeug.security import check_password_hash

from bridge.api.whmcs.params import Row, answer, bridged
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import NotFound, ValidationFailed
from bridge.models import Client, CreditLog
from bridge.services import client_stats, clients, hooks
from contracts import whmcs
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


def _country_name(code: str) -> str:
    return str(Locale("en").territories.get(code.upper(), "")) if code else ""


def _phone(c: Client) -> tuple[str, str]:
    """(calling code, formatted number): known only when the number is stored as +CC.NUMBER."""
    m = _PHONE.match(c.phonenumber or "")
    return (m.group(1), c.phonenumber) if m else ("", c.phonenumber or "")


def owner_id(c: Client) -> int:
    """The user that owns the client: another client's login, or the client's own."""
    return int(c.owner_user_id or c.id)


def client_row(session: Any, c: Client) -> Row:
    """The client as GetClientsDetails' ``client`` dumps it: its columns and the values computed
    from them (owner, names, phone parts, sign-on)."""
    phonecc, formatted = _phone(c)
    owner = session.get(Client, owner_id(c)) or c
    user = {"id": owner.id, "name": f"{owner.firstname} {owner.lastname}".strip(), "email": owner.email,
            "is_owner": True}
    return Row(c, owner=owner, fullname=f"{c.firstname} {c.lastname}".strip(), countryname=_country_name(c.country),
               phonecc=phonecc, phonenumberformatted=formatted,
               separateinvoices=bool(c.group and c.group.separate_invoices),
               allowSingleSignOn=c.status != "Closed", users=[user])


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
    return answer(whmcs.AddClientResponseSchema, {"clientid": client.id, "owner_id": owner_id(client)})


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
    row = client_row(ctx.session, client)
    # The top-level copy of the client's fields is WHMCS's deprecated duplicate of ``client``.
    if data["stats"]:
        stats = client_stats.client_stats(ctx.session, client, ctx.today)
        return answer(whmcs.GetClientsDetailsResponseSchema, Row(row, client=row, stats=stats))
    return answer(whmcs.GetClientsDetailsResponseSchema, Row(row, client=row))


@action("UpdateClient")
def update_client(ctx: ActionContext) -> dict[str, Any]:
    data = UpdateClientSchema.load_params(ctx.params)
    client: Client | None
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
    return answer(whmcs.ClientIdResponseSchema, {"clientid": client.id})


@action("DeleteClient")
def delete_client(ctx: ActionContext) -> dict[str, Any]:
    data = ClientIdSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    clients.delete(ctx.session, client, delete_servers=data["deleteservers"], actor=ctx.actor)
    if ctx.session.info.get(hooks.DELETION_KEY):
        # Committed with the client; SolusVM is asked after the commit, within the request's
        # budget, and the cron finishes what does not fit: the caller must not wait for it.
        return answer(whmcs.ClientIdResponseSchema, {"clientid": data["clientid"], "solusvm_user_deletion": "pending"})
    return answer(whmcs.ClientIdResponseSchema, {"clientid": data["clientid"]})


@action("CloseClient")
def close_client(ctx: ActionContext) -> dict[str, Any]:
    data = ClientIdSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    clients.close(ctx.session, client, actor=ctx.actor)
    return answer(whmcs.ClientIdResponseSchema, {"clientid": client.id})


@action("GetClients")
def get_clients(ctx: ActionContext) -> dict[str, Any]:
    data = GetClientsSchema.load_params(ctx.params)
    page = clients.search(ctx.session, start=data["limitstart"], limit=data["limitnum"], status=data["status"],
                          text=data["search"] or None, orderby=data["orderby"],
                          descending=data["sorting"].upper() == "DESC")
    return answer(whmcs.GetClientsResponseSchema, {
        "totalresults": page.total, "startnumber": data["limitstart"], "numreturned": len(page.items),
        "clients": page.items})


@action("AddCredit")
def add_credit(ctx: ActionContext) -> dict[str, Any]:
    amount = ctx.params.get("amount")
    if isinstance(amount, str) and amount.strip() and not _DECIMAL_AMOUNT.match(amount.strip()):
        raise ValidationFailed("Amount must be in decimal format: ### or ###.##")
    data = AddCreditSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    balance = clients.add_credit(ctx.session, client, data["amount"], data["description"],
                                 remove=data["type"] == "remove", actor=ctx.actor)
    return answer(whmcs.AddCreditResponseSchema, {"newbalance": balance})


@action("GetCredits")
def get_credits(ctx: ActionContext) -> dict[str, Any]:
    """The client's credit log: additions positive, removals and applications negative."""
    data = GetCreditsSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    rows = list(ctx.session.scalars(select(CreditLog).where(CreditLog.client_id == client.id)
                                    .order_by(CreditLog.id)))
    return answer(whmcs.GetCreditsResponseSchema, {"totalresults": len(rows), "clientid": client.id,
                                                    "credits": rows})


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
    return answer(whmcs.ValidateLoginResponseSchema, {
        "userid": client.id, "passwordhash": login_token(ctx.settings.secret_key, client)})
