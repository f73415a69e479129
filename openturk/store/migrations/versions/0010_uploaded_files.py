"""uploaded files of FileUploadAnswer questions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 13:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploaded_files",
        sa.Column("file_key", sa.String(length=64), nullable=False),
        sa.Column("assignment_id", sa.String(length=64), nullable=False),
        sa.Column("question_identifier", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"], ["assignments.assignment_id"], name=op.f("fk_uploaded_files_assignment_id_assignments")
        ),
        sa.PrimaryKeyConstraint("file_key", name=op.f("pk_uploaded_files")),
    )
    op.create_index("ix_uploaded_files_assignment", "uploaded_files", ["assignment_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_uploaded_files_assignment", table_name="uploaded_files")
    op.drop_table("uploaded_files")
