"""Reference data and system actions: GetCurrencies, GetClientGroups, GetConfigurationValue,
WhmcsDetails, CreateSsoToken."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bridge.api.whmcs.params import answer, bridged
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import ValidationFailed
from bridge.models import ClientGroup, Currency
from bridge.services import catalogue, clients, sso_tokens
from bridge.services.paths import local_path
from contracts import whmcs
from contracts import whmcs_requests as req


@action("GetCurrencies")
def get_currencies(ctx: ActionContext) -> dict[str, Any]:
    rows = list(ctx.session.scalars(select(Currency).order_by(Currency.id)))
    return answer(whmcs.GetCurrenciesResponseSchema, {"totalresults": len(rows), "currencies": rows})


@action("GetClientGroups")
def get_client_groups(ctx: ActionContext) -> dict[str, Any]:
    rows = list(ctx.session.scalars(select(ClientGroup).order_by(ClientGroup.id)))
    return answer(whmcs.GetClientGroupsResponseSchema, {"totalresults": len(rows), "groups": rows})


# Settings readable through the API; anything else is "Invalid name for parameter setting".
READABLE = req.READABLE_SETTINGS


@action("GetConfigurationValue")
def get_configuration_value(ctx: ActionContext) -> dict[str, Any]:
    setting = ctx.params.get("setting")
    if not isinstance(setting, str) or not setting:
        raise ValidationFailed("Parameter setting is required")
    if setting not in READABLE:
        raise ValidationFailed("Invalid name for parameter setting")
    if setting == "SystemURL":
        value = catalogue.get_setting(ctx.session, "SystemURL") or ctx.settings.system_url
    elif setting == "TaxType":
        value = catalogue.get_setting(ctx.session, setting, "Exclusive")
    else:
        value = catalogue.get_setting(ctx.session, setting)
    return answer(whmcs.GetConfigurationValueResponseSchema, {"setting": setting, "value": value})


@action("WhmcsDetails")
def whmcs_details(ctx: ActionContext) -> dict[str, Any]:
    version = ctx.settings.whmcs_version
    return answer(whmcs.WhmcsDetailsResponseSchema, {
        "whmcs": {"version": version, "canonicalversion": f"{version}-release.1"}})


SsoSchema = bridged(req.SsoSchema)  # defined once, in contracts.whmcs_requests
DESTINATIONS = req.SSO_DESTINATIONS


@action("CreateSsoToken")
def create_sso_token(ctx: ActionContext) -> dict[str, Any]:
    data = SsoSchema.load_params(ctx.params)
    client_id = data.get("client_id") or data.get("user_id")  # one user per client here
    if client_id is None:
        raise ValidationFailed("A valid client_id or user_id is required")
    if data.get("client_id") and data.get("user_id") and data["client_id"] != data["user_id"]:
        raise ValidationFailed("Invalid user_id for client")
    client = ctx.session.get(clients.Client, client_id)
    if client is None:
        raise ValidationFailed("Invalid client_id" if data.get("client_id") else "Invalid user_id")
    destination = ctx.params.get("destination") or "clientarea:home"
    if not isinstance(destination, str) or destination not in DESTINATIONS:  # destination[]=x is a list
        raise ValidationFailed("Invalid destination")
    redirect_path = None
    if destination == "sso:custom_redirect":
        given = ctx.params.get("sso_redirect_path")
        if given not in (None, ""):  # none: the client area's home page
            # The same rule as the pages' ?next=: a path of this site, never another host.
            redirect_path = local_path(given)
            if redirect_path is None:
                raise ValidationFailed("Invalid sso_redirect_path")
    if client.status == "Closed":
        raise ValidationFailed(f"SSO authentication blocked for client {client.id}")
    token = sso_tokens.issue(ctx.settings.secret_key, client.id, destination, redirect_path)
    base = (catalogue.get_setting(ctx.session, "SystemURL") or ctx.settings.system_url).rstrip("/")
    return answer(whmcs.CreateSsoTokenResponseSchema, {
        "access_token": token, "redirect_url": f"{base}/oauth/singlesignon.php?access_token={token}"})
