"""Alarm escalation: each alarm's escalation state, the transactional outbox of its notifications, its log, and
the web app's alarm board messages.

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-30 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("escalations",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    sa.Column("alarm_id", sa.Integer(), nullable=False),
                    sa.Column("alarm_kind", sa.String(length=60), nullable=False),
                    sa.Column("priority", sa.String(length=10), nullable=False),
                    sa.Column("raised_at", sa.DateTime(), nullable=False),
                    sa.Column("phase", sa.String(length=20), nullable=False),
                    sa.Column("tier", sa.Integer(), nullable=False),
                    sa.Column("due_at", sa.DateTime(), nullable=True),
                    sa.Column("deliveries", sa.Text(), nullable=False),
                    sa.Column("patient_contacts", sa.Text(), nullable=False),
                    sa.Column("patient_due_at", sa.DateTime(), nullable=True),
                    sa.Column("acknowledged_by", sa.String(length=120), nullable=True),
                    sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
                    sa.Column("closed_at", sa.DateTime(), nullable=True),
                    sa.Column("closed_reason", sa.Text(), nullable=True),
                    sa.Column("next_due_at", sa.DateTime(), nullable=True),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
                    sa.UniqueConstraint("alarm_id", name=op.f("uq_escalations_alarm_id")))
    op.create_index(op.f("ix_escalations_next_due_at"), "escalations", ["next_due_at"])
    op.create_table("escalation_outbox",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    sa.Column("idempotency_key", sa.String(length=255), nullable=False),
                    sa.Column("alarm_id", sa.Integer(), nullable=False),
                    sa.Column("tier", sa.Integer(), nullable=False),
                    sa.Column("audience", sa.String(length=10), nullable=False),
                    sa.Column("recipient", sa.String(length=120), nullable=False),
                    sa.Column("channel", sa.String(length=10), nullable=False),
                    sa.Column("address", sa.String(length=255), nullable=False),
                    sa.Column("priority", sa.String(length=10), nullable=False),
                    sa.Column("subject", sa.Text(), nullable=False),
                    sa.Column("body", sa.Text(), nullable=False),
                    sa.Column("created_at", sa.DateTime(), nullable=False),
                    sa.Column("status", sa.String(length=10), nullable=False),
                    sa.Column("attempts", sa.Integer(), nullable=False),
                    sa.Column("claimed_until", sa.DateTime(), nullable=True),
                    sa.Column("sent_at", sa.DateTime(), nullable=True),
                    sa.Column("last_error", sa.Text(), nullable=True),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_outbox")),
                    sa.UniqueConstraint("idempotency_key", name=op.f("uq_escalation_outbox_idempotency_key")))
    op.create_index(op.f("ix_escalation_outbox_alarm_id"), "escalation_outbox", ["alarm_id"])
    op.create_index("ix_escalation_outbox_status", "escalation_outbox", ["status", "claimed_until"])
    op.create_table("escalation_log",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("alarm_id", sa.Integer(), nullable=False),
                    sa.Column("at", sa.DateTime(), nullable=False),
                    sa.Column("kind", sa.String(length=20), nullable=False),
                    sa.Column("reason", sa.Text(), nullable=False),
                    sa.Column("who", sa.String(length=120), nullable=True),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_log")))
    op.create_index(op.f("ix_escalation_log_alarm_id"), "escalation_log", ["alarm_id"])
    op.create_table("board_messages",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    sa.Column("idempotency_key", sa.String(length=255), nullable=False),
                    sa.Column("user_name", sa.String(length=120), nullable=False),
                    sa.Column("alarm_id", sa.Integer(), nullable=False),
                    sa.Column("subject", sa.Text(), nullable=False),
                    sa.Column("body", sa.Text(), nullable=False),
                    sa.Column("created_at", sa.DateTime(), nullable=False),
                    sa.Column("read_at", sa.DateTime(), nullable=True),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_board_messages")),
                    sa.UniqueConstraint("idempotency_key", name=op.f("uq_board_messages_idempotency_key")))
    op.create_index("ix_board_messages_unread", "board_messages", ["user_name", "read_at"])


def downgrade() -> None:
    op.drop_index("ix_board_messages_unread", table_name="board_messages")
    op.drop_table("board_messages")
    op.drop_index(op.f("ix_escalation_log_alarm_id"), table_name="escalation_log")
    op.drop_table("escalation_log")
    op.drop_index("ix_escalation_outbox_status", table_name="escalation_outbox")
    op.drop_index(op.f("ix_escalation_outbox_alarm_id"), table_name="escalation_outbox")
    op.drop_table("escalation_outbox")
    op.drop_index(op.f("ix_escalations_next_due_at"), table_name="escalations")
    op.drop_table("escalations")
