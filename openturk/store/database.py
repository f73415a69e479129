"""Engine set-up and transactions for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (durable across a process crash, which is what
the at-least-once promise needs) and write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue on the database lock instead of failing on an upgrade. PostgreSQL uses row locks
(``SELECT ... FOR UPDATE`` in the repository) and READ COMMITTED.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

_WRITE = "openturk_write"
_NOWAIT = "openturk_nowait"
BUSY_TIMEOUT_MS = 30_000
# Set in a connection's info by whoever writes outbox rows; read once the transaction committed.
OUTBOX_WRITTEN = "openturk_outbox_written"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and pick psycopg 3; leave everything else as given."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class WriterBusy(Exception):
    """A write that was told not to wait found the writer taken; it did nothing."""


class _NonBlocking:
    """Marks a block whose first write must not wait; remembers whether that write committed."""

    written = False


_non_blocking: ContextVar[_NonBlocking | None] = ContextVar("openturk_non_blocking", default=None)


class Database:
    """The engine plus the two kinds of transaction openturk uses."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        self.engine = _create_engine(self.url, self.is_sqlite)
        self._outbox_listeners: list[Callable[[], None]] = []
        # SQLite makes a blocked writer sleep and retry on a fixed schedule (1, 3, 8, 18 … ms); queueing
        # this process's writers on a lock first hands the database over without those sleeps. Other
        # processes still meet busy_timeout.
        self._local_writer = threading.Lock() if self.is_sqlite else None
        self._writer_connection: Connection | None = None

    def on_outbox_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the committing thread) after any transaction that wrote outbox rows."""
        self._outbox_listeners.append(listener)

    @contextmanager
    def non_blocking_writes(self) -> Iterator[None]:
        """Inside this block the first ``write()`` raises ``WriterBusy`` rather than wait for the writer.

        Lets the API run a write on the event loop when nobody else is writing (most of the time) and
        move it to a thread only when it would have to queue. Only SQLite has a writer to wait for;
        on PostgreSQL this changes nothing. Once a write committed, later ones in the block wait as
        usual, so a caller that retries on ``WriterBusy`` never repeats a committed write.
        """
        token = _non_blocking.set(_NonBlocking() if self.is_sqlite else None)
        try:
            yield
        finally:
            _non_blocking.reset(token)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: on SQLite it takes the write lock up front."""
        attempt = _non_blocking.get()
        nowait = attempt is not None and not attempt.written
        with self._sqlite_writer(nowait) if self._local_writer is not None else self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True, _NOWAIT: nowait})
            try:
                transaction = conn.begin()
            except BaseException:
                self._drop_writer_connection()  # a failed BEGIN leaves SQLAlchemy's Connection half-begun
                raise
            try:
                with transaction:
                    yield conn
            except BaseException:
                conn.info.pop(OUTBOX_WRITTEN, None)
                if conn.invalidated:
                    self._drop_writer_connection()
                raise
            written = conn.info.pop(OUTBOX_WRITTEN, False)
        if attempt is not None:
            attempt.written = True
        if written:
            for listener in self._outbox_listeners:
                listener()

    @contextmanager
    def _sqlite_writer(self, nowait: bool) -> Iterator[Connection]:
        """This process's one SQLite writer connection, held with the in-process writer lock.

        Only the lock's holder uses it, so one connection kept open serves every writer thread, and
        a write skips the pool checkout, Connection set-up and close it would otherwise pay each time.
        """
        assert self._local_writer is not None
        if not self._local_writer.acquire(blocking=not nowait):
            raise WriterBusy("another transaction of this process is writing")
        try:
            if self._writer_connection is None:
                self._writer_connection = self.engine.connect()
            yield self._writer_connection
        finally:
            self._local_writer.release()

    def _drop_writer_connection(self) -> None:
        connection, self._writer_connection = self._writer_connection, None
        if connection is not None:
            connection.invalidate()
            connection.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()

    def dispose(self) -> None:
        if self._local_writer is not None:
            with self._local_writer:
                connection, self._writer_connection = self._writer_connection, None
                if connection is not None:
                    connection.close()
        self.engine.dispose()


def _create_engine(url: str, is_sqlite: bool) -> Engine:
    if not is_sqlite:
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=32,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: SQLAlchemy's statement machinery cost more than the BEGIN itself.
        raw = conn.connection.dbapi_connection
        assert raw is not None
        options = conn.get_execution_options()
        if not options.get(_WRITE, False):
            raw.execute("BEGIN")
        elif not options.get(_NOWAIT, False):
            raw.execute("BEGIN IMMEDIATE")
        else:
            # Another process holds the write lock: give up at once instead of after busy_timeout.
            raw.execute("PRAGMA busy_timeout=0")
            try:
                raw.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                raise WriterBusy(str(error)) from error
            finally:
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    return engine
