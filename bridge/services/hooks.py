"""Extension points for the SolusVM user lifecycle (issue: users).

EXTENSION POINTS, NOT FINISHED FEATURES: in the core they do nothing. The client and
invoice services call them at the right moment INSIDE the same database transaction as the
change, after the change is flushed (so ids exist) and before commit. Raising a
``bridge.errors.BridgeError`` from a hook rolls the whole change back and reaches the API
caller as a WHMCS error. Hooks must not commit; queue remote work (e.g. an outbox row)
rather than calling SolusVM synchronously when that can be avoided.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bridge.models import Client, Invoice


def on_client_created(session: Session, client: Client, actor: str) -> None:
    """Called after a client is inserted (AddClient, sign-up)."""


def on_client_updated(session: Session, client: Client, changes: dict[str, Any], actor: str) -> None:
    """Called after a client changed; ``changes`` maps field -> (old, new)."""


def on_client_closed(session: Session, client: Client, actor: str) -> None:
    """Called after a client's status became Closed (CloseClient)."""


def before_client_delete(session: Session, client: Client, *, delete_servers: bool, actor: str) -> None:
    """Called before a client row is deleted (DeleteClient); WHMCS's PreDeleteClient."""


def on_invoice_paid(session: Session, invoice: Invoice, actor: str) -> None:
    """Called when an invoice becomes Paid (AddInvoicePayment, UpdateInvoice status=Paid)."""
