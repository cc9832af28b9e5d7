"""solusvm_holds: a table for the SolusVM status holds (were JSON in settings "solusvm:<client id>")

Revision ID: 0003
Revises: 0002

Upgrade creates the table and moves every ``settings`` row keyed ``solusvm:<digits>`` into
it, then deletes those rows. A value that is not a JSON object counted as "no holds" before
and still does; a row of a client that no longer exists is dropped (the foreign key would
refuse it, and it meant nothing). Downgrade writes the rows back as JSON settings.
"""
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PREFIX = "solusvm:"
STATUS_FIELDS = ("admin", "overdue", "overdue_waived", "queued_status")
TEXT_FIELDS = ("admin_reason", "overdue_reason")
FIELDS = ("admin", "admin_reason", "overdue", "overdue_reason", "overdue_waived", "queued_status")
STATUSES = ("active", "locked", "suspended")
CHUNK = 500

settings = sa.table("settings", sa.column("key", sa.String(100)), sa.column("value", sa.Text()))
clients = sa.table("clients", sa.column("id", sa.Integer()))
holds = sa.table(
    "solusvm_holds",
    sa.column("client_id", sa.Integer()),
    *(sa.column(name, sa.String(16)) for name in STATUS_FIELDS),
    *(sa.column(name, sa.Text()) for name in TEXT_FIELDS),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _from_json(text: str | None) -> dict:
    """The typed columns of one legacy JSON value (unknown keys and bad values dropped)."""
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    row = {}
    for name in STATUS_FIELDS:
        if value.get(name) in STATUSES:
            row[name] = value[name]
    for name in TEXT_FIELDS:
        if isinstance(value.get(name), str):
            row[name] = value[name]
    return row


def upgrade() -> None:
    op.create_table(
        "solusvm_holds",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("admin", sa.String(length=16), nullable=True),
        sa.Column("admin_reason", sa.Text(), nullable=True),
        sa.Column("overdue", sa.String(length=16), nullable=True),
        sa.Column("overdue_reason", sa.Text(), nullable=True),
        sa.Column("overdue_waived", sa.String(length=16), nullable=True),
        sa.Column("queued_status", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_solusvm_holds_client_id_clients"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_solusvm_holds")),
    )
    if context.is_offline_mode():
        raise RuntimeError("0003 moves rows from settings to solusvm_holds and needs a database connection; "
                           "run it online (solus-bridge init-db)")
    bind = op.get_bind()
    legacy = bind.execute(sa.select(settings.c.key, settings.c.value)
                          .where(settings.c.key.like(f"{PREFIX}%"))).all()
    moved: dict[int, dict] = {}
    keys: list[str] = []
    for key, value in legacy:
        suffix = key[len(PREFIX):]
        if not suffix.isdigit():
            continue  # not a holds row: leave it alone
        keys.append(key)
        row = _from_json(value)
        if row:
            moved[int(suffix)] = row
    existing: set[int] = set()
    for ids in _chunks(sorted(moved)):
        existing.update(bind.execute(sa.select(clients.c.id).where(clients.c.id.in_(ids))).scalars())
    now = datetime.now(UTC)
    rows = [{"client_id": cid, **{name: None for name in FIELDS}, **row, "updated_at": now}
            for cid, row in sorted(moved.items()) if cid in existing]
    if rows:
        op.bulk_insert(holds, rows)
    for batch in _chunks(keys):
        bind.execute(settings.delete().where(settings.c.key.in_(batch)))


def downgrade() -> None:
    if context.is_offline_mode():
        raise RuntimeError("0003's downgrade moves rows back to settings and needs a database connection")
    bind = op.get_bind()
    rows = bind.execute(sa.select(holds.c.client_id, *(holds.c[name] for name in FIELDS))).all()
    values = []
    for row in rows:
        data = {name: getattr(row, name) for name in FIELDS if getattr(row, name) is not None}
        if data:
            values.append({"key": f"{PREFIX}{row.client_id}", "value": json.dumps(data, sort_keys=True)})
    for batch in _chunks([v["key"] for v in values]):
        bind.execute(settings.delete().where(settings.c.key.in_(batch)))
    if values:
        op.bulk_insert(settings, values)
    op.drop_table("solusvm_holds")
