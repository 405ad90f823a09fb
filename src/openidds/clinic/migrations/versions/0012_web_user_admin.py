"""Web users administered in the browser: a user can be disabled (``disabled_at``), and each administrative
change (role, unlock, disable, enable) counts a ``version`` so an edit from a stale page is refused.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 22:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("version")
        batch.drop_column("disabled_at")
