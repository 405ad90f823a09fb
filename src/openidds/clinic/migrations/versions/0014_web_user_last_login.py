"""Each web user's last successful log-in (``last_login_at``, naive UTC; null until their first), shown on the
users page.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 05:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.add_column(sa.Column("last_login_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_users") as batch:
        batch.drop_column("last_login_at")
