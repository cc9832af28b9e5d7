"""WHMCS API log-in for admins: a salted hash of md5(password)

Revision ID: 0007
Revises: 0006

- ``admins.api_md5_hash``: a werkzeug hash of the lowercase hex MD5 of the admin's password,
  written when ``admin create`` sets a password. The WHMCS External API accepts ``username``
  + that MD5 (the pre-7.2 mode WHMCS still documents). NULL for admins whose password was set
  before this revision: they cannot use the API that way until their password is set again
  (the plain password is not kept, so nothing can be derived for them).
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: a plain ADD COLUMN on SQLite, no table rebuild.
    op.add_column("admins", sa.Column("api_md5_hash", sa.String(length=255), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35, PostgreSQL) keeps the table and its rows; a batch
    # rebuild would drop and recreate ``admins``.
    op.execute("ALTER TABLE admins DROP COLUMN api_md5_hash")
