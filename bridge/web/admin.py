"""Admin pages: clients (status, enrollment, pending changes, lock/suspend), invoices, pricing."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from bridge.errors import BridgeError
from bridge.models import Client, ClientGroup, Currency, Invoice, TaxRule, utcnow
from bridge.services import catalogue, hooks
from bridge.services import invoices as invoice_service
from bridge.services import pricing as pricing_service
from bridge.services.solusvm_client import SolusVMError
from bridge.web import accounts
from bridge.web.common import admin_required, dbs, log_in_admin, rate_limit, solus, web_blueprint
from bridge.web.forms import ActionForm, AdminLoginForm, PreviewForm
from bridge.web.provision import provision_now
from contracts.rules import quantize_money

bp = web_blueprint("web_admin", __name__, url_prefix="/admin")

PER_PAGE = 50


def _page() -> int:
    """The ``?page=`` number (1 when missing or not a sane number)."""
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 100_000 else 1


# button -> desired SolusVM user status
ACTIONS = {"lock": "locked", "unlock": "active", "suspend": "suspended", "unsuspend": "active"}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = AdminLoginForm()
    if form.validate_on_submit():
        rate_limit("login", f"admin:{form.name.data.lower()}")
        admin = accounts.authenticate_admin(dbs(), form.name.data.strip(), form.password.data)
        if admin is None:
            return render_template("admin/login.html", form=form, error="Name or password is not correct."), 401
        dbs().commit()
        log_in_admin(admin)
        return redirect(url_for("web_admin.clients"))
    return render_template("admin/login.html", form=form), 400 if form.is_submitted() else 200


@bp.post("/logout")
def logout() -> Any:
    session.pop("admin_id", None)
    session.pop("admin_tag", None)
    return redirect(url_for("web_admin.login"))


@bp.get("")
@admin_required
def index(_admin: Any) -> Any:
    return redirect(url_for("web_admin.clients"))


def _pending_by_client() -> Counter[int]:
    from bridge.services import outbox

    return Counter(change.client_id for change in outbox.pending_changes(dbs()) if change.client_id)


def _desired(client: Client) -> str:
    from bridge.services import provisioning

    return provisioning.desired_status(client)


@bp.get("/clients")
@admin_required
def clients(_admin: Any) -> Any:
    q = request.args.get("q", "").strip()[:254]
    page = _page()
    query = select(Client).order_by(Client.id)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(Client.email_normalized.like(like) | func.lower(Client.lastname).like(like)
                            | func.lower(Client.companyname).like(like))
    rows = list(dbs().scalars(query.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    return render_template("admin/clients.html", clients=rows[:PER_PAGE], pending=_pending_by_client(),
                           desired=_desired, form=ActionForm(), q=q, page=page, more=len(rows) > PER_PAGE)


@bp.get("/clients/<int:client_id>")
@admin_required
def client_detail(_admin: Any, client_id: int) -> Any:
    client = dbs().get(Client, client_id) or abort(404)
    return _client_page(client, ActionForm())


def _client_page(client: Client, form: ActionForm, status: int = 200) -> tuple[str, int]:
    from bridge.services import outbox

    return render_template("admin/client.html", client=client, desired=_desired(client),
                           changes=outbox.pending_changes(dbs(), client.id), form=form,
                           invoices=list(dbs().scalars(select(Invoice).where(Invoice.client_id == client.id)
                                                       .order_by(Invoice.id.desc())))), status


@bp.post("/clients/<int:client_id>/<action>")
@admin_required
def client_action(admin: Any, client_id: int, action: str) -> Any:
    """Lock, unlock, suspend or unsuspend: queue the change, then try to apply it at once."""
    from bridge.services import provisioning

    client = dbs().get(Client, client_id)
    if action not in ACTIONS or client is None:
        abort(404)
    form = ActionForm()
    if not form.validate():  # e.g. a reason longer than the 500 characters the audit log keeps
        return _client_page(client, form, 400)
    try:
        provisioning.set_status(dbs(), client_id, ACTIONS[action], actor=f"admin:{admin.name}",
                                reason=(form.reason.data or "").strip())
    except BridgeError as exc:
        dbs().rollback()
        flash(exc.message, "error")
        return redirect(url_for("web_admin.client_detail", client_id=client_id))
    dbs().commit()
    provision_now(client_id, retry=True)
    from bridge.services import outbox

    if outbox.pending_changes(dbs(), client_id):
        flash(f"{action.capitalize()}: saved, but SolusVM was not reachable; the change is queued and will be "
              "retried.", "warning")
    else:
        flash(f"{action.capitalize()}: done, SolusVM updated.", "ok")
    return redirect(url_for("web_admin.client_detail", client_id=client_id))


@bp.get("/invoices")
@admin_required
def invoices(_admin: Any) -> Any:
    status = request.args.get("status", "")[:20]
    page = _page()
    query = select(Invoice).order_by(Invoice.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)
    if status:
        query = query.where(Invoice.status == status)
    rows = list(dbs().scalars(query))
    return render_template("admin/invoices.html", invoices=rows[:PER_PAGE], status=status, form=ActionForm(),
                           page=page, more=len(rows) > PER_PAGE)


@bp.get("/invoices/<int:invoice_id>")
@admin_required
def invoice_detail(_admin: Any, invoice_id: int) -> Any:
    inv = dbs().get(Invoice, invoice_id) or abort(404)
    return render_template("clientarea/invoice.html", client=inv.client, invoice=inv, admin_view=True,
                           balance=invoice_service.balance(dbs(), inv), form=ActionForm())


@bp.post("/invoices/<int:invoice_id>/paid")
@admin_required
def mark_paid(admin: Any, invoice_id: int) -> Any:
    inv = dbs().get(Invoice, invoice_id) or abort(404)
    if inv.status == "Paid":
        flash(f"Invoice #{inv.id} is already paid.", "warning")
        return redirect(url_for("web_admin.invoices"))
    # As in the WHMCS API: the payment hook re-evaluates the overdue hold with the configured
    # thresholds and sends the resulting change right after commit.
    dbs().info[hooks.CONFIG_KEY] = current_app.config
    try:
        invoice_service.add_payment(dbs(), inv, transid=f"admin-{inv.id}-{int(utcnow().timestamp())}",
                                    gateway="manual", when=utcnow(), actor=f"admin:{admin.name}")
    except BridgeError as exc:
        dbs().rollback()
        flash(exc.message, "error")
        return redirect(url_for("web_admin.invoices"))
    dbs().commit()
    flash(f"Invoice #{inv.id} marked as paid.", "ok")
    return redirect(url_for("web_admin.invoices"))


def _plan_prices(user_cost: Decimal, decimals: int) -> tuple[list[dict[str, Any]], str]:
    """What SolusVM would show per plan: tokens x user token cost, rounded to the currency.

    The plan list is a snapshot (``snapshots.PLANS``): asked at most once a minute, within the
    request's budget; when SolusVM does not answer in time the last list is shown with its age.
    """
    from bridge.services import snapshots

    plans_cache = snapshots.cache(current_app.extensions, "plans")  # by SolusVM URL
    snap, exc = plans_cache.get(str(current_app.config.get("SOLUSVM_URL") or ""),
                                    lambda: list(solus().iter_plans()), errors=(SolusVMError, ValueError))
    if snap is None:
        return [], f"Plans could not be loaded from SolusVM: {exc}"
    plans = snap.value
    note = f"Plan list as of {snap.age_text()}: SolusVM did not answer in time ({exc})." if exc else ""
    rows = []
    for plan in plans:
        per_hour = int(plan.get("tokens_per_hour") or 0)
        per_month = int(plan.get("tokens_per_month") or 0)
        rows.append({"name": plan.get("name", ""), "tokens_per_hour": per_hour, "tokens_per_month": per_month,
                     "per_hour": quantize_money(per_hour * user_cost, decimals),
                     "per_month": quantize_money(per_month * user_cost, decimals) if per_month else None})
    return rows, note


@bp.get("/pricing")
@admin_required
def pricing(_admin: Any) -> Any:
    """The pricing catalogue and a GetTokenPricing preview for one client."""
    s = dbs()
    form = PreviewForm(request.args, meta={"csrf": False})
    preview = error = None
    plans: list[dict[str, Any]] = []
    plans_error = ""
    preview_client = None
    if "client_id" in request.args:
        if form.validate():
            try:
                preview = pricing_service.token_pricing(s, form.client_id.data)
                preview_client = s.get(Client, form.client_id.data)
                plans, plans_error = _plan_prices(preview.user_token_unit_cost,
                                                  int(preview.currency.get("decimals", 2) or 2))
            except BridgeError as exc:
                error = exc.message
        else:
            error = "; ".join(e for errs in form.errors.values() for e in errs)
    return render_template(
        "admin/pricing.html", form=form, preview=preview, preview_client=preview_client, error=error,
        plans=plans, plans_error=plans_error,
        currencies=list(s.scalars(select(Currency).order_by(Currency.id))),
        groups=list(s.scalars(select(ClientGroup).order_by(ClientGroup.id))),
        rules=list(s.scalars(select(TaxRule).order_by(TaxRule.level, TaxRule.id))),
        tax_enabled=catalogue.get_setting(s, "TaxEnabled"), tax_type=catalogue.get_setting(s, "TaxType"),
        tax_compound=catalogue.get_setting(s, "TaxL2Compound")), 400 if error else 200
