"""worker log-ins, web sessions and failed log-ins for the web site

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_accounts",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("login", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at", sa.BigInteger(), nullable=True),
        sa.Column("auto_accept_next", sa.Boolean(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.worker_id"], name=op.f("fk_worker_accounts_worker_id_workers")
        ),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_accounts")),
        sa.UniqueConstraint("login", name=op.f("uq_worker_accounts_login")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires_at"], unique=False)
    op.create_index("ix_web_sessions_principal", "web_sessions", ["principal"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("failure_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("login", sa.String(length=254), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("failure_id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_login", "login_failures", ["login", "at"], unique=False)
    op.create_index("ix_login_failures_client", "login_failures", ["client", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_login_failures_client", table_name="login_failures")
    op.drop_index("ix_login_failures_login", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_web_sessions_principal", table_name="web_sessions")
    op.drop_index("ix_web_sessions_expires", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("worker_accounts")
