"""requesters' qualification types, workers' qualifications and qualification requests

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qualification_types",
        sa.Column("qualification_type_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("keywords", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("retry_delay_s", sa.BigInteger(), nullable=True),
        sa.Column("test", sa.Text(), nullable=True),
        sa.Column("answer_key", sa.Text(), nullable=True),
        sa.Column("test_duration_s", sa.BigInteger(), nullable=True),
        sa.Column("auto_granted", sa.Boolean(), nullable=False),
        sa.Column("auto_granted_value", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["requesters.customer_id"],
            name=op.f("fk_qualification_types_customer_id_requesters"),
        ),
        sa.PrimaryKeyConstraint("qualification_type_id", name=op.f("pk_qualification_types")),
        sa.UniqueConstraint("customer_id", "name_key", name="uq_qualification_types_name"),
    )
    op.create_index(
        "ix_qualification_types_customer",
        "qualification_types",
        ["customer_id", "created_at", "qualification_type_id"],
        unique=False,
    )
    op.create_table(
        "qualifications",
        sa.Column("qualification_type_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("integer_value", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("grant_time", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["qualification_type_id"],
            ["qualification_types.qualification_type_id"],
            name=op.f("fk_qualifications_qualification_type_id_qualification_types"),
        ),
        sa.PrimaryKeyConstraint("qualification_type_id", "worker_id", name=op.f("pk_qualifications")),
    )
    op.create_index("ix_qualifications_worker", "qualifications", ["worker_id", "status"], unique=False)
    op.create_table(
        "qualification_requests",
        sa.Column("qualification_request_id", sa.String(length=64), nullable=False),
        sa.Column("qualification_type_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("test", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("submit_time", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["qualification_type_id"],
            ["qualification_types.qualification_type_id"],
            name=op.f("fk_qualification_requests_qualification_type_id_qualification_types"),
        ),
        sa.PrimaryKeyConstraint("qualification_request_id", name=op.f("pk_qualification_requests")),
    )
    op.create_index(
        "ix_qualification_requests_customer",
        "qualification_requests",
        ["customer_id", "status", "submit_time"],
        unique=False,
    )
    op.create_index(
        "ix_qualification_requests_worker",
        "qualification_requests",
        ["qualification_type_id", "worker_id", "submit_time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_qualification_requests_worker", table_name="qualification_requests")
    op.drop_index("ix_qualification_requests_customer", table_name="qualification_requests")
    op.drop_table("qualification_requests")
    op.drop_index("ix_qualifications_worker", table_name="qualifications")
    op.drop_table("qualifications")
    op.drop_index("ix_qualification_types_customer", table_name="qualification_types")
    op.drop_table("qualification_types")
