"""review policy results and actions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_items",
        sa.Column("item_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hit_id", sa.String(length=64), nullable=False),
        sa.Column("policy_level", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["hit_id"], ["hits.hit_id"], name=op.f("fk_review_items_hit_id_hits")),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_review_items")),
    )
    op.create_index("ix_review_items_hit", "review_items", ["hit_id", "item_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_review_items_hit", table_name="review_items")
    op.drop_table("review_items")
