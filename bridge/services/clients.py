"""Client records: create, read, update, close, delete, list (WHMCS semantics).

Functions add to the caller's session and flush; the caller commits once, so a failure
anywhere leaves nothing half-written. Each change is audited and calls the matching hook
in ``bridge.services.hooks`` inside the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from bridge import billing
from bridge.db import lock_row
from bridge.errors import Conflict, NotFound, ValidationFailed
from bridge.models import Client, ClientGroup, CreditLog, Currency, Invoice, utcnow
from bridge.services import audit, hooks
from contracts.whmcs_requests import CLIENT_STATUSES, CLIENT_TEXT

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STATUSES = CLIENT_STATUSES  # one list, shared with the WHMCS request schemas
# werkzeug's default (scrypt). Tests lower the cost through this name; production keeps it.
PASSWORD_METHOD = "scrypt"


def hash_password(password: str) -> str:
    """A salted werkzeug hash of a client password."""
    return generate_password_hash(password, method=PASSWORD_METHOD)


PROFILE_FIELDS = ("firstname", "lastname", "companyname", "email", "address1", "address2", "city", "state",
                  "postcode", "country", "phonenumber", "tax_id", "language", "notes")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> bool:
    return bool(EMAIL_RE.match(email.strip()))


def get(session: Session, client_id: int, message: str = "Client ID Not Found") -> Client:
    """A client by id or NotFound(message)."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(message)
    return client


def get_by_email(session: Session, email: str) -> Client | None:
    return session.scalar(select(Client).where(Client.email_normalized == normalize_email(email)))


def _currency_id(session: Session, currency_id: int | None) -> int:
    if currency_id is None:
        cur = session.scalar(select(Currency.id).where(Currency.is_default.is_(True)))
        if cur is None:
            cur = session.scalar(select(Currency.id).order_by(Currency.id))
        if cur is None:
            raise ValidationFailed("No currency is configured; run solus-bridge init-db")
        return cur
    if session.get(Currency, currency_id) is None:
        raise ValidationFailed("Invalid Currency ID")
    return currency_id


def _group_id(session: Session, group_id: int | None) -> int | None:
    if not group_id:
        return None
    if session.get(ClientGroup, group_id) is None:
        raise ValidationFailed("Invalid Client Group ID")
    return group_id


def _no_nul(data: Mapping[str, Any]) -> None:
    # PostgreSQL text cannot hold NUL; every caller (API, sign-up form, CLI) gets the same refusal.
    for key, value in data.items():
        if isinstance(value, str) and "\x00" in value:
            raise ValidationFailed(f"Invalid characters in parameter {key}")


def _check_lengths(data: Mapping[str, Any]) -> None:
    # The API's schemas check these already; the sign-up form, the admin pages and the CLI
    # come through here too, and PostgreSQL would refuse an over-long value with a 500.
    for key, limit in CLIENT_TEXT.items():
        value = data.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise ValidationFailed(f"The value of {key} is too long (at most {limit} characters)")


def create(session: Session, data: Mapping[str, Any], *, actor: str) -> Client:
    """Create a client from validated fields (AddClient).

    ``owner_user_id``: an existing client whose login owns the new client (else "Invalid
    Owner User ID"); without it the new client has its own login and needs ``password2``.
    """
    _no_nul(data)
    _check_lengths(data)
    owner_id = data.get("owner_user_id")
    if owner_id is not None and session.get(Client, owner_id) is None:
        raise ValidationFailed("Invalid Owner User ID")
    email = data["email"].strip()
    if get_by_email(session, email) is not None:
        raise Conflict("A user already exists with that email address")
    client = Client(
        email=email,
        email_normalized=normalize_email(email),
        currency_id=_currency_id(session, data.get("currency")),
        group_id=_group_id(session, data.get("groupid")),
        tax_exempt=bool(data.get("taxexempt", False)),
        status=data.get("status", "Active"),
        email_verified=bool(data.get("email_verified", False)),
        password_hash=hash_password(data["password2"]) if data.get("password2") else "",
        owner_user_id=owner_id,
    )
    for f in PROFILE_FIELDS:
        if f != "email":
            setattr(client, f, data.get(f, "") or "")
    client.country = client.country.upper()
    session.add(client)
    try:
        session.flush()
    except IntegrityError:
        # Lost a race with a concurrent insert of the same e-mail.
        raise Conflict("A user already exists with that email address") from None
    audit.record(session, actor, "client.create", "client", client.id, {"email": email})
    hooks.on_client_created(session, client, actor)
    return client


def update(session: Session, client: Client, data: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
    """Apply validated changes (UpdateClient); returns field -> (old, new)."""
    _no_nul(data)
    _check_lengths(data)
    changes: dict[str, Any] = {}

    def put(attr: str, value: Any) -> None:
        old = getattr(client, attr)
        if old != value:
            changes[attr] = (old, value)
            setattr(client, attr, value)

    if "email" in data and data["email"] is not None:
        email = data["email"].strip()
        other = get_by_email(session, email)
        if other is not None and other.id != client.id:
            raise Conflict("Duplicate Email Address")
        put("email", email)
        put("email_normalized", normalize_email(email))
    for f in PROFILE_FIELDS:
        if f != "email" and data.get(f) is not None:
            put(f, data[f].upper() if f == "country" else data[f])
    if data.get("currency") is not None:
        put("currency_id", _currency_id(session, data["currency"]))
    if "groupid" in data and data["groupid"] is not None:
        put("group_id", _group_id(session, data["groupid"]))
    if data.get("taxexempt") is not None:
        put("tax_exempt", bool(data["taxexempt"]))
    if data.get("status") is not None:
        put("status", data["status"])
    if data.get("email_verified") is not None:
        put("email_verified", bool(data["email_verified"]))
    if data.get("password2"):
        client.password_hash = hash_password(data["password2"])
        changes["password"] = ("***", "***")
    if changes:
        client.updated_at = utcnow()
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("Duplicate Email Address") from None
        audit.record(session, actor, "client.update", "client", client.id,
                     {k: ("***" if k == "password" else v) for k, v in changes.items()})
        hooks.on_client_updated(session, client, changes, actor)
    return changes


def close(session: Session, client: Client, *, actor: str) -> None:
    """Close a client and cancel its unpaid invoices (CloseClient)."""
    old = client.status
    client.status = "Closed"
    for inv in session.scalars(select(Invoice).where(Invoice.client_id == client.id,
                                                     Invoice.status.in_(("Unpaid", "Draft", "Payment Pending")))):
        inv.status = "Cancelled"
        inv.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "client.close", "client", client.id, {"old_status": old})
    hooks.on_client_closed(session, client, actor)


def delete(session: Session, client: Client, *, delete_servers: bool = True, actor: str) -> None:
    """Delete a client and its records (DeleteClient)."""
    hooks.before_client_delete(session, client, delete_servers=delete_servers, actor=actor)
    cid = client.id
    audit.record(session, actor, "client.delete", "client", cid, {"email": client.email})
    session.delete(client)
    session.flush()


def add_credit(session: Session, client: Client, amount: Decimal, description: str, *, remove: bool,
               actor: str, invoice_id: int | None = None) -> Decimal:
    """Add or remove credit (AddCredit); returns the new balance.

    A balance beyond ``billing.MONEY_CEILING`` is refused (ValidationFailed) before anything changes.
    """
    if amount <= 0:
        raise ValidationFailed("No Amount Provided")
    lock_row(session, client)  # two AddCredit calls at once must both count
    if remove and amount > (client.credit or Decimal(0)):
        raise ValidationFailed("Insufficient Credit Balance")
    delta = -amount if remove else amount
    new_balance = (client.credit or Decimal(0)) + delta
    if new_balance > billing.MONEY_CEILING:
        raise ValidationFailed(f"Credit balance would exceed the maximum of {billing.MONEY_CEILING}")
    client.credit = new_balance
    session.add(CreditLog(client_id=client.id, description=description, amount=delta, invoice_id=invoice_id))
    session.flush()
    audit.record(session, actor, "client.credit", "client", client.id,
                 {"amount": delta, "description": description})
    return client.credit


@dataclass(frozen=True)
class Page:
    total: int
    items: list[Client]


ORDER_FIELDS = {"id": Client.id, "firstname": Client.firstname, "lastname": Client.lastname,
                "companyname": Client.companyname, "email": Client.email, "groupid": Client.group_id,
                "datecreated": Client.datecreated, "status": Client.status}


def search(session: Session, *, start: int = 0, limit: int = 25, status: str | None = None,
           text: str | None = None, orderby: str = "id", descending: bool = False) -> Page:
    """List clients (GetClients): prefix search on e-mail, first, last and full name, company."""
    stmt = select(Client)
    if status:
        stmt = stmt.where(Client.status == status)
    if text:
        like = (text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%").lower()
        fullname = func.lower(Client.firstname + " " + Client.lastname)
        stmt = stmt.where(or_(Client.email_normalized.like(like, escape="\\"),
                              func.lower(Client.firstname).like(like, escape="\\"),
                              func.lower(Client.lastname).like(like, escape="\\"),
                              fullname.like(like, escape="\\"),
                              func.lower(Client.companyname).like(like, escape="\\")))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    col = ORDER_FIELDS.get(orderby, Client.id)
    stmt = stmt.order_by(col.desc() if descending else col.asc(), Client.id).offset(start).limit(limit)
    return Page(total, list(session.scalars(stmt)))
