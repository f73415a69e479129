"""worker profiles (Locale, Adult, Masters) and qualification test starts

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_profiles",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("subdivision", sa.String(length=3), nullable=True),
        sa.Column("adult", sa.Boolean(), nullable=False),
        sa.Column("masters_granted_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.worker_id"], name=op.f("fk_worker_profiles_worker_id_workers")
        ),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_profiles")),
    )
    op.create_table(
        "qualification_test_starts",
        sa.Column("qualification_type_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["qualification_type_id"],
            ["qualification_types.qualification_type_id"],
            name=op.f("fk_qualification_test_starts_qualification_type_id_qualification_types"),
        ),
        sa.PrimaryKeyConstraint("qualification_type_id", "worker_id", name=op.f("pk_qualification_test_starts")),
    )


def downgrade() -> None:
    op.drop_table("qualification_test_starts")
    op.drop_table("worker_profiles")
