"""WHMCS fidelity: client owners, transaction details, billable items

Revision ID: 0006
Revises: 0005

- ``clients.owner_user_id``: AddClient's ``owner_user_id`` (the client whose login owns this
  client); NULL means the client owns itself, as every client written before this revision.
- ``transactions.description`` / ``amount_out`` / ``rate``: what AddTransaction records and
  GetTransactions lists; existing rows are invoice payments ("Invoice Payment", 0, 1).
- ``billable_items``: AddBillableItem's records, invoiced by hand or by CreateInvoice.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key: on SQLite adding one rebuilds the table, and dropping the old ``clients``
    # would cascade-delete every invoice. A dangling owner reads as "owns itself".
    op.add_column("clients", sa.Column("owner_user_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_clients_owner_user_id"), "clients", ["owner_user_id"], unique=False)
    op.add_column("transactions", sa.Column("description", sa.String(length=255), nullable=False,
                                            server_default="Invoice Payment"))
    op.add_column("transactions", sa.Column("amount_out", sa.Numeric(precision=16, scale=2), nullable=False,
                                            server_default="0"))
    op.add_column("transactions", sa.Column("rate", sa.Numeric(precision=16, scale=5), nullable=False,
                                            server_default="1"))
    op.create_table(
        "billable_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("invoiceaction", sa.String(length=16), nullable=False),
        sa.Column("duedate", sa.Date(), nullable=True),
        sa.Column("recur", sa.Integer(), nullable=False),
        sa.Column("recurcycle", sa.String(length=16), nullable=False),
        sa.Column("recurfor", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_billable_items_client_id_clients"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"],
                                name=op.f("fk_billable_items_invoice_id_invoices"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billable_items")),
    )
    op.create_index(op.f("ix_billable_items_client_id"), "billable_items", ["client_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_billable_items_client_id"), table_name="billable_items")
    op.drop_table("billable_items")
    # Plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch rebuild would drop and recreate
    # ``clients``, and on SQLite dropping it cascades to every invoice and hold.
    for column in ("rate", "amount_out", "description"):
        op.execute(f"ALTER TABLE transactions DROP COLUMN {column}")
    op.drop_index(op.f("ix_clients_owner_user_id"), table_name="clients")
    op.execute("ALTER TABLE clients DROP COLUMN owner_user_id")
