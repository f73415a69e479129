"""index for the 120-day disposal timer

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_hits_dispose_due", "hits", ["status", "creation_time"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_hits_dispose_due", table_name="hits")
