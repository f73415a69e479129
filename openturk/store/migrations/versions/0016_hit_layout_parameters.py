"""A HIT made from a HITLayout keeps its HITLayoutParameters (hits.hit_layout_parameters)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hits", sa.Column("hit_layout_parameters", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hits") as batch:
        batch.drop_column("hit_layout_parameters")
