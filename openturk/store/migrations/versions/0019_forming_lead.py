"""which dispatcher forms messages and hears commits (PostgreSQL's forming lead)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forming_lead",
        sa.Column("singleton", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("until_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_forming_lead")),
    )


def downgrade() -> None:
    op.drop_table("forming_lead")
