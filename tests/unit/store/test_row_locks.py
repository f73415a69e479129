"""Writers' row locks on PostgreSQL: one requester's concurrent writes queue, they never deadlock.

A write inserts rows that reference the requester (a HIT, a journal row: the foreign key check holds
FOR KEY SHARE on the requester's row until commit) and then changes the requester's balances, which
locks the row (an UPDATE of columns no key uses: FOR NO KEY UPDATE). With a plain FOR UPDATE lock two
such writes each waited for the other's key-share lock: PostgreSQL aborted one ("deadlock detected",
a ServiceFault for concurrent CreateHIT calls of one requester).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from openturk.store.database import Database
from openturk.store.repository import Repository
from tests.support import stores

pytestmark = pytest.mark.skipif(
    not stores.on_postgres(), reason="PostgreSQL's row locks (SQLite lets one writer in at a time)"
)


@pytest.fixture
def db(migrated_store_url: str) -> Iterator[Database]:
    database = Database(migrated_store_url)
    with database.write() as conn:
        Repository(conn).insert_requester("C1", "one requester", 0)
    yield database
    database.dispose()


def test_writers_that_reference_a_requester_then_lock_its_balances_queue_without_deadlock(db: Database) -> None:
    both_referenced = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with db.write() as conn:
                repo = Repository(conn)
                repo.insert_ledger_entry("C1", 1, "outside", "available", "credit", f"R{n}", None, 0)
                both_referenced.wait()  # each now holds the key-share lock of its foreign key check
                assert repo.change_balances_if_available("C1", 0, balance=1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with db.read() as conn:
        assert Repository(conn).balances("C1") == (2, 0)
