"""The forming lead's statements on PostgreSQL: taken when free or lapsed, renewed by its holder only,
given up at once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from openturk.notify import forming_lead
from openturk.store.database import Database
from tests.support import stores

pytestmark = pytest.mark.skipif(not stores.on_postgres(), reason="the forming lead is PostgreSQL's")

NOW = 1_000_000


@pytest.fixture
def db(migrated_store_url: str) -> Iterator[Database]:
    database = Database(migrated_store_url)
    yield database
    database.dispose()


def take(db: Database, owner: str, now: int, lead_ms: int = 5000) -> forming_lead.Lead:
    with db.write() as conn:
        return forming_lead.take(conn, owner, now, lead_ms)


def test_nobody_holds_the_lead_until_one_takes_it(db: Database) -> None:
    with db.read() as conn:
        assert forming_lead.held(conn) == forming_lead.Lead(None, 0)
    assert take(db, "A", NOW) == forming_lead.Lead("A", NOW + 5000)
    with db.read() as conn:
        assert forming_lead.held(conn) == forming_lead.Lead("A", NOW + 5000)


def test_a_held_lead_is_renewed_by_its_holder_and_refused_to_others(db: Database) -> None:
    take(db, "A", NOW)
    assert take(db, "B", NOW + 4999) == forming_lead.Lead("A", NOW + 5000)  # B sees who holds it
    assert take(db, "A", NOW + 2500) == forming_lead.Lead("A", NOW + 7500)  # renewed
    assert take(db, "B", NOW + 7499).owner == "A"


def test_a_lapsed_lead_goes_to_the_first_that_looks(db: Database) -> None:
    take(db, "A", NOW)
    assert take(db, "B", NOW + 5000) == forming_lead.Lead("B", NOW + 10_000)
    assert take(db, "A", NOW + 5001).owner == "B"  # the old holder, back late, does not take it back


def test_a_lead_given_up_is_free_at_once_and_only_its_holder_gives_it_up(db: Database) -> None:
    take(db, "A", NOW)
    with db.write() as conn:
        forming_lead.step_down(conn, "B")  # not B's: nothing changes
    assert take(db, "B", NOW + 1).owner == "A"
    with db.write() as conn:
        forming_lead.step_down(conn, "A")
    assert take(db, "B", NOW + 1) == forming_lead.Lead("B", NOW + 5001)


def test_lead_held_by_is_its_owner_before_it_lapses() -> None:
    lead = forming_lead.Lead("A", NOW)
    assert lead.held_by("A", NOW - 1)
    assert not lead.held_by("A", NOW) and not lead.held_by("B", NOW - 1)


def test_taking_never_waits_for_another_transaction_taking_it(db: Database) -> None:
    """The transaction that takes (or renews) the lead is a whole dispatcher pass: another dispatcher
    taking at the same moment would wait on the row's lock until that pass ended, claiming nothing
    meanwhile. It reads the lead as committed instead."""
    take(db, "A", NOW)
    with db.write() as taking:
        assert forming_lead.take(taking, "B", NOW + 5000, 5000).owner == "B"  # A's lead lapsed: B takes it...
        started = time.monotonic()
        with db.write() as looking:  # ...and C, looking meanwhile, does not wait for B's pass
            looking.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting, it would fail here
            seen = forming_lead.take(looking, "C", NOW + 5000, 5000)
        assert time.monotonic() - started < 1.0
        assert seen == forming_lead.Lead("A", NOW + 5000)  # as committed: lapsed, C does not lead
    assert take(db, "C", NOW + 5001).owner == "B"
