"""Client actions: AddClient, GetClientsDetails, UpdateClient, DeleteClient, CloseClient,
GetClients, AddCredit."""

from __future__ import annotations

from typing import Any

from bridge.api.whmcs.params import bridged, money, sid, wdate
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import NotFound, ValidationFailed
from bridge.models import Client
from bridge.services import clients, hooks
from contracts import whmcs_requests as req

# The parameters are defined once, in contracts.whmcs_requests (and documented in bridge.json).
AddClientSchema = bridged(req.AddClientSchema)
ClientKeySchema = bridged(req.ClientKeySchema)
UpdateClientSchema = bridged(req.UpdateClientSchema)
ClientIdSchema = bridged(req.ClientIdSchema)
GetClientsSchema = bridged(req.GetClientsSchema)
AddCreditSchema = bridged(req.AddCreditSchema)


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
        "totalresults": str(page.total), "startnumber": str(data["limitstart"]), "numreturned": str(len(page.items)),
        "clients": {"client": [
            {"id": sid(c.id), "firstname": c.firstname, "lastname": c.lastname, "companyname": c.companyname,
             "email": c.email, "datecreated": wdate(c.datecreated), "groupid": sid(c.group_id or 0),
             "status": c.status} for c in page.items]},
    }


@action("AddCredit")
def add_credit(ctx: ActionContext) -> dict[str, Any]:
    data = AddCreditSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["clientid"])
    balance = clients.add_credit(ctx.session, client, data["amount"], data["description"],
                                 remove=data["type"] == "remove", actor=ctx.actor)
    return {"newbalance": money(balance)}
