"""worker blocks, the worker message inbox, and an optional worker email

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 13:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workers", sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "worker_blocks",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["requesters.customer_id"], name=op.f("fk_worker_blocks_customer_id_requesters")
        ),
        sa.PrimaryKeyConstraint("customer_id", "worker_id", name=op.f("pk_worker_blocks")),
    )
    op.create_index("ix_worker_blocks_worker", "worker_blocks", ["worker_id"], unique=False)
    op.create_table(
        "worker_messages",
        sa.Column("message_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_text", sa.Text(), nullable=False),
        sa.Column("sent_time", sa.BigInteger(), nullable=False),
        sa.Column("emailed_at", sa.BigInteger(), nullable=True),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["requesters.customer_id"], name=op.f("fk_worker_messages_customer_id_requesters")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_worker_messages")),
    )
    op.create_index("ix_worker_messages_worker", "worker_messages", ["worker_id", "message_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_worker_messages_worker", table_name="worker_messages")
    op.drop_table("worker_messages")
    op.drop_index("ix_worker_blocks_worker", table_name="worker_blocks")
    op.drop_table("worker_blocks")
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("email")
