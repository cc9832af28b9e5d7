"""Admin pages: clients (status, enrollment, pending changes, lock/suspend), invoices, pricing."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import segno
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from bridge.billing import plan_prices
from bridge.errors import BridgeError, WebError
from bridge.flask_glue import current_settings, unit_of_work
from bridge.models import Admin, Client, ClientGroup, Currency, Invoice, TaxRule, utcnow
from bridge.services import accounts, audit, catalogue, outbox, provisioning, snapshots, web_sessions
from bridge.services import invoices as invoice_service
from bridge.services import pricing as pricing_service
from bridge.services.invoice_document import document
from bridge.services.overview import overview
from bridge.services.solusvm_client import SolusVMError
from bridge.web import charts
from bridge.web.common import (
    LoginAttempt,
    admin_required,
    clear_session,
    dbs,
    log_in_admin,
    log_out,
    password_tag,
    session_max_age,
    solus,
    web_blueprint,
)
from bridge.web.formatting import format_money, format_number
from bridge.web.forms import ActionForm, AdminLoginForm, PreviewForm, TotpForm
from bridge.web.pdf import invoice_pdf as render_pdf
from bridge.web.provision import provision_now

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
        attempt = LoginAttempt("admin", form.name.data)
        attempt.check()
        admin = accounts.authenticate_admin(dbs(), form.name.data.strip(), form.password.data)
        if admin is None:
            dbs().rollback()
            attempt.failed()
            return render_template("admin/login.html", form=form, error="Name or password is not correct."), 401
        dbs().commit()
        attempt.succeeded()
        if admin.totp_enabled:  # the password was right; the code comes next, on its own page
            clear_session(dbs())
            dbs().commit()
            session["admin_2fa"] = {"id": admin.id, "at": int(time.time()),
                                    "tag": password_tag("admin-2fa", admin.id, admin.password_hash)}
            return redirect(url_for("web_admin.login_code"))
        log_in_admin(admin)
        return redirect(url_for("web_admin.index"))
    return render_template("admin/login.html", form=form), 400 if form.is_submitted() else 200


TWO_FACTOR_WAIT = 300  # seconds between the password and the code


def _pending_two_factor() -> Admin | None:
    """The admin whose password was just accepted and who owes a code, or None."""
    pending = session.get("admin_2fa")
    if not isinstance(pending, dict) or not isinstance(pending.get("id"), int):
        return None
    admin = dbs().get(Admin, pending["id"])
    if (admin is None or not admin.totp_enabled or int(pending.get("at", 0)) + TWO_FACTOR_WAIT < time.time()
            or pending.get("tag") != password_tag("admin-2fa", admin.id, admin.password_hash)):
        return None
    return admin


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """Second step of an admin log-in with two-factor on: the authenticator app's code."""
    pending = session.get("admin_2fa")
    name = ""
    if isinstance(pending, dict) and isinstance(pending.get("id"), int):
        name = f"#{pending['id']}"
    form = TotpForm()
    if form.validate_on_submit():
        attempt = LoginAttempt("admin-2fa", name or "-")
        attempt.check()  # before any read: counted against this admin, from this address
    admin = _pending_two_factor()
    if admin is None:
        session.pop("admin_2fa", None)
        flash("Log in again: the code must follow the password within 5 minutes.", "warning")
        return redirect(url_for("web_admin.login"))
    if form.validate_on_submit():
        if not accounts.check_admin_totp(dbs(), admin, form.code.data):
            dbs().rollback()
            attempt.failed()
            return render_template("admin/login_code.html", form=form, error="That code does not match."), 401
        audit.record(dbs(), f"admin:{admin.name}", "admin.login_2fa", "admin", admin.id, {})
        dbs().commit()
        log_in_admin(admin)
        return redirect(url_for("web_admin.clients"))
    return render_template("admin/login_code.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/account/2fa", methods=["GET", "POST"])
@admin_required
def two_factor(admin: Any) -> Any:
    """Turn TOTP two-factor log-in on (QR code + a code to confirm) or off."""
    form = TotpForm()
    required = current_settings().web.admin_require_2fa
    if admin.totp_enabled:
        if form.validate_on_submit():
            if required:
                abort(403)
            try:
                accounts.disable_totp(dbs(), admin, form.code.data, actor=f"admin:{admin.name}")
            except WebError as exc:
                dbs().rollback()
                return render_template("admin/two_factor.html", form=form, enabled=True, required=required,
                                       error=exc.message), 400
            dbs().commit()
            flash("Two-factor log-in is off.", "ok")
            return redirect(url_for("web_admin.two_factor"))
        return render_template("admin/two_factor.html", form=form, enabled=True, required=required)
    secret = session.get("admin_totp_secret")
    if not isinstance(secret, str) or not secret:
        secret = session["admin_totp_secret"] = accounts.new_totp_secret()
    if form.validate_on_submit():
        try:
            accounts.enable_totp(dbs(), admin, secret, form.code.data)
        except WebError as exc:
            dbs().rollback()
            return _enrol_page(admin, secret, form, required, exc.message), 400
        dbs().commit()
        session.pop("admin_totp_secret", None)
        flash("Two-factor log-in is on: from now on, log-in asks for a code from your app.", "ok")
        return redirect(url_for("web_admin.clients"))
    return _enrol_page(admin, secret, form, required), 400 if form.is_submitted() else 200


def _enrol_page(admin: Any, secret: str, form: TotpForm, required: bool, error: str = "") -> str:

    uri = accounts.totp_uri(secret, admin.name, current_settings().web.site_name or accounts.TOTP_ISSUER)
    # An SVG data: URI (CSP allows data: images): no request that could leak the secret elsewhere.
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return render_template("admin/two_factor.html", form=form, enabled=False, required=required, qr=qr,
                           secret=secret, error=error)


@bp.post("/logout")
def logout() -> Any:
    log_out("admin")
    return redirect(url_for("web_admin.login"))


@bp.get("")
@admin_required
def index(_admin: Any) -> Any:
    """The admin home: revenue, what is owed, plans and clients at a glance (SVG charts)."""

    data = overview(dbs(), today=utcnow().date())
    revenue = []
    for cur in data.currencies:
        def fmt(value: Any, cur: Any = cur) -> str:
            return format_money(value, cur.currency)

        revenue.append({"code": cur.code, "unpaid": fmt(cur.unpaid), "overdue": fmt(cur.overdue),
                        "chart": charts.column_chart(
                            f"revenue-{cur.code}", f"Invoiced and collected per month, {cur.code}", data.months,
                            [charts.Series("Invoiced", "invoiced", cur.invoiced),
                             charts.Series("Collected", "collected", cur.collected)], fmt, charts.month_label),
                        "owed": charts.bar_list(f"owed-{cur.code}", f"Unpaid and overdue, {cur.code}",
                                                [("Unpaid, not yet due", cur.unpaid, fmt(cur.unpaid)),
                                                 ("Overdue", cur.overdue, fmt(cur.overdue))], "owed")})
    codes = {c.code: c.currency for c in data.currencies}
    plans = charts.bar_list("plans", f"Tokens by plan, invoices issued in {data.plans_month}", [
        (p.plan_name, p.tokens, f"{p.tokens:,} tokens · " + ", ".join(
            format_money(v, codes[k]) if k in codes else f"{v} {k}" for k, v in sorted(p.revenue.items())))
        for p in data.plans], "tokens") if data.plans else None
    statuses = charts.bar_list("clients-by-status", "Clients by SolusVM status",
                               [(s.capitalize(), n, str(n)) for s, n in data.clients_by_status.items()], "clients")
    return render_template("admin/home.html", revenue=revenue, plans=plans, plans_month=data.plans_month,
                           statuses=statuses)


def _pending_by_client() -> Counter[int]:

    return Counter(change.client_id for change in outbox.pending_changes(dbs()) if change.client_id)


def _desired(client: Client) -> str:

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


    max_age = session_max_age()
    rows = [{"id": row.id, "ip": row.ip, "user_agent": row.user_agent,
             "started": datetime.fromtimestamp(row.created_at, UTC)}
            for row in web_sessions.list_for(dbs(), "client", client.id, max_age)]
    return render_template("admin/client.html", client=client, desired=_desired(client), sessions=rows,
                           changes=outbox.pending_changes(dbs(), client.id), form=form,
                           invoices=list(dbs().scalars(select(Invoice).where(Invoice.client_id == client.id)
                                                       .order_by(Invoice.id.desc())))), status


@bp.post("/clients/<int:client_id>/<action>")
@admin_required
def client_action(admin: Any, client_id: int, action: str) -> Any:
    """Lock, unlock, suspend or unsuspend: queue the change, then try to apply it at once."""

    client = dbs().get(Client, client_id)
    if action not in ACTIONS or client is None:
        abort(404)
    form = ActionForm()
    if not form.validate():  # e.g. a reason longer than the 500 characters the audit log keeps
        return _client_page(client, form, 400)
    try:
        provisioning.set_status(dbs(), client_id, ACTIONS[action], actor=f"admin:{admin.name}",
                                reason=(form.reason.data or "").strip())
        if action == "lock":  # a locked client is logged out everywhere
            web_sessions.end_all(dbs(), "client", client_id)
    except BridgeError as exc:
        dbs().rollback()
        flash(exc.message, "error")
        return redirect(url_for("web_admin.client_detail", client_id=client_id))
    dbs().commit()
    provision_now(client_id, retry=True)

    if outbox.pending_changes(dbs(), client_id):
        flash(f"{action.capitalize()}: saved, but SolusVM was not reachable; the change is queued and will be "
              "retried.", "warning")
    else:
        flash(f"{action.capitalize()}: done, SolusVM updated.", "ok")
    return redirect(url_for("web_admin.client_detail", client_id=client_id))


@bp.post("/clients/<int:client_id>/sessions/end")
@admin_required
def end_sessions(admin: Any, client_id: int) -> Any:
    """Log a client out everywhere."""
    dbs().get(Client, client_id) or abort(404)
    ended = web_sessions.end_all(dbs(), "client", client_id)
    audit.record(dbs(), f"admin:{admin.name}", "client.sessions_ended", "client", client_id, {"count": ended})
    dbs().commit()
    flash(f"Ended {ended} session(s).", "ok")
    return redirect(url_for("web_admin.client_detail", client_id=client_id))


@bp.post("/clients/<int:client_id>/sessions/<session_id>/end")
@admin_required
def end_session(admin: Any, client_id: int, session_id: str) -> Any:
    """End one of a client's sessions."""
    dbs().get(Client, client_id) or abort(404)
    if not web_sessions.end_by_id(dbs(), "client", client_id, session_id[:64]):
        abort(404)
    audit.record(dbs(), f"admin:{admin.name}", "client.sessions_ended", "client", client_id, {"count": 1})
    dbs().commit()
    flash("Session ended.", "ok")
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
    return render_template("clientarea/invoice.html", client=inv.client, doc=document(dbs(), inv), admin_view=True,
                           form=ActionForm())


@bp.get("/invoices/<int:invoice_id>.pdf")
@admin_required
def invoice_pdf(_admin: Any, invoice_id: int) -> Any:

    return render_pdf(document(dbs(), dbs().get(Invoice, invoice_id) or abort(404)))


@bp.post("/invoices/<int:invoice_id>/paid")
@admin_required
def mark_paid(admin: Any, invoice_id: int) -> Any:
    inv = dbs().get(Invoice, invoice_id) or abort(404)
    if inv.status == "Paid":
        flash(f"Invoice #{inv.id} is already paid.", "warning")
        return redirect(url_for("web_admin.invoices"))
    # As in the WHMCS API, a unit of work: the payment re-evaluates the overdue hold with the
    # configured thresholds and the resulting change is sent right after commit.
    try:
        unit_of_work().run_in(dbs(), lambda session: invoice_service.add_payment(
            session, inv, transid=f"admin-{inv.id}-{int(utcnow().timestamp())}", gateway="manual", when=utcnow(),
            actor=f"admin:{admin.name}"))
    except BridgeError as exc:
        flash(exc.message, "error")
        return redirect(url_for("web_admin.invoices"))
    flash(f"Invoice #{inv.id} marked as paid.", "ok")
    return redirect(url_for("web_admin.invoices"))


def _plan_prices(user_cost: Decimal, decimals: int) -> tuple[list[dict[str, Any]], str]:
    """What SolusVM would show per plan (``billing.plan_prices``: tokens x user token cost, rounded).

    The plan list is a snapshot (``snapshots.PLANS``): asked at most once a minute, within the
    request's budget; when SolusVM does not answer in time the last list is shown with its age.
    """

    plans_cache = snapshots.cache(current_app.extensions, "plans")  # by SolusVM URL
    sv = solus()  # built here: the refresh runs outside the request (snapshots module)
    snap, exc = plans_cache.get(current_settings().solusvm.url,
                                lambda: list(sv.iter_plans()), errors=(SolusVMError, ValueError), background=True)
    if snap is None:
        return [], f"Plans could not be loaded from SolusVM: {exc}"
    note = f"Plan list as of {snap.age_text()}: SolusVM did not answer in time ({exc})." if exc else ""
    return plan_prices(snap.value, user_cost, decimals), note


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
                # the currency's own places: 0 is a real value (JPY), not "unset"
                plans, plans_error = _plan_prices(preview.user_token_unit_cost,
                                                  int(preview.currency["decimals"]))
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
        tax_compound=catalogue.get_setting(s, "TaxL2Compound"), number_example=_number_example), 400 if error else 200


def _number_example(currency: Currency) -> str:
    """How a currency's format code writes 1234.56 (format 2: ``1,234.56``), instead of the bare code."""

    return format_number(Decimal("1234.56"), currency.format, currency.decimals)
