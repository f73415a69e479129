"""Engine set-up and transactions for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (durable across a process crash, which is what
the at-least-once promise needs) and write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue on the database lock instead of failing on an upgrade. PostgreSQL uses row locks
(``SELECT ... FOR UPDATE`` in the repository) and READ COMMITTED.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

_WRITE = "openturk_write"
# Set in a connection's info by whoever writes outbox rows; read once the transaction committed.
OUTBOX_WRITTEN = "openturk_outbox_written"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and pick psycopg 3; leave everything else as given."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


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
        self._local_writer = threading.Lock() if self.is_sqlite else contextlib.nullcontext()

    def on_outbox_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the committing thread) after any transaction that wrote outbox rows."""
        self._outbox_listeners.append(listener)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: on SQLite it takes the write lock up front."""
        with self._local_writer, self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                conn.info.pop(OUTBOX_WRITTEN, None)
                raise
            written = conn.info.pop(OUTBOX_WRITTEN, False)
        if written:
            for listener in self._outbox_listeners:
                listener()

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
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
