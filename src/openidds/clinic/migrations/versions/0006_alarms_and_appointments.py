"""The clinic's alarm record (one row per distinct alarm, with its priority, state and who acted when), booked
refill appointments, and each web user's secret calendar-feed token.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _versioned(table: str, *columns: sa.Column, constraints: tuple[sa.Constraint, ...] = ()) -> None:
    op.create_table(table,
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    *columns,
                    sa.ForeignKeyConstraint(["implant_id"], ["implants.id"],
                                            name=op.f(f"fk_{table}_implant_id_implants"), ondelete="CASCADE"),
                    sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
                    *constraints)


def upgrade() -> None:
    _versioned("clinic_alarms",
               sa.Column("implant_id", sa.Integer(), nullable=False),
               sa.Column("kind", sa.String(length=60), nullable=False),
               sa.Column("raised_at", sa.DateTime(), nullable=False),
               sa.Column("severity", sa.String(length=20), nullable=False),
               sa.Column("priority", sa.String(length=10), nullable=False),
               sa.Column("source", sa.String(length=20), nullable=False),
               sa.Column("detail", sa.Text(), nullable=True),
               sa.Column("state", sa.String(length=20), nullable=False),
               sa.Column("acknowledged_by", sa.String(length=120), nullable=True),
               sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
               sa.Column("assigned_to", sa.String(length=120), nullable=True),
               sa.Column("assigned_by", sa.String(length=120), nullable=True),
               sa.Column("assigned_at", sa.DateTime(), nullable=True),
               sa.Column("resolved_by", sa.String(length=120), nullable=True),
               sa.Column("resolved_at", sa.DateTime(), nullable=True),
               sa.Column("resolution", sa.String(length=30), nullable=True),
               sa.Column("resolution_note", sa.Text(), nullable=True),
               constraints=(sa.UniqueConstraint("implant_id", "kind", "raised_at",
                                                name=op.f("uq_clinic_alarms_implant_id")),))
    op.create_index("ix_clinic_alarms_state", "clinic_alarms", ["state"])
    _versioned("refill_appointments",
               sa.Column("implant_id", sa.Integer(), nullable=False),
               sa.Column("starts_at", sa.DateTime(), nullable=False),
               sa.Column("duration_minutes", sa.Integer(), nullable=False),
               sa.Column("place", sa.String(length=10), nullable=False),
               sa.Column("clinician", sa.String(length=120), nullable=False),
               sa.Column("booked_by", sa.String(length=120), nullable=False),
               sa.Column("booked_at", sa.DateTime(), nullable=False),
               sa.Column("cancelled_by", sa.String(length=120), nullable=True),
               sa.Column("cancelled_at", sa.DateTime(), nullable=True))
    op.create_index(op.f("ix_refill_appointments_implant_id"), "refill_appointments", ["implant_id"])
    op.create_index("ix_refill_appointments_starts_at", "refill_appointments", ["starts_at"])
    op.create_index("ix_refill_appointments_clinician", "refill_appointments", ["clinician"])
    op.create_table("web_calendar_feeds",
                    sa.Column("user_id", sa.Integer(), nullable=False),
                    sa.Column("token", sa.String(length=64), nullable=False),
                    sa.Column("created_at", sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(["user_id"], ["web_users.id"],
                                            name=op.f("fk_web_calendar_feeds_user_id_web_users"), ondelete="CASCADE"),
                    sa.PrimaryKeyConstraint("user_id", name=op.f("pk_web_calendar_feeds")),
                    sa.UniqueConstraint("token", name=op.f("uq_web_calendar_feeds_token")))


def downgrade() -> None:
    op.drop_table("web_calendar_feeds")
    op.drop_index("ix_refill_appointments_clinician", table_name="refill_appointments")
    op.drop_index("ix_refill_appointments_starts_at", table_name="refill_appointments")
    op.drop_index(op.f("ix_refill_appointments_implant_id"), table_name="refill_appointments")
    op.drop_table("refill_appointments")
    op.drop_index("ix_clinic_alarms_state", table_name="clinic_alarms")
    op.drop_table("clinic_alarms")
