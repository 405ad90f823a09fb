"""The clinic's escalation policy in the registry: its versions (each edit or installed file is the next one, the
highest is current), and the version each escalation runs under.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 20:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("escalation_policies",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    sa.Column("number", sa.Integer(), nullable=False),
                    sa.Column("policy", sa.Text(), nullable=False),
                    sa.Column("installed_at", sa.DateTime(), nullable=False),
                    sa.Column("installed_by", sa.String(length=120), nullable=False),
                    sa.Column("source", sa.String(length=255), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_policies")),
                    sa.UniqueConstraint("number", name=op.f("uq_escalation_policies_number")))
    with op.batch_alter_table("escalations") as batch:
        batch.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_escalations_policy_version_escalation_policies"), "escalation_policies",
                                 ["policy_version"], ["number"])


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch:
        batch.drop_constraint(op.f("fk_escalations_policy_version_escalation_policies"), type_="foreignkey")
        batch.drop_column("policy_version")
    op.drop_table("escalation_policies")
