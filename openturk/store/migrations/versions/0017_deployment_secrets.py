"""Keys shared by every process of a deployment (deployment_secrets)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty: the first server to start makes the key (an upgraded database stays empty for db copy).
    op.create_table(
        "deployment_secrets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployment_secrets")),
    )


def downgrade() -> None:
    op.drop_table("deployment_secrets")
