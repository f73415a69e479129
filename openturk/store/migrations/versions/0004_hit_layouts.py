"""HIT layouts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 15:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hit_layouts",
        sa.Column("hit_layout_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("frame_height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["requesters.customer_id"]),
        sa.PrimaryKeyConstraint("hit_layout_id"),
    )
    op.create_index(op.f("ix_hit_layouts_customer_id"), "hit_layouts", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hit_layouts_customer_id"), table_name="hit_layouts")
    op.drop_table("hit_layouts")
