"""The web app's users (argon2 password hash, role, failed log-ins, lock-out) and their server-side sessions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 16:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("web_users",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("name", sa.String(length=120), nullable=False),
                    sa.Column("role", sa.String(length=20), nullable=False),
                    sa.Column("password_hash", sa.String(length=255), nullable=False),
                    sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
                    sa.Column("locked_at", sa.DateTime(), nullable=True),
                    sa.Column("created_at", sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_web_users")),
                    sa.UniqueConstraint("name", name=op.f("uq_web_users_name")))
    op.create_table("web_sessions",
                    sa.Column("token_sha256", sa.String(length=64), nullable=False),
                    sa.Column("user_id", sa.Integer(), nullable=False),
                    sa.Column("csrf_token", sa.String(length=64), nullable=False),
                    sa.Column("created_at", sa.DateTime(), nullable=False),
                    sa.Column("expires_at", sa.DateTime(), nullable=False),
                    sa.ForeignKeyConstraint(["user_id"], ["web_users.id"], name=op.f("fk_web_sessions_user_id_web_users"),
                                            ondelete="CASCADE"),
                    sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_web_sessions")))
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("web_users")
