"""Refills due by drug stability: the refill status holds the stability date of the solution filled, the drug that
sets it, the earlier of the reservoir and stability dates with which one it is, and whether the implant is the pump
in place (indexed with the date). Existing rows are recomputed from the refills, programs, implants and exits.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from openidds.clinic.refill_status import refresh_refill_status

    with op.batch_alter_table("refill_status") as table:
        table.add_column(sa.Column("stability_due", sa.Date(), nullable=True))
        table.add_column(sa.Column("stability_drug", sa.String(length=30), nullable=True))
        table.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        table.add_column(sa.Column("due_reason", sa.String(length=20), nullable=True))
        table.add_column(sa.Column("in_place", sa.Boolean(), nullable=False, server_default=sa.false()))
        table.drop_index(table.f("ix_refill_status_next_refill_due"))
        table.create_index("ix_refill_status_in_place_due_on", ["in_place", "due_on"])
    conn = op.get_bind()
    implants = conn.execute(sa.text("SELECT implant_id FROM refill_status")).scalars().all()
    refresh_refill_status(conn, implants)


def downgrade() -> None:
    with op.batch_alter_table("refill_status") as table:
        table.drop_index("ix_refill_status_in_place_due_on")
        table.create_index(table.f("ix_refill_status_next_refill_due"), ["next_refill_due"])
        for column in ("in_place", "due_reason", "due_on", "stability_drug", "stability_due"):
            table.drop_column(column)
