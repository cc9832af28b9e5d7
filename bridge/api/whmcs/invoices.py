"""Invoice and payment actions: CreateInvoice, GetInvoice, GetInvoices, UpdateInvoice,
AddInvoicePayment, ApplyCredit, GetTransactions, AddTransaction, GetPaymentMethods,
AddBillableItem; and GetClientsDetails' ``stats``.

Value types follow WHMCS 8's documented example answers (tests/data/whmcs_answer_shapes.json).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bridge.api.whmcs.params import MAX_MONEY, bridged, money, rate, sid, wdate, wdatetime
from bridge.api.whmcs.registry import ActionContext, action
from bridge.errors import NotFound, ValidationFailed
from bridge.models import BillableItem, Client, Currency, Invoice, Transaction
from bridge.services import invoices
from bridge.services.money import check_ceiling
from contracts import whmcs_requests as req
from contracts.whmcs_requests import parse_decimal, parse_int

_LINE = re.compile(r"^(itemdescription|itemamount|itemtaxed)([0-9]+)\Z")  # ASCII digits only

# The parameters are defined once, in contracts.whmcs_requests (and documented in bridge.json);
# invoice lines and PHP arrays are documented there and checked below.
CreateInvoiceSchema = bridged(req.CreateInvoiceSchema)
InvoiceIdSchema = bridged(req.InvoiceIdSchema)
GetInvoicesSchema = bridged(req.GetInvoicesSchema)
UpdateInvoiceSchema = bridged(req.UpdateInvoiceSchema)
AddPaymentSchema = bridged(req.AddPaymentSchema)
ApplyCreditSchema = bridged(req.ApplyCreditSchema)
GetTransactionsSchema = bridged(req.GetTransactionsSchema)
AddTransactionSchema = bridged(req.AddTransactionSchema)
AddBillableItemSchema = bridged(req.AddBillableItemSchema)


def _decimal(value: Any, message: str) -> Decimal:
    result = parse_decimal(value)  # ASCII digits only: no "١", "1_0" or "1e3"
    if result is None or abs(result) > MAX_MONEY:
        raise ValidationFailed(message)
    return result


def _taxed(value: Any) -> bool:
    if isinstance(value, str):
        value = value.strip().lower()  # PHP reads "True" and "ON" as true too
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
                if parse_int(k) is None or k.startswith("-"):
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
        "id": inv.id, "userid": inv.client_id, "firstname": c.firstname, "lastname": c.lastname,
        "companyname": c.companyname, "invoicenum": inv.invoicenum, "date": wdate(inv.date),
        "duedate": wdate(inv.duedate), "datepaid": wdatetime(inv.datepaid),
        "last_capture_attempt": "0000-00-00 00:00:00",
        "date_refunded": wdatetime(inv.updated_at if inv.status == "Refunded" else None),
        "date_cancelled": wdatetime(inv.updated_at if inv.status == "Cancelled" else None),
        "subtotal": money(inv.subtotal),
        "credit": money(inv.credit), "tax": money(inv.tax), "tax2": money(inv.tax2), "total": money(inv.total),
        "taxrate": rate(inv.taxrate), "taxrate2": rate(inv.taxrate2), "status": inv.status,
        "paymentmethod": inv.paymentmethod, "paymethodid": None, "notes": inv.notes, "period": inv.period or "",
        "created_at": wdatetime(inv.created_at), "updated_at": wdatetime(inv.updated_at),
        "currencycode": cur.code, "currencyprefix": cur.prefix, "currencysuffix": cur.suffix,
    }


def transaction_row(t: Transaction) -> dict[str, Any]:
    """One transaction as GetTransactions and GetInvoice list it (all strings, as documented)."""
    return {"id": sid(t.id), "userid": sid(t.client_id), "currency": "0", "gateway": t.gateway,
            "date": wdatetime(t.date), "description": t.description, "amountin": money(t.amount_in),
            "fees": money(t.fees), "amountout": money(t.amount_out), "rate": rate(t.rate, 5),
            "transid": t.transid, "invoiceid": sid(t.invoice_id or 0), "refundid": "0"}


@action("GetInvoice")
def get_invoice(ctx: ActionContext) -> dict[str, Any]:
    data = InvoiceIdSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    txns = [transaction_row(t) for t in inv.transactions]
    return {
        "invoiceid": inv.id, "invoicenum": inv.invoicenum, "userid": inv.client_id,
        "date": wdate(inv.date), "duedate": wdate(inv.duedate), "datepaid": wdatetime(inv.datepaid),
        "lastcaptureattempt": "0000-00-00 00:00:00", "subtotal": money(inv.subtotal),
        "credit": money(inv.credit), "tax": money(inv.tax), "tax2": money(inv.tax2), "total": money(inv.total),
        "balance": money(invoices.balance(ctx.session, inv)), "taxrate": rate(inv.taxrate),
        "taxrate2": rate(inv.taxrate2), "status": inv.status, "paymentmethod": inv.paymentmethod,
        "notes": inv.notes, "ccgateway": False, "period": inv.period or "",
        "currencycode": inv.currency.code,
        "items": {"item": [
            {"id": it.id, "type": it.type, "relid": it.relid, "description": it.description,
             "amount": money(it.amount), "taxed": 1 if it.taxed else 0,
             "tax": money(it.tax_amount), "tax2": money(it.tax2_amount)} for it in inv.items]},
        "transactions": {"transaction": txns} if txns else "",
    }


@action("GetInvoices")
def get_invoices(ctx: ActionContext) -> dict[str, Any]:
    data = GetInvoicesSchema.load_params(ctx.params)
    page = invoices.search(ctx.session, start=data["limitstart"], limit=data["limitnum"], client_id=data["userid"],
                           status=data["status"], today=ctx.today, orderby=data["orderby"],
                           descending=data["order"].lower() == "desc")
    return {"totalresults": page.total, "startnumber": data["limitstart"], "numreturned": len(page.items),
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
        if parse_int(key) is None or key.startswith("-"):
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
    delete_ids = [parse_int(x) for x in delete_raw]
    if any(i is None for i in delete_ids):
        raise ValidationFailed("Malformed array parameter deletelineids")
    changes = {k: data[k] for k in ("status", "paymentmethod", "taxrate", "taxrate2", "credit", "date", "duedate",
                                    "notes")}
    if data["datepaid"]:
        changes["datepaid"] = _parse_datetime(data["datepaid"], "Invalid datepaid format")
    invoices.update_invoice(ctx.session, inv, changes, edit_items=edits, new_items=new_items,
                            delete_ids=[i for i in delete_ids if i is not None], publish=data["publish"] or data["publishandsendemail"],
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
    """GetClientsDetails ``stats``: every key of WHMCS 8's example, amounts in the client's currency.

    Computed from the bridge's invoices, transactions and credit; products count the client's
    SolusVM account as one active "other" product once it is enrolled. Domains, quotes,
    tickets and affiliates do not exist here: their documented zero values.
    """
    from sqlalchemy import select

    from bridge.services.money_format import format_money

    cur = client.currency
    # WHMCS's own layout: prefix and suffix both ("$7.00 USD"), unlike the pages.
    fmt = lambda amount: format_money(amount, cur, currency_once=False)  # noqa: E731 - local shorthand
    # Summed in Python: SQL SUM over Numeric is float arithmetic on SQLite.
    by: dict[str, tuple[int, Decimal, Decimal]] = {}
    overdue = (0, Decimal(0))
    rows = list(ctx.session.scalars(select(Invoice).where(Invoice.client_id == client.id)))
    # Every payment against this client's invoices in one query, not one per open invoice.
    paid: dict[int, Decimal] = {}
    for invoice_id, amount in ctx.session.execute(
            select(Transaction.invoice_id, Transaction.amount_in)
            .join(Invoice, Transaction.invoice_id == Invoice.id).where(Invoice.client_id == client.id)):
        paid[invoice_id] = paid.get(invoice_id, Decimal(0)) + Decimal(amount)
    for inv in rows:
        owed = (invoices.balance(ctx.session, inv, paid=paid.get(inv.id, Decimal(0)))
                if inv.status in ("Unpaid", "Draft") else Decimal(0))
        count, total, due = by.get(inv.status, (0, Decimal(0), Decimal(0)))
        by[inv.status] = (count + 1, total + Decimal(inv.total), due + owed)
        if inv.status == "Unpaid" and inv.duedate < ctx.today:
            overdue = (overdue[0] + 1, overdue[1] + owed)
    gross = fees = out = Decimal(0)
    for t in ctx.session.scalars(select(Transaction).where(Transaction.client_id == client.id)):
        gross += Decimal(t.amount_in)
        fees += Decimal(t.fees)
        out += Decimal(t.amount_out)
    unpaid = by.get("Unpaid", (0, Decimal(0), Decimal(0)))
    draft = by.get("Draft", (0, Decimal(0), Decimal(0)))
    products = 1 if client.solusvm_user_id else 0
    active = products if client.status == "Active" else 0
    stats: dict[str, Any] = {
        "numdueinvoices": unpaid[0], "dueinvoicesbalance": fmt(unpaid[2]),
        "incredit": Decimal(client.credit or 0) > 0, "creditbalance": fmt(client.credit or 0),
        "grossRevenue": fmt(gross), "expenses": fmt(fees + out), "income": fmt(gross - fees - out),
        "numoverdueinvoices": overdue[0], "overdueinvoicesbalance": fmt(overdue[1]),
        "numDraftInvoices": draft[0], "draftInvoicesBalance": fmt(draft[2]),
    }
    key = {"Unpaid": "unpaid", "Paid": "paid", "Cancelled": "cancelled", "Refunded": "refunded",
           "Collections": "collections", "Payment Pending": "paymentpending"}
    for status, name in key.items():
        count, total, due = by.get(status, (0, Decimal(0), Decimal(0)))
        stats[f"num{name}invoices"] = count
        stats[f"{name}invoicesamount"] = fmt(due if status == "Unpaid" else total)
    stats.update({
        "productsnumactivehosting": 0, "productsnumhosting": 0, "productsnumactivereseller": 0,
        "productsnumreseller": 0, "productsnumactiveservers": 0, "productsnumservers": 0,
        "productsnumactiveother": active, "productsnumother": products, "productsnumactive": active,
        "productsnumtotal": products, "numactivedomains": 0, "numdomains": 0, "numacceptedquotes": 0,
        "numquotes": 0, "numtickets": 0, "numactivetickets": 0, "numaffiliatesignups": 0, "isAffiliate": False,
    })
    return stats


@action("ApplyCredit")
def apply_credit(ctx: ActionContext) -> dict[str, Any]:
    data = ApplyCreditSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    applied = invoices.apply_client_credit(ctx.session, inv, data["amount"], actor=ctx.actor)
    return {"invoiceid": sid(inv.id), "amount": money(applied),
            "invoicepaid": "true" if inv.status == "Paid" else "false"}


@action("GetTransactions")
def get_transactions(ctx: ActionContext) -> dict[str, Any]:
    from sqlalchemy import func, select

    data = GetTransactionsSchema.load_params(ctx.params)
    stmt = select(Transaction)
    if data["invoiceid"] is not None:
        stmt = stmt.where(Transaction.invoice_id == data["invoiceid"])
    if data["clientid"] is not None:
        stmt = stmt.where(Transaction.client_id == data["clientid"])
    if data["transid"]:
        stmt = stmt.where(Transaction.transid == data["transid"])
    total = ctx.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(ctx.session.scalars(stmt.order_by(Transaction.id).offset(data["limitstart"])
                                    .limit(data["limitnum"])))
    return {"totalresults": total, "startnumber": data["limitstart"], "numreturned": len(rows),
            "transactions": {"transaction": [transaction_row(t) for t in rows]}}


def _transaction_date(value: str | None, today: Any) -> datetime:
    if not value:
        return datetime.now(UTC)
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValidationFailed("Invalid date format")


@action("AddTransaction")
def add_transaction(ctx: ActionContext) -> dict[str, Any]:
    """A transaction: with ``invoiceid`` it is a payment of that invoice (same rules as
    AddInvoicePayment); with ``credit`` its amount goes to the client's credit."""
    from bridge.services import clients

    data = AddTransactionSchema.load_params(ctx.params)
    client = clients.get(ctx.session, data["userid"]) if data["userid"] is not None else None
    inv = invoices.get(ctx.session, data["invoiceid"]) if data["invoiceid"] is not None else None
    if inv is not None and client is not None and inv.client_id != client.id:
        raise ValidationFailed("User ID does not own the given Invoice ID")
    if data["currencyid"] is not None:
        if ctx.session.get(Currency, data["currencyid"]) is None:
            raise NotFound("Currency ID Not Found")
        owner = client or (inv.client if inv is not None else None)
        if owner is not None and owner.currency_id != data["currencyid"]:
            raise ValidationFailed("Currency ID does not match Client currency")
    if client is None and inv is None:
        raise ValidationFailed("A Currency ID is required for non-customer related transactions"
                               if data["currencyid"] is None else
                               "Transactions without a client are not kept by the bridge: give userid")
    if data["credit"] and inv is not None:
        raise ValidationFailed("Invoice ID must not be given when the payment is added to credit")
    when = _transaction_date(data["date"], ctx.today)
    description = data["description"] or ("Invoice Payment" if inv is not None else "Transaction")
    if not data["allowduplicatetransid"]:
        invoices.check_transid(ctx.session, data["paymentmethod"], data["transid"])
    if inv is not None:
        if data["amountout"] or data["amountin"] <= 0:
            raise ValidationFailed("A payment of an invoice needs a positive amountin and no amountout")
        invoices.add_payment(ctx.session, inv, transid=data["transid"], gateway=data["paymentmethod"],
                             when=when, amount=data["amountin"], fees=max(data["fees"], Decimal(0)),
                             actor=ctx.actor, description=description, check_duplicate=False)
        return {}
    assert client is not None
    if data["amountin"] <= 0 and data["amountout"] <= 0:
        raise ValidationFailed("Amount in or amount out is required")
    check_ceiling(data["amountin"], "Amount in")
    check_ceiling(data["amountout"], "Amount out")
    check_ceiling(data["fees"], "Fees")
    txn = Transaction(client_id=client.id, gateway=data["paymentmethod"], transid=data["transid"], date=when,
                      amount_in=data["amountin"], fees=data["fees"], amount_out=data["amountout"],
                      rate=data["rate"], description=description)
    ctx.session.add(txn)
    ctx.session.flush()
    if data["credit"] and data["amountin"] > 0:
        clients.add_credit(ctx.session, client, data["amountin"], f"Credit from transaction {txn.id}",
                           remove=False, actor=ctx.actor)
    return {}


def payment_methods(text: str) -> list[tuple[str, str]]:
    """``PAYMENT_METHODS``: ``module=Display Name`` pairs, comma-separated."""
    out = []
    for part in text.split(","):
        module, _, name = part.partition("=")
        if module.strip():
            out.append((module.strip(), name.strip() or module.strip()))
    return out


@action("GetPaymentMethods")
def get_payment_methods(ctx: ActionContext) -> dict[str, Any]:
    methods = payment_methods(ctx.settings.payment_methods)
    return {"totalresults": len(methods), "paymentmethods": {"paymentmethod": [
        {"module": module, "displayname": name} for module, name in methods]}}


@action("AddBillableItem")
def add_billable_item(ctx: ActionContext) -> dict[str, Any]:
    """Record a billable item. ``invoiceaction=duedate``/``nextinvoice``/``nextcron`` put it on a
    new Unpaid invoice at once (due on ``duedate`` or today): the bridge has no cron queue for
    them; ``noinvoice`` and ``recur`` keep it for an operator."""
    data = AddBillableItemSchema.load_params(ctx.params)
    if ctx.session.get(Client, data["clientid"]) is None:
        raise NotFound("Client ID not Found")
    if data["unit"] not in ("hours", "quantity"):
        raise ValidationFailed("Invalid Unit, please specify either 'hours' or 'quantity'")
    action_ = data["invoiceaction"]
    if action_ == "recur" and not (data["recur"] and data["recurcycle"] and data["recurfor"]):
        raise ValidationFailed("Recurring must have a unit, cycle and limit")
    if action_ in ("duedate", "recur") and data["duedate"] is None:
        raise ValidationFailed("Due date is required")
    check_ceiling(data["amount"], "Amount")
    item = BillableItem(client_id=data["clientid"], description=data["description"], amount=data["amount"],
                        unit=data["unit"], quantity=data["quantity"], invoiceaction=action_,
                        duedate=data["duedate"], recur=data["recur"], recurcycle=data["recurcycle"],
                        recurfor=data["recurfor"])
    ctx.session.add(item)
    ctx.session.flush()
    if action_ in ("duedate", "nextinvoice", "nextcron"):
        due = data["duedate"] or ctx.today
        inv = invoices.create_invoice(
            ctx.session, data["clientid"], [{"description": data["description"], "amount": data["amount"],
                                             "taxed": False, "type": "Item", "relid": item.id}],
            date=ctx.today, duedate=due, actor=ctx.actor)
        item.invoice_id = inv.id
    return {"billableid": item.id}
