"""What a committed transaction announces reaches listeners: this process's at once, other
processes' through PostgreSQL's LISTEN/NOTIFY — never before the commit, never for a rollback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from openturk.store.database import CLOCK, LISTENER_NAME, OUTBOX, Database, announce
from tests.support.announcements import record_told
from tests.support.postgres import TemporaryPostgres


class Heard:
    def __init__(self) -> None:
        self.channels: list[str] = []
        self._lock = threading.Lock()

    def listener(self, channel: str) -> Callable[[], None]:
        def called() -> None:
            with self._lock:
                self.channels.append(channel)

        return called

    def wait_for(self, channel: str, count: int = 1, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.channels.count(channel) >= count:
                    return True
            time.sleep(0.01)
        return False


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    yield db
    db.dispose()


def test_this_process_hears_after_the_commit_and_not_for_a_rollback(sqlite_db: Database) -> None:
    heard = Heard()
    stop = sqlite_db.on_commit(OUTBOX, heard.listener(OUTBOX))
    sqlite_db.on_commit(CLOCK, heard.listener(CLOCK))
    with sqlite_db.write() as conn:
        announce(conn, OUTBOX)
        announce(conn, OUTBOX)  # once per transaction, however often announced
        assert heard.channels == []  # not before the commit
    assert heard.channels == [OUTBOX]
    with pytest.raises(RuntimeError), sqlite_db.write() as conn:
        announce(conn, CLOCK)
        raise RuntimeError("rolled back")
    with sqlite_db.write():
        pass  # nothing announced: the rolled-back announcement is not carried over
    assert heard.channels == [OUTBOX]
    stop()
    with sqlite_db.write() as conn:
        announce(conn, OUTBOX)
        announce(conn, CLOCK)
    assert heard.channels == [OUTBOX, CLOCK]  # the removed listener no longer hears


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    database = TemporaryPostgres().start()
    yield database
    database.stop()


def test_another_process_hears_through_listen_notify(postgres: TemporaryPostgres) -> None:
    writer, other = Database(postgres.url), Database(postgres.url)
    try:
        heard = Heard()
        other.on_commit(OUTBOX, heard.listener(OUTBOX))
        other.on_commit(CLOCK, heard.listener(CLOCK))
        other.listen()
        # Listening starts by telling every channel once: what was announced before is looked for.
        assert heard.wait_for(OUTBOX) and heard.wait_for(CLOCK)
        with pytest.raises(RuntimeError), writer.write() as conn:
            announce(conn, OUTBOX)
            raise RuntimeError("rolled back")
        with writer.write() as conn:
            announce(conn, CLOCK)
            conn.execute(text("SELECT pg_sleep(0.3)"))
            assert heard.channels.count(CLOCK) == 1  # held until the commit
        assert heard.wait_for(CLOCK, 2)
        assert heard.channels.count(OUTBOX) == 1  # the rollback notified nobody

        # The listening connection dies (a PostgreSQL restart, a proxy): it comes back, and tells
        # every channel once more, since announcements may have been missed meanwhile.
        with writer.write() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE application_name = '{LISTENER_NAME}' AND pid <> pg_backend_pid()"
                )
            )
        assert heard.wait_for(OUTBOX, 2, timeout=20)
        with writer.write() as conn:
            announce(conn, OUTBOX)
        assert heard.wait_for(OUTBOX, 3)
    finally:
        other.dispose()
        writer.dispose()


def test_a_process_listens_only_to_the_channels_it_has_listeners_for(postgres: TemporaryPostgres) -> None:
    """A ``serve --no-dispatch`` has no dispatcher: every commit's NOTIFY of the outbox channel cost it
    (and a PostgreSQL backend) a wake-up for nothing. Here it LISTENs to the clock only (as with a
    virtual clock), until a listener of the outbox channel is registered, heard from then on."""
    writer, other = Database(postgres.url), Database(postgres.url)
    try:
        heard = Heard()
        told = record_told(other)
        other.on_commit(CLOCK, heard.listener(CLOCK))
        other.listen()
        assert heard.wait_for(CLOCK)  # told once as it starts to be heard
        with writer.write() as conn:
            announce(conn, OUTBOX)
        with writer.write() as conn:
            announce(conn, CLOCK)
        assert heard.wait_for(CLOCK, 2)
        assert OUTBOX not in told  # the outbox's NOTIFY, committed first, never reached this process

        other.on_commit(OUTBOX, heard.listener(OUTBOX))  # a dispatcher starts in this process
        assert heard.wait_for(OUTBOX, timeout=5)  # told as the LISTEN starts (within a second)
        with writer.write() as conn:
            announce(conn, OUTBOX)
        assert heard.wait_for(OUTBOX, 2)
    finally:
        other.dispose()
        writer.dispose()
