"""Visits: the coded main reason for dissatisfaction with the therapy.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 15:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dissatisfaction_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("dissatisfaction_reason")
