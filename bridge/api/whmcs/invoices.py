"""Invoice actions: CreateInvoice, GetInvoice, GetInvoices, UpdateInvoice, AddInvoicePayment."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.api.whmcs.params import MAX_MONEY, bridged, money, rate, sid, wdate, wdatetime
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import NotFound, ValidationFailed
from bridge.models import Client, Invoice
from bridge.services import invoices
from contracts import whmcs_requests as req

_LINE = re.compile(r"^(itemdescription|itemamount|itemtaxed)(\d+)$")

# The parameters are defined once, in contracts.whmcs_requests (and documented in bridge.json);
# invoice lines and PHP arrays are documented there and checked below.
CreateInvoiceSchema = bridged(req.CreateInvoiceSchema)
InvoiceIdSchema = bridged(req.InvoiceIdSchema)
GetInvoicesSchema = bridged(req.GetInvoicesSchema)
UpdateInvoiceSchema = bridged(req.UpdateInvoiceSchema)
AddPaymentSchema = bridged(req.AddPaymentSchema)


def _decimal(value: Any, message: str) -> Decimal:
    if not isinstance(value, str | int):
        raise ValidationFailed(message)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed(message) from None
    if not result.is_finite() or abs(result) > MAX_MONEY:
        raise ValidationFailed(message)
    return result


def _taxed(value: Any) -> bool:
    if value in (None, "", "0", "false", "off", "no"):
        return False
    if value in ("1", "true", "on", "yes"):
        return True
    raise ValidationFailed("Invalid value for itemtaxed")


def _collect_lines(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Lines from ``itemdescriptionN`` / ``itemamountN`` / ``itemtaxedN`` (or ``itemdescription[N]``)."""
    by_n: dict[int, dict[str, Any]] = {}
    for key, value in params.items():
        m = _LINE.match(key)
        if m:
            by_n.setdefault(int(m.group(2)), {})[m.group(1)] = value
    for name in ("itemdescription", "itemamount", "itemtaxed"):
        arr = params.get(name)
        if isinstance(arr, dict):
            for k, v in arr.items():
                if not k.isdigit():
                    raise ValidationFailed(f"Malformed array parameter {name}")
                by_n.setdefault(int(k), {})[name] = v
        elif isinstance(arr, list):
            for i, v in enumerate(arr):
                by_n.setdefault(i, {})[name] = v
    lines = []
    for n in sorted(by_n):
        parts = by_n[n]
        desc = parts.get("itemdescription")
        if not isinstance(desc, str) or not desc.strip():
            raise ValidationFailed(f"Missing Variables: itemdescription{n} is required")
        amount = _decimal(parts.get("itemamount", "0"), f"Invalid amount for item {n}")
        lines.append({"description": desc.strip(), "amount": amount, "taxed": _taxed(parts.get("itemtaxed"))})
    return lines


@action("CreateInvoice")
def create_invoice(ctx: ActionContext) -> dict[str, Any]:
    data = CreateInvoiceSchema.load_params(ctx.params)
    if data["draft"] and data["sendinvoice"]:
        raise ValidationFailed("Cannot create and send a draft invoice in a single API request. "
                               "Please create and send separately.")
    if ctx.session.get(Client, data["userid"]) is None:
        raise NotFound("Client ID Not Found")
    lines = _collect_lines(dict(ctx.params))
    day = data["date"] or ctx.today
    inv = invoices.create_invoice(
        ctx.session, data["userid"], lines, date=day, duedate=data["duedate"] or day, actor=ctx.actor,
        status="Draft" if data["draft"] else data["status"], notes=data["notes"],
        paymentmethod=data["paymentmethod"], taxrate=data["taxrate"], taxrate2=data["taxrate2"],
        autoapplycredit=data["autoapplycredit"])
    return {"invoiceid": sid(inv.id), "status": inv.status}


def _invoice_row(ctx: ActionContext, inv: Invoice) -> dict[str, Any]:
    c = inv.client
    cur = inv.currency
    return {
        "id": sid(inv.id), "userid": sid(inv.client_id), "firstname": c.firstname, "lastname": c.lastname,
        "companyname": c.companyname, "invoicenum": inv.invoicenum, "date": wdate(inv.date),
        "duedate": wdate(inv.duedate), "datepaid": wdatetime(inv.datepaid), "subtotal": money(inv.subtotal),
        "credit": money(inv.credit), "tax": money(inv.tax), "tax2": money(inv.tax2), "total": money(inv.total),
        "taxrate": rate(inv.taxrate), "taxrate2": rate(inv.taxrate2), "status": inv.status,
        "paymentmethod": inv.paymentmethod, "notes": inv.notes, "period": inv.period or "",
        "created_at": wdatetime(inv.created_at), "updated_at": wdatetime(inv.updated_at),
        "currencycode": cur.code, "currencyprefix": cur.prefix, "currencysuffix": cur.suffix,
    }


@action("GetInvoice")
def get_invoice(ctx: ActionContext) -> dict[str, Any]:
    data = InvoiceIdSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    txns = [{"id": sid(t.id), "userid": sid(t.client_id), "currency": "0", "gateway": t.gateway,
             "date": wdatetime(t.date), "description": "Invoice Payment", "amountin": money(t.amount_in),
             "fees": money(t.fees), "amountout": "0.00", "rate": "1.00000", "transid": t.transid,
             "invoiceid": sid(inv.id), "refundid": "0"} for t in inv.transactions]
    return {
        "invoiceid": sid(inv.id), "invoicenum": inv.invoicenum, "userid": sid(inv.client_id),
        "date": wdate(inv.date), "duedate": wdate(inv.duedate), "datepaid": wdatetime(inv.datepaid),
        "lastcaptureattempt": "0000-00-00 00:00:00", "subtotal": money(inv.subtotal),
        "credit": money(inv.credit), "tax": money(inv.tax), "tax2": money(inv.tax2), "total": money(inv.total),
        "balance": money(invoices.balance(ctx.session, inv)), "taxrate": rate(inv.taxrate),
        "taxrate2": rate(inv.taxrate2), "status": inv.status, "paymentmethod": inv.paymentmethod,
        "notes": inv.notes, "ccgateway": False, "period": inv.period or "",
        "currencycode": inv.currency.code,
        "items": {"item": [
            {"id": sid(it.id), "type": it.type, "relid": sid(it.relid), "description": it.description,
             "amount": money(it.amount), "taxed": "1" if it.taxed else "0",
             "tax": money(it.tax_amount), "tax2": money(it.tax2_amount)} for it in inv.items]},
        "transactions": {"transaction": txns} if txns else "",
    }


@action("GetInvoices")
def get_invoices(ctx: ActionContext) -> dict[str, Any]:
    data = GetInvoicesSchema.load_params(ctx.params)
    page = invoices.search(ctx.session, start=data["limitstart"], limit=data["limitnum"], client_id=data["userid"],
                           status=data["status"], today=ctx.today, orderby=data["orderby"],
                           descending=data["order"].lower() == "desc")
    return {"totalresults": str(page.total), "startnumber": str(data["limitstart"]),
            "numreturned": str(len(page.items)),
            "invoices": {"invoice": [_invoice_row(ctx, inv) for inv in page.items]}}


def _parse_datetime(value: str, message: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValidationFailed(message)


def _array(params: dict[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name, {})
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if not isinstance(value, dict):
        raise ValidationFailed(f"Malformed array parameter {name}")
    return value


@action("UpdateInvoice")
def update_invoice(ctx: ActionContext) -> dict[str, Any]:
    data = UpdateInvoiceSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    params = dict(ctx.params)
    desc, amt, taxed = (_array(params, n) for n in ("itemdescription", "itemamount", "itemtaxed"))
    if not (set(desc) == set(amt) == set(taxed)):
        raise ValidationFailed("Missing Variables: itemdescription, itemamount and itemtaxed are required "
                               "for each item being changed")
    edits: dict[int, dict[str, Any]] = {}
    for key in desc:
        if not key.isdigit():
            raise ValidationFailed("Malformed array parameter itemdescription")
        edits[int(key)] = {"description": str(desc[key]), "amount": _decimal(amt[key], f"Invalid amount for item {key}"),
                           "taxed": _taxed(taxed[key])}
    ndesc, namt, ntaxed = (_array(params, n) for n in ("newitemdescription", "newitemamount", "newitemtaxed"))
    new_items = []
    for key in ndesc:
        if key not in namt:
            raise ValidationFailed("Missing Variables: newitemamount is required for each new item")
        new_items.append({"description": str(ndesc[key]),
                          "amount": _decimal(namt[key], f"Invalid amount for new item {key}"),
                          "taxed": _taxed(ntaxed.get(key))})
    delete_raw = params.get("deletelineids", [])
    if isinstance(delete_raw, str):
        delete_raw = [delete_raw] if delete_raw else []
    if isinstance(delete_raw, dict):
        delete_raw = list(delete_raw.values())
    try:
        delete_ids = [int(x) for x in delete_raw]
    except (TypeError, ValueError):
        raise ValidationFailed("Malformed array parameter deletelineids") from None
    changes = {k: data[k] for k in ("status", "paymentmethod", "taxrate", "taxrate2", "credit", "date", "duedate",
                                    "notes")}
    if data["datepaid"]:
        changes["datepaid"] = _parse_datetime(data["datepaid"], "Invalid datepaid format")
    invoices.update_invoice(ctx.session, inv, changes, edit_items=edits, new_items=new_items,
                            delete_ids=delete_ids, publish=data["publish"] or data["publishandsendemail"],
                            actor=ctx.actor)
    return {"invoiceid": sid(inv.id)}


@action("AddInvoicePayment")
def add_invoice_payment(ctx: ActionContext) -> dict[str, Any]:
    data = AddPaymentSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    when = _parse_datetime(data["date"], "Invalid date format") if data["date"] else datetime.now(UTC)
    invoices.add_payment(ctx.session, inv, transid=data["transid"], gateway=data["gateway"], when=when,
                         amount=data["amount"], fees=data["fees"], actor=ctx.actor)
    return {}


def client_stats(ctx: ActionContext, client: Client) -> dict[str, Any]:
    """GetClientsDetails ``stats``: invoice counts and sums by status."""
    from sqlalchemy import select

    # Summed in Python: SQL SUM over Numeric is float arithmetic on SQLite.
    by: dict[str, tuple[int, Decimal]] = {}
    for status, total in ctx.session.execute(select(Invoice.status, Invoice.total)
                                             .where(Invoice.client_id == client.id)):
        count, amount = by.get(status, (0, Decimal(0)))
        by[status] = (count + 1, amount + Decimal(total))
    key = {"Unpaid": "unpaid", "Paid": "paid", "Cancelled": "cancelled", "Refunded": "refunded",
           "Draft": "draft", "Collections": "collections", "Payment Pending": "paymentpending"}
    stats: dict[str, Any] = {}
    for status, name in key.items():
        count, total = by.get(status, (0, 0))
        stats[f"num{name}invoices"] = str(count)
        stats[f"{name}invoicesamount"] = money(total)
    stats["creditbalance"] = money(client.credit)
    return stats


