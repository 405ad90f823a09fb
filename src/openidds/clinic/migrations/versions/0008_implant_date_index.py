"""An index on the implants' date: the follow-ups due select the patients whose first implant falls in a few date
ranges (the Today page at 10,000 patients).

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-30 18:45:00
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_implants_implant_date"), "implants", ["implant_date"])


def downgrade() -> None:
    op.drop_index(op.f("ix_implants_implant_date"), table_name="implants")
