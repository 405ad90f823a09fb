"""The web app's report builds: one row per build of the study report, its state and heartbeat, so every server
worker sees the same state and a build whose process ended is reported, not left running.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("report_jobs",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("requested_by", sa.String(length=120), nullable=False),
                    sa.Column("requested_at", sa.DateTime(), nullable=False),
                    sa.Column("state", sa.String(length=10), nullable=False),
                    sa.Column("runner", sa.String(length=255), nullable=True),
                    sa.Column("started_at", sa.DateTime(), nullable=True),
                    sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
                    sa.Column("finished_at", sa.DateTime(), nullable=True),
                    sa.Column("dataset_sha256", sa.String(length=64), nullable=True),
                    sa.Column("error", sa.Text(), nullable=True),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_report_jobs")))
    op.create_index(op.f("ix_report_jobs_state"), "report_jobs", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_jobs_state"), table_name="report_jobs")
    op.drop_table("report_jobs")
