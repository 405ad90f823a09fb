"""The clinic's settings (one row): its time zone, in which the web app shows times and reads the times staff type.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 23:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("clinic_settings",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    sa.Column("time_zone", sa.String(length=64), nullable=False),
                    sa.Column("changed_at", sa.DateTime(), nullable=False),
                    sa.Column("changed_by", sa.String(length=120), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_settings")))


def downgrade() -> None:
    op.drop_table("clinic_settings")
