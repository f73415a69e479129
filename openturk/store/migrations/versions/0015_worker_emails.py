"""NotifyWorkers emails queued with their message and retried (worker_emails)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_emails",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["worker_messages.message_id"], name=op.f("fk_worker_emails_message_id_worker_messages")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_worker_emails")),
    )
    op.create_index("ix_worker_emails_due", "worker_emails", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_worker_emails_due", table_name="worker_emails")
    op.drop_table("worker_emails")
