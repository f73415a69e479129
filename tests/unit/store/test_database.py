"""Database.write under non_blocking_writes: gives up before doing anything, never repeats a commit.

The tests of SQLite's writer (its lock, its kept-open connection, its WAL) are SQLite only; the rest
run on the suite's store (OPENTURK_TEST_DB)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from openturk.store.database import BUSY_TIMEOUT_MS, Database, WriterBusy


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    with database.write() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield database
    database.dispose()


def _rows(db: Database) -> list[int]:
    with db.read() as conn:
        return [row[0] for row in conn.execute(text("SELECT n FROM t ORDER BY n"))]


def test_free_writer_writes_inline(db: Database) -> None:
    with db.non_blocking_writes(), db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert _rows(db) == [1]


@pytest.mark.sqlite_only("non_blocking_writes only acts on SQLite's one writer")
def test_writer_of_this_process_busy(db: Database) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    try:
        with pytest.raises(WriterBusy), db.non_blocking_writes(), db.write() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        release.set()
        thread.join(10)
    assert _rows(db) == [1]


@pytest.mark.sqlite_only("SQLite's database write lock")
def test_writer_of_another_process_busy(db: Database, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    try:
        with pytest.raises(WriterBusy), db.non_blocking_writes(), db.write() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        other.execute("COMMIT")
        other.close()
    # The pooled connection is whole again: it waits as configured and writes.
    with db.write() as conn:
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == BUSY_TIMEOUT_MS
        conn.execute(text("INSERT INTO t VALUES (3)"))
    assert _rows(db) == [1, 3]


@pytest.mark.sqlite_only("non_blocking_writes only acts on SQLite's one writer")
def test_only_first_write_may_give_up(db: Database) -> None:
    """After a committed write, a later one in the same block waits rather than raise (no repeat on retry)."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write() as conn:
            holding.set()
            release.wait(10)
            conn.execute(text("INSERT INTO t VALUES (2)"))

    with db.non_blocking_writes():
        with db.write() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        thread = threading.Thread(target=hold)
        thread.start()
        assert holding.wait(10)
        threading.Timer(0.2, release.set).start()
        with db.write() as conn:  # waits for the holder instead of raising WriterBusy
            conn.execute(text("INSERT INTO t VALUES (3)"))
        thread.join(10)
    assert _rows(db) == [1, 2, 3]


def test_failed_write_rolls_back_and_frees_writer(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), db.non_blocking_writes(), db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        _ = 1 / 0
    with db.non_blocking_writes(), db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert _rows(db) == [2]


def test_writer_threads_share_one_connection_safely(db: Database) -> None:
    """Every SQLite writer of the process goes through one kept-open connection, one at a time."""

    def add(start: int) -> None:
        for n in range(start, start + 50):
            with db.write() as conn:
                conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

    threads = [threading.Thread(target=add, args=(i * 50,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert _rows(db) == list(range(400))


def test_failed_statement_leaves_the_writer_usable(db: Database) -> None:
    with pytest.raises(Exception, match=r"no such table|does not exist"), db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.execute(text("INSERT INTO missing VALUES (1)"))
    with db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert _rows(db) == [2]


@pytest.mark.sqlite_only("SQLite keeps a transaction open after a failed COMMIT")
def test_failed_commit_releases_the_database(db: Database, tmp_path: Path) -> None:
    """A COMMIT that fails leaves SQLite's transaction open; the writer must not keep holding its lock."""
    with db.write() as conn:
        conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id))"))
    with pytest.raises(Exception, match="FOREIGN KEY"), db.write() as conn:
        conn.execute(text("PRAGMA defer_foreign_keys=ON"))  # the violation surfaces at COMMIT
        conn.execute(text("INSERT INTO child VALUES (7)"))
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # would be "database is locked" if the failed writer kept it
        other.execute("ROLLBACK")
    finally:
        other.close()
    with db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert _rows(db) == [1]


@pytest.mark.sqlite_only("SQLite's WAL checkpoints")
def test_checkpoints_can_move_out_of_commits(db: Database) -> None:
    db.checkpoint_in_background()
    with db.write() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 0
        conn.execute(text("INSERT INTO t VALUES (1)"))
    db.checkpoint()
    with db.read() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 1000  # readers keep the default
    assert _rows(db) == [1]
