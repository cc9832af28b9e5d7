"""used_tokens: spent single-use tokens (WHMCS CreateSsoToken), one row per (purpose, nonce)

Revision ID: 0004
Revises: 0003

The primary key makes single use atomic: the transaction that consumes a token inserts its
row, and a second use (even a concurrent one) cannot. ``used_at`` is indexed so the rows
older than a day can be deleted cheaply on each insert. Nothing to move: tokens issued
before this revision were checked against the audit log and live 60 seconds.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_tokens",
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("purpose", "nonce", name=op.f("pk_used_tokens")),
    )
    op.create_index(op.f("ix_used_tokens_used_at"), "used_tokens", ["used_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_used_tokens_used_at"), table_name="used_tokens")
    op.drop_table("used_tokens")
