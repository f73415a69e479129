"""Database.write under non_blocking_writes: gives up before doing anything, never repeats a commit.

The tests of SQLite's writer (its lock, its kept-open connection, its WAL) are SQLite only; the rest
run on the suite's store (OPENTURK_TEST_DB)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from openturk.store import database as database_module
from openturk.store.database import BUSY_TIMEOUT_MS, Database, WriterBusy
from tests.support import stores


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


class _LoopThread:
    """An event loop running on a thread of its own, as the server's is to the dispatcher."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.ident: int | None = None
        started = threading.Event()

        def run() -> None:
            self.ident = threading.get_ident()
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[_LoopThread]:
    running = _LoopThread()
    yield running
    if not running.loop.is_closed():
        running.stop()


def _insert(n: int, ran_on: list[int]) -> Any:
    def work(conn: Any) -> int:
        ran_on.append(threading.get_ident())
        conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        return n

    return work


@pytest.mark.sqlite_only("write_on hands SQLite's writes to one thread; PostgreSQL writes where it is called")
def test_write_with_runs_on_the_loop_given_and_returns_or_raises_what_the_work_did(
    db: Database, loop_thread: _LoopThread
) -> None:
    db.write_on(loop_thread.loop)
    ran_on: list[int] = []
    assert db.write_with(_insert(1, ran_on)) == 1
    assert ran_on == [loop_thread.ident]

    def fails(conn: Any) -> None:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        raise ValueError("the work's own error")

    with pytest.raises(ValueError, match="the work's own error"):
        db.write_with(fails)
    assert _rows(db) == [1]  # the failed work's insert was rolled back


@pytest.mark.sqlite_only("write_on hands SQLite's writes to one thread; PostgreSQL writes where it is called")
def test_write_with_answers_only_once_the_loops_transaction_committed(db: Database, loop_thread: _LoopThread) -> None:
    # The dispatcher sends what its pass claimed as soon as write_with answers. Answered before the
    # commit, a send could go out for a transaction that then never committed (the process killed in
    # between): its events would be formed again, and delivered again under a new EventDocId.
    db.write_on(loop_thread.loop)
    slow_commit = threading.Event()

    def commit_slowly(_conn: Any) -> None:
        if slow_commit.is_set():
            threading.Event().wait(0.3)

    event.listen(db.engine, "commit", commit_slowly)
    slow_commit.set()
    assert db.write_with(_insert(1, [])) == 1
    with db.read() as conn:  # another connection: sees only what committed
        assert [row[0] for row in conn.execute(text("SELECT n FROM t"))] == [1]


@pytest.mark.sqlite_only("write_on hands SQLite's writes to one thread")
def test_write_with_runs_here_when_the_writer_is_held_or_the_loop_cannot_take_it(
    db: Database, loop_thread: _LoopThread
) -> None:
    db.write_on(loop_thread.loop)
    ran_on: list[int] = []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(0.2, release.set).start()
    assert db.write_with(_insert(1, ran_on)) == 1  # the loop found the writer taken: it waited here
    holder.join(10)
    assert ran_on == [threading.get_ident()]

    # A loop that does not take the call in time: run here, and the loop never runs it later.
    blocked = threading.Event()
    loop_thread.loop.call_soon_threadsafe(blocked.wait, 10)
    try:
        assert db.write_with(_insert(2, ran_on), give_up_after_s=0.2) == 2
    finally:
        blocked.set()
    assert ran_on[-1] == threading.get_ident()
    loop_thread.stop()  # runs what was queued; the abandoned work must not insert again
    assert db.write_with(_insert(3, ran_on)) == 3  # a closed loop: here at once
    assert _rows(db) == [1, 2, 3]


@pytest.mark.sqlite_only("write_on hands SQLite's writes to one thread")
def test_write_with_called_on_the_loop_itself_runs_at_once(db: Database, loop_thread: _LoopThread) -> None:
    import asyncio

    db.write_on(loop_thread.loop)
    ran_on: list[int] = []

    async def from_the_loop() -> int:
        return db.write_with(_insert(1, ran_on), give_up_after_s=5)

    assert asyncio.run_coroutine_threadsafe(from_the_loop(), loop_thread.loop).result(2) == 1
    assert ran_on == [loop_thread.ident]


@pytest.mark.skipif(not stores.on_postgres(), reason="the pooled connections' ping is PostgreSQL's")
def test_a_pooled_connection_closed_while_idle_is_replaced_before_use(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server restart or a proxy's idle timeout closes connections sitting in the pool; the ping a
    # connection idle for PING_AFTER_IDLE_S gets before use finds it closed and the pool connects anew.
    monkeypatch.setattr(database_module, "PING_AFTER_IDLE_S", 0.0)
    with db.read() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    outside = create_engine(db.url, poolclass=NullPool)  # not the pool's own connection, which is the one to end
    try:
        with outside.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar_one()
    finally:
        outside.dispose()
    with db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert _rows(db) == [1]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_one_database_for_all_its_connections(url: str, tmp_path: Path) -> None:
    """The schema made by ``migrate`` on one pooled connection is there on every other, at once;
    another ``Database`` of the same URL is a database of its own; nothing is written to disk."""
    db = Database(url)
    db.migrate()
    with db.engine.connect() as first, db.engine.connect() as second:
        for conn in (first, second):
            assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'hits'")).scalar() == 1
    with db.write() as conn:
        conn.execute(text("CREATE TABLE scratch (n INTEGER)"))
        conn.execute(text("INSERT INTO scratch VALUES (7)"))
    with db.read() as conn:
        assert conn.execute(text("SELECT n FROM scratch")).scalar() == 7
    db.checkpoint()  # no WAL to copy: nothing to do, and no "table is locked"
    other = Database(url)
    with other.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar() == 0
    assert db.in_memory and not list(tmp_path.iterdir())
    db.dispose()
    other.dispose()


@pytest.mark.parametrize(
    ("url", "in_memory"),
    [
        ("sqlite://", True),
        ("sqlite:///:memory:", True),
        ("sqlite:///file:x?mode=memory&cache=shared&uri=true", True),
        ("sqlite:///openturk.db", False),
        ("postgresql://u@localhost/db", False),
    ],
)
def test_which_urls_are_in_memory(url: str, in_memory: bool) -> None:
    assert database_module.is_in_memory(url) is in_memory
