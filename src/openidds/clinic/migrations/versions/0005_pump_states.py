"""Each implant's pump as the programmer keeps it (the state file's content, versioned), and the therapy
changes proposed for it that wait for a clinician's confirmation.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("pump_states",
                    sa.Column("implant_id", sa.Integer(), nullable=False),
                    sa.Column("state", sa.Text(), nullable=False),
                    sa.Column("updated_at", sa.DateTime(), nullable=False),
                    sa.Column("updated_by", sa.String(length=120), nullable=False),
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    sa.ForeignKeyConstraint(["implant_id"], ["implants.id"],
                                            name=op.f("fk_pump_states_implant_id_implants"), ondelete="CASCADE"),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_pump_states")),
                    sa.UniqueConstraint("implant_id", name=op.f("uq_pump_states_implant_id")))
    op.create_table("program_proposals",
                    sa.Column("implant_id", sa.Integer(), nullable=False),
                    sa.Column("state_version", sa.Integer(), nullable=False),
                    sa.Column("therapy_order", sa.Text(), nullable=False),
                    sa.Column("proposed_by", sa.String(length=120), nullable=False),
                    sa.Column("proposed_at", sa.DateTime(), nullable=False),
                    sa.Column("status", sa.String(length=20), nullable=False),
                    sa.Column("closed_by", sa.String(length=120), nullable=True),
                    sa.Column("closed_at", sa.DateTime(), nullable=True),
                    sa.Column("closing_note", sa.Text(), nullable=True),
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    sa.ForeignKeyConstraint(["implant_id"], ["implants.id"],
                                            name=op.f("fk_program_proposals_implant_id_implants"),
                                            ondelete="CASCADE"),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_program_proposals")))
    op.create_index("ix_program_proposals_implant_status", "program_proposals", ["implant_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_program_proposals_implant_status", table_name="program_proposals")
    op.drop_table("program_proposals")
    op.drop_table("pump_states")
