"""an index of bonuses by worker, for the worker's dashboard

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bonus_worker", "bonus_payments", ["worker_id", "grant_time"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_bonus_worker", table_name="bonus_payments")
