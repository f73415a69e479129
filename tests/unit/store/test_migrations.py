"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from openturk.store import database
from openturk.store.database import Database
from openturk.store.schema import metadata


def test_migrated_store_matches_schema(store_url: str) -> None:
    db = Database(store_url)
    try:
        db.migrate()
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        db.dispose()


def test_ledger_rows_from_before_0005_name_their_accounts(store_url: str) -> None:
    """Old rows were signed amounts against the balance: a credit came from outside, the rest was paid."""
    db = Database(store_url)
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    try:
        with db.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
            conn.execute(text("INSERT INTO requesters VALUES ('C1', 'r', 1000, 0, 0)"))
            conn.execute(
                text(
                    "INSERT INTO ledger (customer_id, amount_cents, kind, reference, created_at) VALUES "
                    "('C1', 1000, 'starting_balance', NULL, 0), ('C1', -50, 'reward', 'A1', 1), "
                    "('C1', -10, 'fee', 'A1', 1)"
                )
            )
            command.upgrade(config, "head")
            rows = conn.execute(
                text("SELECT amount_cents, from_account, to_account, kind FROM ledger ORDER BY entry_id")
            ).all()
            conn.commit()
        assert [tuple(row) for row in rows] == [
            (1000, "outside", "available", "starting_balance"),
            (50, "available", "paid", "reward"),
            (10, "available", "paid", "fee"),
        ]
    finally:
        db.dispose()


def test_0007_restates_escrow_held_by_the_older_rule(tmp_path: Path) -> None:
    """A HIT that holds less than its slots may cost (an older version's cheaper retype) is
    restated once at upgrade, so no later worker action or timer has to reserve money."""
    from openturk import ledger
    from openturk.store.repository import Repository
    from tests.support.world import World

    world = World(tmp_path / "store.db")
    hit_id = world.create_hit(Reward="1.00", MaxAssignments=2)
    assignment_id = world.accept(hit_id)
    with world.db.write() as conn:
        # What an older version could leave: 2 slots at $1.20 should be held, only $0.40 is.
        conn.execute(text("UPDATE hits SET held_cents = 40 WHERE hit_id = :h"), {"h": hit_id})
        conn.execute(text("UPDATE requesters SET on_hold_cents = 40, balance_cents = 40"))
    config = Config()
    config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    try:
        with world.db.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.stamp(config, "0006")
            command.upgrade(config, "0007")  # later revisions add to a schema built at head
            conn.commit()
        with world.db.read() as conn:
            repo = Repository(conn)
            assert repo.held_cents(hit_id) == 240
            available = ledger.balances(repo, world.ctx.customer_id)
            assert (available.available_cents, available.on_hold_cents) == (-200, 240)
            kinds = conn.execute(text("SELECT kind, amount_cents FROM ledger WHERE kind = 'escrow_restated'")).all()
            assert [tuple(k) for k in kinds] == [("escrow_restated", 200)]
        # The worker's submit no longer needs to reserve anything, so it is not refused.
        world.submit(assignment_id)
    finally:
        world.db.dispose()
