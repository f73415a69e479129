"""Delete the uploaded files of HITs already disposed (disposal now deletes them)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 20:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "After the HIT is disposed, any uploaded files are deleted, and cannot be retrieved"
    # (GetFileUploadURL): files kept by a disposal before this revision go now.
    op.execute(
        "DELETE FROM uploaded_files WHERE assignment_id IN ("
        "SELECT a.assignment_id FROM assignments a JOIN hits h ON h.hit_id = a.hit_id WHERE h.status = 'Disposed')"
    )


def downgrade() -> None:
    pass  # deleted files cannot come back; the schema is unchanged
