"""Append-only audit trail: the hash chain's seals, existing entries sealed, and on PostgreSQL a trigger that
refuses UPDATE and DELETE of the audit tables.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-30 15:30:00
"""

import sqlalchemy as sa
from alembic import op

from openidds.clinic.audit_chain import seal

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_FUNCTION = "openidds_audit_append_only"
_TABLES = ("audit_log", "audit_chain")


def upgrade() -> None:
    op.create_table("audit_chain",
                    sa.Column("entry_id", sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column("hash", sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_chain")))
    seal(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END $$""")
        for table in _TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION {_FUNCTION}()")
    op.drop_table("audit_chain")
