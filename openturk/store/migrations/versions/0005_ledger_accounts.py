"""Ledger rows name the accounts money moved between

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 12:00:00

Rows written before this revision were signed amounts against the balance: a credit
(starting_balance) came from outside, every other row was a payment. Escrow movements were not
journaled then, so the running totals stay the source of truth for old requesters.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_account", sa.String(length=16), nullable=False, server_default="available"))
        batch_op.add_column(sa.Column("to_account", sa.String(length=16), nullable=False, server_default="paid"))
        batch_op.add_column(sa.Column("hit_id", sa.String(length=64), nullable=True))
    op.execute("UPDATE ledger SET from_account = 'outside', to_account = 'available' WHERE kind = 'starting_balance'")
    op.execute("UPDATE ledger SET amount_cents = -amount_cents WHERE amount_cents < 0")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.alter_column("from_account", server_default=None)
        batch_op.alter_column("to_account", server_default=None)


def downgrade() -> None:
    op.execute("UPDATE ledger SET amount_cents = -amount_cents WHERE to_account = 'paid'")
    op.execute("DELETE FROM ledger WHERE to_account = 'held' OR (from_account = 'held' AND to_account = 'available')")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_column("hit_id")
        batch_op.drop_column("to_account")
        batch_op.drop_column("from_account")
