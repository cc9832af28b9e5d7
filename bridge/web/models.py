"""Tables of the web part: admin accounts and rate-limit counters (migration 0002), log-in sessions
and admin two-factor secrets (migration 0005)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.models import Base, utcnow


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
