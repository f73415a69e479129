"""every live HIT holds what the ledger's escrow rule says

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 13:10:00

Versions before the ledger held escrow by another rule, so a HIT retyped to a cheaper type while
work was accepted or submitted may hold less than its slots may still cost. This restates each
live HIT's escrow once (``ledger.restate_escrow``), journaled as ``escrow_restated``, so that no
later worker action or timer ever needs to reserve money. No schema change.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The application's own rule, imported here on purpose: the point is to agree with it.
    from openturk import ledger
    from openturk.store.repository import Repository

    conn = op.get_bind()
    repo = Repository(conn)
    now = int(time.time() * 1000)
    hit_ids = [row[0] for row in conn.execute(sa.text("SELECT hit_id FROM hits WHERE status <> 'Disposed'"))]
    for hit_id in hit_ids:
        hit = repo.hit(hit_id)
        if hit is not None:
            ledger.restate_escrow(repo, hit, now)


def downgrade() -> None:
    # Nothing to undo: the journal rows record what moved and stay valid under the older rule.
    pass
