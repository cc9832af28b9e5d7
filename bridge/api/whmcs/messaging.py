"""SendEmail: the bridge's invoice mails (by WHMCS template name) or a custom message.

Templates (``messagename``, ``id`` = the invoice id): "Invoice Created", "Invoice Payment
Confirmation" and the three overdue notices. A custom message (``customtype`` general with
the client id, or invoice with the invoice id) needs ``customsubject`` and ``custommessage``
(HTML; a plain-text copy is sent alongside). The mail goes out at once (SMTP, or the outbox
folder when no mail server is configured); a failure is "Sending Failed. Please see
documentation." and nothing else changes.
"""

from __future__ import annotations

import html
import re
from typing import Any

from bridge.api.whmcs.params import bridged
from bridge.api.whmcs.registry import ActionContext, action
from bridge.billing import format_money
from bridge.errors import NotFound, ValidationFailed
from bridge.models import Client, Invoice
from bridge.services import audit, invoices
from bridge.services.mailer import Mailer, MailError
from contracts import whmcs_requests as req

SendEmailSchema = bridged(req.SendEmailSchema)
CUSTOM_TYPES = ("general", "product", "domain", "invoice", "support", "affiliate")
_TAG = re.compile(r"<[^>]+>")

_OVERDUE = {"First Invoice Overdue Notice": "first", "Second Invoice Overdue Notice": "second",
            "Third Invoice Overdue Notice": "third"}


def _template(name: str, inv: Invoice, owed: Any, system_url: str) -> tuple[str, str]:
    """(subject, text) of one of the bridge's invoice templates."""
    c = inv.client
    cur = inv.currency
    amount = lambda d: format_money(d, cur)  # noqa: E731 - local shorthand; the client area's layout
    link = f"{system_url.rstrip('/')}/clientarea/invoices"
    hello = f"Dear {c.firstname or c.email},"
    if name == "Invoice Created":
        return (f"Customer Invoice #{inv.id}",
                f"{hello}\n\nInvoice #{inv.id} of {inv.date} for {amount(inv.total)} was created; "
                f"it is due on {inv.duedate}.\n\nView and pay it at {link}\n")
    if name == "Invoice Payment Confirmation":
        return (f"Invoice Payment Confirmation #{inv.id}",
                f"{hello}\n\nthank you: we received your payment for invoice #{inv.id}. "
                f"Still owed: {amount(owed)}.\n\n{link}\n")
    which = _OVERDUE[name]
    return (f"{which.capitalize()} Overdue Notice - Invoice #{inv.id}",
            f"{hello}\n\nthis is the {which} notice that invoice #{inv.id}, due on {inv.duedate}, "
            f"is unpaid. Amount owed: {amount(owed)}.\n\nPlease pay it at {link}\n")


@action("SendEmail")
def send_email(ctx: ActionContext) -> dict[str, Any]:
    data = SendEmailSchema.load_params(ctx.params)
    name, custom = data["messagename"], data["customtype"]
    if not name and not custom:
        raise ValidationFailed("You must provide either an existing email template name or a custom message type")
    if data["id"] is None:
        raise ValidationFailed("A related ID is required")
    system_url = ctx.settings.system_url
    html_body: str | None = None
    if name:
        if name not in req.EMAIL_TEMPLATES:
            raise NotFound("Email Template not found")
        inv = invoices.get(ctx.session, data["id"])
        subject, text = _template(name, inv, invoices.balance(ctx.session, inv), system_url)
        client = inv.client
    else:
        if custom not in CUSTOM_TYPES:
            raise ValidationFailed("Invalid message type provided")
        if custom not in ("general", "invoice"):
            raise ValidationFailed("Invalid message type provided")  # no products/domains/tickets here
        if not data["customsubject"]:
            raise ValidationFailed("A subject is required for a custom message")
        if not data["custommessage"]:
            raise ValidationFailed("A message body is required for a custom message")
        if custom == "general":
            found = ctx.session.get(Client, data["id"])
            if found is None:
                raise NotFound("Client ID Not Found")
            client = found
        else:
            client = invoices.get(ctx.session, data["id"]).client
        subject, html_body = data["customsubject"], data["custommessage"]
        text = html.unescape(_TAG.sub("", html_body))
    mailer = Mailer(ctx.settings.mail)
    try:
        mailer.send(client.email, subject, text, html_body)
    except MailError:
        raise ValidationFailed("Sending Failed. Please see documentation.") from None
    audit.record(ctx.session, ctx.actor, "email.sent", "client", client.id,
                 {"template": name or f"custom:{custom}", "related_id": data["id"]})
    return {}
