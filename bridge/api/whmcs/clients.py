"""Client actions: AddClient, GetClientsDetails, UpdateClient, DeleteClient, CloseClient,
GetClients, AddCredit."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from bridge.api.whmcs.params import WBool, WhmcsSchema, WId, WInt, WMoney, money, sid, wdate
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import NotFound, ValidationFailed
from bridge.models import Client
from bridge.services import clients

COUNTRY = validate.Regexp(r"^[A-Za-z]{2}$")


def _str(**kw: Any) -> fields.String:
    kw.setdefault("validate", validate.Length(max=200))
    return fields.String(**kw)


class AddClientSchema(WhmcsSchema):
    firstname = _str(required=True, validate=validate.Length(min=1, max=100))
    lastname = _str(required=True, validate=validate.Length(min=1, max=100))
    email = fields.String(required=True, validate=validate.Length(min=3, max=254))
    address1 = _str(required=True, validate=validate.Length(min=1, max=200))
    city = _str(required=True, validate=validate.Length(min=1, max=100))
    state = _str(required=True, validate=validate.Length(min=1, max=100))
    postcode = _str(required=True, validate=validate.Length(min=1, max=20))
    country = fields.String(required=True, validate=COUNTRY)
    phonenumber = _str(required=True, validate=validate.Length(min=1, max=50))
    password2 = fields.String(required=True, validate=validate.Length(min=1, max=200))
    companyname = _str(load_default="")
    address2 = _str(load_default="")
    tax_id = _str(load_default="")
    language = _str(load_default="")
    notes = fields.String(load_default="")
    currency = WId(load_default=None)
    groupid = WInt(load_default=None, validate=validate.Range(min=0))
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


def _client_fields(c: Client) -> dict[str, Any]:
    cur = c.currency
    return {
        "id": sid(c.id), "client_id": sid(c.id), "userid": sid(c.id), "owner_user_id": sid(c.id),
        "uuid": c.uuid, "firstname": c.firstname, "lastname": c.lastname,
        "fullname": f"{c.firstname} {c.lastname}".strip(), "companyname": c.companyname, "email": c.email,
        "address1": c.address1, "address2": c.address2, "city": c.city, "state": c.state,
        "fullstate": c.state, "postcode": c.postcode, "countrycode": c.country, "country": c.country,
        "phonenumber": c.phonenumber, "tax_id": c.tax_id, "currency": sid(c.currency_id),
        "currency_code": cur.code if cur else "", "groupid": sid(c.group_id or 0), "taxexempt": bool(c.tax_exempt),
        "credit": money(c.credit), "status": c.status, "email_verified": bool(c.email_verified),
        "allowSingleSignOn": 0 if c.status == "Closed" else 1, "language": c.language, "notes": c.notes,
        "datecreated": wdate(c.datecreated), "lastlogin": "",
        "users": {"user": [{"id": sid(c.id), "name": f"{c.firstname} {c.lastname}".strip(), "email": c.email,
                            "is_owner": True}]},
    }


@action("AddClient")
def add_client(ctx: ActionContext) -> dict[str, Any]:
    data = AddClientSchema.load_params(ctx.params)
    if not clients.valid_email(data["email"]):
        raise ValidationFailed("The email address you entered was not valid")
    client = clients.create(ctx.session, data, actor=ctx.actor)
    return {"clientid": sid(client.id), "owner_id": sid(client.id)}


class ClientKeySchema(WhmcsSchema):
    clientid = WId(load_default=None)
    email = fields.String(load_default=None)
    stats = WBool(load_default=False)
    WHMCS_ERRORS = {"clientid": "Client Not Found", "email": "Client Not Found"}


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
    body = _client_fields(client)
    out: dict[str, Any] = {**body, "client": body}  # the top-level copy is WHMCS's deprecated duplicate
    if data["stats"]:
        from bridge.api.whmcs.invoices import client_stats

        out["stats"] = client_stats(ctx, client)
    return out


class UpdateClientSchema(WhmcsSchema):
    clientid = WId(load_default=None)
    clientemail = fields.String(load_default=None)
    firstname = _str(validate=validate.Length(min=1, max=100))
    lastname = _str(validate=validate.Length(min=1, max=100))
    companyname = _str()
    email = fields.String(validate=validate.Length(max=254))
    address1 = _str()
    address2 = _str()
    city = _str()
    state = _str()
    postcode = _str()
    country = fields.String(validate=COUNTRY)
    phonenumber = _str()
    tax_id = _str()
    language = _str()
    notes = fields.String()
    password2 = fields.String(validate=validate.Length(min=1, max=200))
    currency = WId()
    groupid = WInt(validate=validate.Range(min=0))
    taxexempt = WBool()
    status = fields.String(validate=validate.OneOf(clients.STATUSES))
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


class ClientIdSchema(WhmcsSchema):
    clientid = WId(required=True)
    deleteusers = WBool(load_default=True)
    deletetransactions = WBool(load_default=True)
    deleteservers = WBool(load_default=False)  # bridge extension: also delete the SolusVM user's servers
    WHMCS_ERRORS = {"clientid": "Client ID Not Found", "deleteservers": "Invalid value for deleteservers"}


@action("DeleteClient")
def delete_client(ctx: ActionContext) -> dict[str, Any]:
    data = ClientIdSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    clients.delete(ctx.session, client, delete_servers=data["deleteservers"], actor=ctx.actor)
    return {"clientid": sid(data["clientid"])}


@action("CloseClient")
def close_client(ctx: ActionContext) -> dict[str, Any]:
    data = ClientIdSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    clients.close(ctx.session, client, actor=ctx.actor)
    return {"clientid": sid(client.id)}


class GetClientsSchema(WhmcsSchema):
    limitstart = WInt(load_default=0, validate=validate.Range(min=0))
    limitnum = WInt(load_default=25, validate=validate.Range(min=1, max=1000))
    sorting = fields.String(load_default="ASC", validate=validate.OneOf(["ASC", "DESC", "asc", "desc"]))
    status = fields.String(load_default=None, validate=validate.OneOf(clients.STATUSES))
    search = fields.String(load_default=None)
    orderby = fields.String(load_default="id", validate=validate.OneOf(list(clients.ORDER_FIELDS)))
    WHMCS_ERRORS = {"limitstart": "Invalid limitstart", "limitnum": "Invalid limitnum",
                    "sorting": "Invalid sorting", "status": "Invalid status", "orderby": "Invalid orderby"}


@action("GetClients")
def get_clients(ctx: ActionContext) -> dict[str, Any]:
    data = GetClientsSchema.load_params(ctx.params)
    page = clients.search(ctx.session, start=data["limitstart"], limit=data["limitnum"], status=data["status"],
                          text=data["search"] or None, orderby=data["orderby"],
                          descending=data["sorting"].upper() == "DESC")
    return {
        "totalresults": str(page.total), "startnumber": str(data["limitstart"]), "numreturned": str(len(page.items)),
        "clients": {"client": [
            {"id": sid(c.id), "firstname": c.firstname, "lastname": c.lastname, "companyname": c.companyname,
             "email": c.email, "datecreated": wdate(c.datecreated), "groupid": sid(c.group_id or 0),
             "status": c.status} for c in page.items]},
    }


class AddCreditSchema(WhmcsSchema):
    clientid = WId(required=True)
    description = fields.String(required=True, validate=validate.Length(min=1))
    amount = WMoney(required=True)
    type = fields.String(load_default="add", validate=validate.OneOf(["add", "remove"]))
    WHMCS_ERRORS = {"clientid": "Client ID Not Found", "description": "You must provide a description",
                    "amount": "No Amount Provided", "type": "Type can only be add or remove"}


@action("AddCredit")
def add_credit(ctx: ActionContext) -> dict[str, Any]:
    data = AddCreditSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    balance = clients.add_credit(ctx.session, client, data["amount"], data["description"],
                                 remove=data["type"] == "remove", actor=ctx.actor)
    return {"newbalance": money(balance)}
