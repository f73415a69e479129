"""Every process of a deployment tells one virtual time: the offset is read from the database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openturk import timers
from openturk.clock import VirtualClock
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.store.shared_clock import StoredOffset

HOUR_MS = 3_600_000


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = Database(url), Database(url)
    first.migrate()
    yield first, second
    first.dispose()
    second.dispose()


def test_an_advance_in_one_process_is_the_next_reading_in_another(two_processes: tuple[Database, Database]) -> None:
    first_db, second_db = two_processes
    first = VirtualClock(shared=StoredOffset(first_db))
    second = VirtualClock(shared=StoredOffset(second_db))
    assert abs(first.now_ms() - second.now_ms()) < 1000
    first.advance_to(first.now_ms() + HOUR_MS)
    timers.save_offset(first_db, first)
    assert second.now_ms() >= first.now_ms() - 1000 >= HOUR_MS  # no restart, no wait
    assert second.offset_ms == first.offset_ms


def test_the_stored_offset_never_goes_back(two_processes: tuple[Database, Database]) -> None:
    first_db, second_db = two_processes
    with first_db.write() as conn:
        Repository(conn).save_clock_offset(2 * HOUR_MS)
    with second_db.write() as conn:
        Repository(conn).save_clock_offset(HOUR_MS)  # a process that lagged behind stores its offset
    assert StoredOffset(first_db)() == 2 * HOUR_MS
    behind = VirtualClock(offset_ms=HOUR_MS, shared=StoredOffset(second_db))
    assert behind.offset_ms == 2 * HOUR_MS


def test_no_stored_offset_reads_as_zero_and_a_missing_table_keeps_the_last(tmp_path: Path) -> None:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        offset = StoredOffset(fresh)
        assert offset() == 0  # before migrations: no table, the last reading (none: 0)
        fresh.migrate()
        assert offset() == 0
        with fresh.write() as conn:
            Repository(conn).save_clock_offset(5000)
        assert offset() == 5000
    finally:
        fresh.dispose()


def test_an_advance_that_finds_another_process_ahead_does_not_wait_on_itself(
    two_processes: tuple[Database, Database],
) -> None:
    """Two servers advanced at once: the second's advance read now, took the first's later offset,
    and blocked on its own clock lock for good (and every reading of the time after it)."""
    first_db, second_db = two_processes
    second = VirtualClock(shared=StoredOffset(second_db))
    assert second.offset_ms == 0
    with first_db.write() as conn:
        Repository(conn).save_clock_offset(HOUR_MS)  # the other process advanced meanwhile
    target = int(time.time() * 1000) + 2 * HOUR_MS
    advancing = threading.Thread(target=second.advance_to, args=(target,), daemon=True)
    advancing.start()
    advancing.join(timeout=5)
    assert not advancing.is_alive()
    assert 2 * HOUR_MS - 1000 <= second.offset_ms <= 2 * HOUR_MS + 1000
