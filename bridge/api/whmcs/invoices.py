"""Invoice and payment actions: CreateInvoice, GetInvoice, GetInvoices, UpdateInvoice,
AddInvoicePayment, ApplyCredit, GetTransactions, AddTransaction, GetPaymentMethods,
AddBillableItem.

Parameters (invoice lines included) are loaded with the schemas of ``contracts.whmcs_requests``;
answers are dumped with those of ``contracts.whmcs``, whose value types follow WHMCS 8's
documented example answers (tests/data/whmcs_answer_shapes.json).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from bridge.api.whmcs.params import Row, answer, bridged, whmcs_errors
from bridge.api.whmcs.registry import ActionContext, action
from bridge.billing import check_ceiling
from bridge.errors import NotFound, ValidationFailed
from bridge.models import BillableItem, Client, Currency, Invoice, Transaction
from bridge.services import clients, invoices
from contracts import whmcs
from contracts import whmcs_requests as req

# The parameters are defined once, in contracts.whmcs_requests (and documented in bridge.json),
# invoice lines and PHP arrays included.
CreateInvoiceSchema = bridged(req.CreateInvoiceSchema)
InvoiceIdSchema = bridged(req.InvoiceIdSchema)
GetInvoicesSchema = bridged(req.GetInvoicesSchema)
UpdateInvoiceSchema = bridged(req.UpdateInvoiceSchema)
AddPaymentSchema = bridged(req.AddPaymentSchema)
ApplyCreditSchema = bridged(req.ApplyCreditSchema)
GetTransactionsSchema = bridged(req.GetTransactionsSchema)
AddTransactionSchema = bridged(req.AddTransactionSchema)
AddBillableItemSchema = bridged(req.AddBillableItemSchema)


@action("CreateInvoice")
def create_invoice(ctx: ActionContext) -> dict[str, Any]:
    data = CreateInvoiceSchema.load_params(ctx.params)
    if data["draft"] and data["sendinvoice"]:
        raise ValidationFailed("Cannot create and send a draft invoice in a single API request. "
                               "Please create and send separately.")
    if ctx.session.get(Client, data["userid"]) is None:
        raise NotFound("Client ID Not Found")
    with whmcs_errors():
        lines = CreateInvoiceSchema.load_lines(ctx.params)
    day = data["date"] or ctx.today
    inv = invoices.create_invoice(
        ctx.session, data["userid"], lines, date=day, duedate=data["duedate"] or day, actor=ctx.actor,
        status="Draft" if data["draft"] else data["status"], notes=data["notes"],
        paymentmethod=data["paymentmethod"], taxrate=data["taxrate"], taxrate2=data["taxrate2"],
        autoapplycredit=data["autoapplycredit"])
    return answer(whmcs.CreateInvoiceResponseSchema, {"invoiceid": inv.id, "status": inv.status})


def _invoice_row(inv: Invoice) -> Row:
    """An invoice as GetInvoices lists it: the row, with when it was refunded or cancelled."""
    return Row(inv, date_refunded=inv.updated_at if inv.status == "Refunded" else None,
               date_cancelled=inv.updated_at if inv.status == "Cancelled" else None)


@action("GetInvoice")
def get_invoice(ctx: ActionContext) -> dict[str, Any]:
    data = InvoiceIdSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    return answer(whmcs.GetInvoiceResponseSchema, Row(inv, balance=invoices.balance(ctx.session, inv)))


@action("GetInvoices")
def get_invoices(ctx: ActionContext) -> dict[str, Any]:
    data = GetInvoicesSchema.load_params(ctx.params)
    page = invoices.search(ctx.session, start=data["limitstart"], limit=data["limitnum"], client_id=data["userid"],
                           status=data["status"], today=ctx.today, orderby=data["orderby"],
                           descending=data["order"].lower() == "desc")
    return answer(whmcs.GetInvoicesResponseSchema, {
        "totalresults": page.total, "startnumber": data["limitstart"], "numreturned": len(page.items),
        "invoices": [_invoice_row(inv) for inv in page.items]})


@action("UpdateInvoice")
def update_invoice(ctx: ActionContext) -> dict[str, Any]:
    data = UpdateInvoiceSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    with whmcs_errors():
        edits = UpdateInvoiceSchema.load_edits(ctx.params)
        new_items = UpdateInvoiceSchema.load_new_lines(ctx.params)
        delete_ids = UpdateInvoiceSchema.load_deletions(ctx.params)
    changes = {k: data[k] for k in ("status", "paymentmethod", "taxrate", "taxrate2", "credit", "date", "duedate",
                                    "notes")}
    datepaid = UpdateInvoiceSchema.load_later(ctx.params, "datepaid")["datepaid"]
    if datepaid is not None:
        changes["datepaid"] = datepaid
    invoices.update_invoice(ctx.session, inv, changes, edit_items=edits, new_items=new_items,
                            delete_ids=delete_ids, publish=data["publish"] or data["publishandsendemail"],
                            actor=ctx.actor)
    return answer(whmcs.InvoiceIdResponseSchema, {"invoiceid": inv.id})


@action("AddInvoicePayment")
def add_invoice_payment(ctx: ActionContext) -> dict[str, Any]:
    data = AddPaymentSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    when = AddPaymentSchema.load_later(ctx.params, "date")["date"] or datetime.now(UTC)
    invoices.add_payment(ctx.session, inv, transid=data["transid"], gateway=data["gateway"], when=when,
                         amount=data["amount"], fees=data["fees"], actor=ctx.actor)
    return {}


@action("ApplyCredit")
def apply_credit(ctx: ActionContext) -> dict[str, Any]:
    data = ApplyCreditSchema.load_params(ctx.params)
    inv = invoices.get(ctx.session, data["invoiceid"])
    applied = invoices.apply_client_credit(ctx.session, inv, data["amount"], actor=ctx.actor)
    return answer(whmcs.ApplyCreditResponseSchema, {"invoiceid": inv.id, "amount": applied,
                                                     "invoicepaid": inv.status == "Paid"})


@action("GetTransactions")
def get_transactions(ctx: ActionContext) -> dict[str, Any]:
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
    return answer(whmcs.GetTransactionsResponseSchema, {
        "totalresults": total, "startnumber": data["limitstart"], "numreturned": len(rows), "transactions": rows})


@action("AddTransaction")
def add_transaction(ctx: ActionContext) -> dict[str, Any]:
    """A transaction: with ``invoiceid`` it is a payment of that invoice (same rules as
    AddInvoicePayment); with ``credit`` its amount goes to the client's credit."""
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
    when = AddTransactionSchema.load_later(ctx.params, "date")["date"] or datetime.now(UTC)
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
    return answer(whmcs.GetPaymentMethodsResponseSchema, {"totalresults": len(methods), "paymentmethods": [
        {"module": module, "displayname": name} for module, name in methods]})


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
    return answer(whmcs.AddBillableItemResponseSchema, {"billableid": item.id})
