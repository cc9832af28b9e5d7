"""The client area: dashboard panels, usage so far, invoices, "Log in to SolusVM"."""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, redirect, render_template, url_for
from sqlalchemy import select

from bridge.errors import BridgeError
from bridge.models import Client, Invoice, utcnow
from bridge.services.solusvm_client import SolusVMError
from bridge.web.common import client_required, dbs, rate_limit, solus, web_blueprint
from bridge.web.forms import ActionForm
from bridge.web.provision import provision_now

log = logging.getLogger(__name__)
bp = web_blueprint("web_clientarea", __name__, url_prefix="/clientarea")

VISIBLE = ("Unpaid", "Paid", "Overdue", "Cancelled", "Refunded", "Collections", "Payment Pending")


def _invoices(client: Client, limit: int | None = None) -> list[Invoice]:
    # Draft invoices are not published to the client yet (WHMCS semantics).
    query = (select(Invoice).where(Invoice.client_id == client.id, Invoice.status.in_(VISIBLE))
             .order_by(Invoice.date.desc(), Invoice.id.desc()))
    if limit:
        query = query.limit(limit)
    return list(dbs().scalars(query))


def _usage(client: Client) -> tuple[Any, str, str]:
    """(projection or None, message, "as of" text when the figures are a snapshot) for this month so far.

    SolusVM is asked at most once a minute per user, within the request's budget; when it
    does not answer in time the last figures are shown with their age.
    """
    if not client.solusvm_user_id:
        return None, "", ""
    from bridge.services import invoicing, snapshots

    now = utcnow()
    uid = client.solusvm_user_id
    usage_cache = snapshots.cache(current_app.extensions, "usage")  # by (SolusVM user, month)
    snap, exc = usage_cache.get((uid, now.year, now.month),
                                    lambda: invoicing.usage_items_so_far(solus(), uid, now=now),
                                    errors=(SolusVMError, ValueError))
    if exc is not None:
        log.warning("usage for client %s unavailable: %s", client.id, exc)
    if snap is None:
        return None, "Usage could not be loaded from SolusVM right now. Please try again later.", ""
    try:
        projection = invoicing.usage_so_far(dbs(), None, client, now=now, items=snap.value)
    except BridgeError as exc:
        return None, exc.message, ""
    return projection, "", (f"as of {snap.age_text()}: SolusVM did not answer in time" if exc is not None
                            else "")


def panel(client: Client) -> str:
    """Which dashboard panel: not_enrolled, provisioning or enrolled."""
    if client.enrolled_at is None:
        return "not_enrolled"
    return "enrolled" if client.solusvm_user_id else "provisioning"


@bp.get("")
@client_required
def dashboard(client: Client) -> Any:
    usage, usage_error, usage_as_of = _usage(client)
    return render_template("clientarea/dashboard.html", client=client, panel=panel(client), usage=usage,
                           usage_error=usage_error, usage_as_of=usage_as_of, invoices=_invoices(client, 5),
                           form=ActionForm())


@bp.post("/solusvm")
@client_required
def solusvm_login(client: Client) -> Any:
    """Mint a one-time SolusVM login and send the browser there (POST: never prefetched)."""
    from bridge.services import sso

    try:
        url = sso.login_url(dbs(), client.id, solus(), current_app.config["SOLUSVM_LOGIN_URL_TEMPLATE"])
    except sso.SSOError as exc:
        dbs().rollback()
        return render_template("message.html", title="Cannot log you in to SolusVM right now",
                               message=str(getattr(exc, "message", exc)),
                               back=url_for("web_clientarea.dashboard")), 409
    dbs().commit()
    return redirect(url, code=303)


@bp.post("/provision")
@client_required
def provision(client: Client) -> Any:
    """Retry the pending SolusVM changes of an enrolled client now."""
    if client.enrolled_at is None:
        return redirect(url_for("web_signup.terms"))
    rate_limit("retry", f"client:{client.id}")
    result = provision_now(client.id, retry=True)
    status = 200 if result.provisioned else 503
    return render_template("signup/done.html", result=result), status


@bp.get("/invoices")
@client_required
def invoices(client: Client) -> Any:
    return render_template("clientarea/invoices.html", client=client, invoices=_invoices(client))


@bp.get("/invoices/<int:invoice_id>")
@client_required
def invoice(client: Client, invoice_id: int) -> Any:
    inv = dbs().get(Invoice, invoice_id)
    # Someone else's invoice is "not found", exactly like a missing one.
    if inv is None or inv.client_id != client.id or inv.status not in VISIBLE:
        abort(404)
    from bridge.services import invoices as invoice_service

    return render_template("clientarea/invoice.html", client=client, invoice=inv,
                           balance=invoice_service.balance(dbs(), inv))
