"""The bridge's data model (SQLAlchemy 2 declarative), as fixed in docs/internals.md.

Money columns are ``Numeric`` and come back as ``Decimal``; tokens are integers. The schema
itself is created by the Alembic migrations in ``bridge/migrations``, never by
``create_all`` in production, so every change here needs a new revision.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_mod
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# One definition of each text length, shared with the WHMCS request schemas.
from contracts.whmcs_requests import BILLABLE_TEXT, CLIENT_TEXT, PAYMENT_TEXT

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now in UTC (stored naive-UTC on SQLite, tz-aware on PostgreSQL)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


#: Decimal places of every stored amount. A currency with more (e.g. KWD's 3) cannot be
#: invoiced: the bridge refuses it rather than round a third decimal away on PostgreSQL.
MONEY_SCALE = 2
Money = Numeric(16, MONEY_SCALE, asdecimal=True)


class Currency(Base):
    __tablename__ = "currencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), default="")
    suffix: Mapped[str] = mapped_column(String(16), default="")
    format: Mapped[int] = mapped_column(Integer, default=1)
    rate: Mapped[Decimal] = mapped_column(Numeric(16, 5), default=Decimal("1"))
    decimals: Mapped[int] = mapped_column(Integer, default=2)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    token_price: Mapped[TokenPrice | None] = relationship(back_populates="currency", uselist=False)


class TokenPrice(Base):
    __tablename__ = "token_prices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id", ondelete="CASCADE"), unique=True)
    price_per_token: Mapped[Decimal] = mapped_column(Numeric(20, 10))

    currency: Mapped[Currency] = relationship(back_populates="token_price")


class ClientGroup(Base):
    __tablename__ = "client_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    colour: Mapped[str] = mapped_column(String(20), default="")
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    susp_term_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    separate_invoices: Mapped[bool] = mapped_column(Boolean, default=False)


class TaxRule(Base):
    __tablename__ = "tax_rules"
    __table_args__ = (UniqueConstraint("level", "country", "state", name="uq_tax_rules_level_country_state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="")
    state: Mapped[str] = mapped_column(String(100), default="")
    rate: Mapped[Decimal] = mapped_column(Numeric(10, 3))


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    firstname: Mapped[str] = mapped_column(String(CLIENT_TEXT["firstname"]))
    lastname: Mapped[str] = mapped_column(String(CLIENT_TEXT["lastname"]))
    companyname: Mapped[str] = mapped_column(String(CLIENT_TEXT["companyname"]), default="")
    email: Mapped[str] = mapped_column(String(CLIENT_TEXT["email"]))
    # Lower-cased copy: unique on every backend, so ANN@x and ann@x cannot both exist.
    email_normalized: Mapped[str] = mapped_column(String(CLIENT_TEXT["email"]), unique=True)
    address1: Mapped[str] = mapped_column(String(CLIENT_TEXT["address1"]), default="")
    address2: Mapped[str] = mapped_column(String(CLIENT_TEXT["address2"]), default="")
    city: Mapped[str] = mapped_column(String(CLIENT_TEXT["city"]), default="")
    state: Mapped[str] = mapped_column(String(CLIENT_TEXT["state"]), default="")
    postcode: Mapped[str] = mapped_column(String(CLIENT_TEXT["postcode"]), default="")
    country: Mapped[str] = mapped_column(String(CLIENT_TEXT["country"]), default="")
    phonenumber: Mapped[str] = mapped_column(String(CLIENT_TEXT["phonenumber"]), default="")
    tax_id: Mapped[str] = mapped_column(String(CLIENT_TEXT["tax_id"]), default="")
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("client_groups.id", ondelete="SET NULL"), nullable=True)
    tax_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(CLIENT_TEXT["status"]), default="Active")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    credit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    language: Mapped[str] = mapped_column(String(CLIENT_TEXT["language"]), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    datecreated: Mapped[date] = mapped_column(Date, default=lambda: utcnow().date())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    solusvm_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # AddClient owner_user_id: the client whose login owns this one (NULL, or a client since
    # deleted: its own login). No foreign key; see migration 0006.
    owner_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    terms_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    postpay_terms_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    currency: Mapped[Currency] = relationship()
    group: Mapped[ClientGroup | None] = relationship()


class Invoice(Base):
    __tablename__ = "invoices"
    # One invoice per client and billing month; NULL periods (manual invoices) never collide.
    __table_args__ = (UniqueConstraint("client_id", "period", name="uq_invoices_client_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    invoicenum: Mapped[str] = mapped_column(String(PAYMENT_TEXT["invoicenum"]), default="")
    # dt.date: the column is named ``date`` (WHMCS), which shadows the type inside the class body
    date: Mapped[dt.date] = mapped_column(Date)
    duedate: Mapped[dt.date] = mapped_column(Date)
    datepaid: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="Unpaid", index=True)
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    currency_id: Mapped[int] = mapped_column(ForeignKey("currencies.id"))
    subtotal: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    credit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    tax: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    tax2: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    taxrate: Mapped[Decimal] = mapped_column(Numeric(10, 3), default=Decimal("0"))
    taxrate2: Mapped[Decimal] = mapped_column(Numeric(10, 3), default=Decimal("0"))
    paymentmethod: Mapped[str] = mapped_column(String(PAYMENT_TEXT["paymentmethod"]), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    client: Mapped[Client] = relationship()
    currency: Mapped[Currency] = relationship()
    items: Mapped[list[InvoiceItem]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceItem.id"
    )
    transactions: Mapped[list[Transaction]] = relationship(back_populates="invoice", order_by="Transaction.id")


class InvoiceItem(Base):
    __tablename__ = "invoice_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32), default="")
    relid: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    taxed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Usage facts written by the monthly invoicing run (empty for manual lines).
    server_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    server_name: Mapped[str] = mapped_column(String(200), default="")
    plan_name: Mapped[str] = mapped_column(String(200), default="")
    hours: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    price_mode: Mapped[str] = mapped_column(String(16), default="")
    kind: Mapped[str] = mapped_column(String(16), default="")
    tax_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    tax2_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))

    invoice: Mapped[Invoice] = relationship(back_populates="items")


class Transaction(Base):
    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), index=True)
    gateway: Mapped[str] = mapped_column(String(PAYMENT_TEXT["gateway"]), default="")
    transid: Mapped[str] = mapped_column(String(PAYMENT_TEXT["transid"]), default="")
    date: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    amount_in: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    fees: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    description: Mapped[str] = mapped_column(String(PAYMENT_TEXT["description"]), default="Invoice Payment",
                                             server_default="Invoice Payment")
    amount_out: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    rate: Mapped[Decimal] = mapped_column(Numeric(16, 5), default=Decimal("1"), server_default="1")

    invoice: Mapped[Invoice | None] = relationship(back_populates="transactions")


class CreditLog(Base):
    __tablename__ = "credit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    date: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    description: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), nullable=True)


class BillableItem(Base):
    """AddBillableItem: a charge to invoice later (``invoice_id`` once it is on an invoice)."""

    __tablename__ = "billable_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(String(BILLABLE_TEXT["description"]))
    amount: Mapped[Decimal] = mapped_column(Money)
    unit: Mapped[str] = mapped_column(String(BILLABLE_TEXT["unit"]))
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=Decimal("0"))
    invoiceaction: Mapped[str] = mapped_column(String(BILLABLE_TEXT["invoiceaction"]), default="noinvoice")
    duedate: Mapped[date | None] = mapped_column(Date, nullable=True)
    recur: Mapped[int] = mapped_column(Integer, default=0)
    recurcycle: Mapped[str] = mapped_column(String(BILLABLE_TEXT["recurcycle"]), default="")
    recurfor: Mapped[int] = mapped_column(Integer, default=0)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiCredential(Base):
    __tablename__ = "api_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    # digests of the secret and of its MD5 (legacy mode); see bridge/services/credentials.py
    secret_hash: Mapped[str] = mapped_column(Text)
    allowed_ips: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), nullable=True, index=True)
    solusvm_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SolusVMHold(Base):
    """A client's SolusVM status holds (see ``bridge.services.provisioning``); no row = no hold.

    Status columns hold ``active``/``locked``/``suspended`` or NULL.
    """

    __tablename__ = "solusvm_holds"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    admin: Mapped[str | None] = mapped_column(String(16), nullable=True)
    admin_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    overdue: Mapped[str | None] = mapped_column(String(16), nullable=True)
    overdue_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    overdue_waived: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # the last status queued for SolusVM, so an unchanged desired status queues nothing
    queued_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class UsedToken(Base):
    """A spent single-use token (``bridge.services.sso_tokens``). The primary key is the single-use
    rule: a second use of the same ``(purpose, nonce)`` cannot insert its row. Rows older than a
    day are deleted when a new one is written (tokens live 60 s)."""

    __tablename__ = "used_tokens"

    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class InvoiceRun(Base):
    __tablename__ = "invoice_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --- accounts of the web part: admins, rate-limit counters (migration 0002), log-in sessions and
# admin two-factor secrets (migration 0005)


class Admin(Base):
    """An operator who may use ``/admin``; only a werkzeug hash of the password is kept."""

    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # A werkzeug hash of md5(password) as lowercase hex, for the WHMCS API's username + MD5
    # log-in; NULL when the password was set before migration 0007 (set it again to get one).
    api_md5_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # TOTP (RFC 6238) two-factor log-in: the base32 secret, on once a code from it was confirmed.
    totp_secret: Mapped[str] = mapped_column(String(64), default="")
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)  # a code works once


class WebSession(Base):
    """One logged-in browser (client or admin). The signed cookie carries a random token; the
    row, keyed by that token's SHA-256, is what makes the session valid, so deleting the row
    ends the session on the server (log-out, an admin ending it, password reset, close, lock)
    whatever copy of the cookie exists. Times are epoch seconds: the same on every backend.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_account", "kind", "account_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    kind: Mapped[str] = mapped_column(String(8))  # "client" or "admin"
    account_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(Integer)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class RateLimitCounter(Base):
    """Hits of one key (e.g. ``login:ip:1.2.3.4``) in one fixed window.

    Kept in the database, not in process memory, so every worker process and machine
    counts against the same numbers.
    """

    __tablename__ = "rate_limits"
    __table_args__ = (Index("ix_rate_limits_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer, default=0)
