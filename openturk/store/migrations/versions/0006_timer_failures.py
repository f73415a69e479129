"""timer items that failed, with their backoff

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timer_failures",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.BigInteger(), nullable=False),
        sa.Column("first_failed_at", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "item_id", name=op.f("pk_timer_failures")),
    )
    op.create_index("ix_timer_failures_retry", "timer_failures", ["retry_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_timer_failures_retry", table_name="timer_failures")
    op.drop_table("timer_failures")
