"""Tables of the web part: admin accounts and rate-limit counters (migration 0002)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.models import Base, utcnow


class Admin(Base):
    """An operator who may use ``/admin``; only a werkzeug hash of the password is kept."""

    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RateLimitCounter(Base):
    """Hits of one key (e.g. ``login:ip:1.2.3.4``) in one fixed window.

    Kept in the database, not in process memory, so every gunicorn worker and machine
    counts against the same numbers.
    """

    __tablename__ = "rate_limits"
    __table_args__ = (Index("ix_rate_limits_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer, default=0)
