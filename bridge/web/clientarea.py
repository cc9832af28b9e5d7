"""The client area: dashboard panels, usage so far, invoices, "Log in to SolusVM"."""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.db import lock_row
from bridge.errors import BridgeError
from bridge.flask_glue import current_settings, unit_of_work
from bridge.models import Client, Invoice, utcnow
from bridge.services import invoices as invoice_service
from bridge.services import snapshots, sso, usage
from bridge.services.invoice_document import InvoiceDocument, document, month_preview, usage_by_day
from bridge.services.ports import SolusVM
from bridge.services.solusvm_client import SolusVMError
from bridge.web import charts
from bridge.web.common import client_required, dbs, rate_limit, solus, web_blueprint
from bridge.web.forms import ActionForm
from bridge.web.headers import allow_solusvm_login_form
from bridge.web.pdf import invoice_pdf as render_pdf
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


def _usage(client: Client) -> tuple[Any, str, str, Any]:
    """(projection or None, message, "as of" text when the figures are a snapshot, tokens per day)
    for this month so far.

    SolusVM is asked at most once a minute per user, within the request's budget; when it
    does not answer in time the last figures are shown with their age.
    """
    if not client.solusvm_user_id:
        return None, "", "", None

    now = utcnow()
    cid, uid = client.id, client.solusvm_user_id  # plain values: the refresh may outlive the request
    usage_cache = snapshots.cache(current_app.extensions, "usage")  # by (SolusVM user, month)
    sv = solus()  # built here: the refresh runs outside the request (snapshots module)
    snap, exc = usage_cache.get((uid, now.year, now.month), lambda: _month_so_far(sv, cid, uid, now),
                                errors=(SolusVMError, ValueError), background=True)
    if exc is not None and not isinstance(exc, snapshots.StillLoading):
        log.warning("usage for client %s unavailable: %s", client.id, exc)
    if snap is None and isinstance(exc, snapshots.StillLoading):
        return None, "Usage is still being loaded from SolusVM. Please reload the page in a moment.", "", None
    if snap is None:
        return None, "Usage could not be loaded from SolusVM right now. Please try again later.", "", None
    try:
        # Priced like the invoice that will follow: amounts before tax, each tax, the total.
        projection = month_preview(dbs(), None, client, now=now, items=snap.value.items)
    except BridgeError as exc:
        return None, exc.message, "", None
    return projection, "", (f"as of {snap.age_text()}: SolusVM did not answer in time" if exc is not None
                            else ""), snap.value.days


def panel(client: Client) -> str:
    """Which dashboard panel: not_enrolled, provisioning or enrolled."""
    if client.enrolled_at is None:
        return "not_enrolled"
    return "enrolled" if client.solusvm_user_id else "provisioning"


@dataclass(frozen=True)
class _MonthSoFar:
    items: list[Any]  # usage items up to now (the table)
    days: list[tuple[Any, int]] | None  # tokens per day (the chart); None when it could not be read


def _month_so_far(sv: SolusVM, client_id: int, uid: int, now: Any) -> _MonthSoFar:
    """One refresh for the table and the chart: today's month-to-date total is read once."""
    items = usage.usage_items_so_far(sv, uid, now=now)
    # Runs in its own thread, after the request's database session may be gone: the chart
    # gets the SolusVM user id, not the ORM object.
    try:
        days = usage_by_day(sv, uid, now=now, today_total=sum(i.total_tokens for i in items))
    except (SolusVMError, ValueError) as exc:  # the table is still worth showing
        log.warning("usage by day for client %s unavailable: %s", client_id, exc)
        days = None
    return _MonthSoFar(items, days)


def _usage_chart(days: Any) -> Any:
    """This month's tokens per day as an SVG column chart (None when unavailable)."""

    if not days:
        return None
    return charts.column_chart(
        "usage-by-day", "Tokens used per day this month", [d.isoformat() for d, _t in days],
        [charts.Series("Tokens", "usage", {d.isoformat(): t for d, t in days})],
        lambda v: f"{int(v):,} tokens", lambda d: str(int(d[8:])), height=180,
        slots=calendar.monthrange(days[0][0].year, days[0][0].month)[1])


@bp.get("")
@client_required
def dashboard(client: Client) -> Any:
    usage, usage_error, usage_as_of, days = _usage(client)
    allow_solusvm_login_form()
    chart = _usage_chart(days) if usage is not None else None
    return render_template("clientarea/dashboard.html", client=client, panel=panel(client), usage=usage,
                           usage_error=usage_error, usage_as_of=usage_as_of, usage_chart=chart,
                           invoices=_invoices(client, 5),
                           form=ActionForm())


@bp.post("/solusvm")
@client_required
def solusvm_login(client: Client) -> Any:
    """Mint a one-time SolusVM login and send the browser there (POST: never prefetched)."""

    try:
        url = sso.login_url(dbs(), client.id, solus(), current_settings().solusvm.login_url_template)
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


def _own_invoice(client: Client, invoice_id: int) -> Invoice:
    inv = dbs().get(Invoice, invoice_id)
    # Someone else's invoice is "not found", exactly like a missing one.
    if inv is None or inv.client_id != client.id or inv.status not in VISIBLE:
        abort(404)
    return inv


@bp.get("/invoices/<int:invoice_id>")
@client_required
def invoice(client: Client, invoice_id: int) -> Any:
    return render_template("clientarea/invoice.html", client=client,
                           doc=document(dbs(), _own_invoice(client, invoice_id)))


@bp.get("/invoices/<int:invoice_id>.pdf")
@client_required
def invoice_pdf(client: Client, invoice_id: int) -> Any:
    return render_pdf(document(dbs(), _own_invoice(client, invoice_id)))


@bp.post("/invoices/<int:invoice_id>/pay-with-credit")
@client_required
def pay_with_credit(client: Client, invoice_id: int) -> Any:
    """Settle an open invoice from the client's credit when the credit covers the balance."""


    inv = _own_invoice(client, invoice_id)

    def pay(session: Session) -> InvoiceDocument | None:
        lock_row(session, client)
        doc = document(session, inv)
        if not doc.can_pay_with_credit:
            return None
        invoice_service.apply_credit(session, inv, doc.balance, actor=f"client:{client.id}", paid=doc.paid)
        return doc

    try:
        # A unit of work: a paid invoice can lift an overdue hold, sent to SolusVM after commit.
        paid = unit_of_work().run_in(dbs(), pay)
    except BridgeError as exc:
        flash(exc.message, "error")
        return redirect(url_for("web_clientarea.invoice", invoice_id=inv.id))
    if paid is None:
        flash("Your credit does not cover this invoice (or it is not open).", "warning")
        return redirect(url_for("web_clientarea.invoice", invoice_id=inv.id))
    doc = paid
    flash(f"Invoice #{doc.number} paid with credit.", "ok")
    return redirect(url_for("web_clientarea.invoice", invoice_id=inv.id))
