"""Engine set-up and transactions for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (durable across a process crash, which is what
the at-least-once promise needs) and write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue on the database lock instead of failing on an upgrade. PostgreSQL uses row locks and
READ COMMITTED: ``SELECT ... FOR NO KEY UPDATE`` (never a key change), which does not conflict with
the key-share locks foreign-key checks take: two transactions that each inserted a row referencing
a requester, then lock that requester to move its money, would otherwise deadlock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

_WRITE = "openturk_write"
_BEGUN = "openturk_begun"  # write() already issued BEGIN IMMEDIATE on the driver connection
BUSY_TIMEOUT_MS = 30_000
# What a committed transaction can announce (``announce``). This process's listeners are called right
# after the commit; on PostgreSQL the transaction also NOTIFYs the channel, which reaches every other
# process's listener (``Database.listen``) at its commit: no process waits for a poll to notice.
OUTBOX = "openturk_outbox"  # events queued or messages due now: dispatchers
CLOCK = "openturk_clock"  # the virtual clock moved: timer runners
# A dispatcher left due messages for want of room: any other dispatcher (even one not forming) may take them.
SPARE = "openturk_spare"
CHANNELS = (OUTBOX, CLOCK, SPARE)
LISTENER_NAME = "openturk-listen"  # the listening connection's application_name
_ANNOUNCED = "openturk_announced"
_NOTIFIED = "openturk_notified"  # channels this PostgreSQL transaction has already NOTIFYed
log = logging.getLogger("openturk.database")


def announce(conn: Connection, channel: str) -> None:
    """Tell ``channel``'s listeners, in this process and (PostgreSQL) every other, once ``conn`` commits."""
    conn.info.setdefault(_ANNOUNCED, set()).add(channel)
    # PostgreSQL delivers a NOTIFY at the commit whenever in the transaction it was issued, so it is
    # issued now rather than just before the COMMIT: a transaction that ends by locking a row every
    # writer wants (the requester's balance, ``openturk.ledger``) then holds that lock for one statement
    # fewer. Inside a savepoint it waits for the commit, since a savepoint rolled back takes its
    # NOTIFY with it.
    if conn.dialect.name == "postgresql" and not conn.in_nested_transaction():
        notified = conn.info.setdefault(_NOTIFIED, set())
        if channel not in notified:
            conn.exec_driver_sql(f"NOTIFY {channel}")
            notified.add(channel)


def libpq_conninfo(url: str) -> str:
    """A PostgreSQL store URL as psycopg (libpq) itself takes it: SQLAlchemy's driver name is not part of it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and pick psycopg 3; leave everything else as given."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _plain_in_memory(url: str) -> bool:
    """``sqlite://`` or ``sqlite:///:memory:``: a database private to the connection that opens it."""
    parsed = make_url(normalise_url(url))
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def is_in_memory(url: str) -> bool:
    """Whether ``url`` names an SQLite database in memory: ``sqlite://``, ``sqlite:///:memory:`` or
    a URI with ``mode=memory``. It lives and ends with one process."""
    parsed = make_url(normalise_url(url))
    return _plain_in_memory(url) or (parsed.get_backend_name() == "sqlite" and parsed.query.get("mode") == "memory")


def missing_file(url: str) -> str | None:
    """The path of the SQLite file ``url`` names when no such file exists (a command that only reads
    a deployment's database must not make an empty one); None for any other database."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or is_in_memory(url) or not parsed.database:
        return None
    path = parsed.database.removeprefix("file:").split("?", 1)[0]
    return None if Path(path).exists() else path


def _shared_if_in_memory(url: str) -> str:
    """``sqlite://`` and ``sqlite:///:memory:`` as a database this process's connections share.

    A plain in-memory SQLite database belongs to the one connection that opened it, and the pool
    opens several: the schema made on one was missing on the next. A named in-memory database in
    shared-cache mode is one database for every connection of this ``Database`` (each gets its own
    name), alive while the pool holds a connection; like the plain one, it ends with the process.
    """
    if not _plain_in_memory(url):
        return url
    return f"sqlite:///file:openturk-{uuid.uuid4().hex}?mode=memory&cache=shared&uri=true"


# The Alembic scripts that build and upgrade the schema.
MIGRATIONS = Path(__file__).parent / "migrations"


class WriterBusy(Exception):
    """A write that was told not to wait found the writer taken; it did nothing."""


class _NonBlocking:
    """Marks a block whose first write must not wait; remembers whether that write committed."""

    written = False


_T = TypeVar("_T")
_BUSY = object()  # the loop found the writer taken: nothing ran
_ABANDONED = object()  # the loop had not started the work when the caller stopped waiting


def _runs_on(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the calling thread is running ``loop`` (handing it work would wait for itself)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class _Handover:
    """One piece of work offered to another thread: it runs there once, or not at all and here instead."""

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._started = self._abandoned = self._finished = False
        self._value: object = None
        self._error: BaseException | None = None

    def begin(self) -> bool:
        with self._state:
            if self._abandoned:
                return False
            self._started = True
            return True

    def done(self, value: object) -> None:
        with self._state:
            self._value, self._finished = value, True
            self._state.notify_all()

    def failed(self, error: BaseException) -> None:
        with self._state:
            self._error, self._finished = error, True
            self._state.notify_all()

    def result(self, give_up_after_s: float) -> object:
        """The work's value (``_BUSY`` included), or ``_ABANDONED`` if it had not started in time; raises its error."""
        with self._state:
            if not self._state.wait_for(lambda: self._started, give_up_after_s):
                self._abandoned = True
                return _ABANDONED
            self._state.wait_for(lambda: self._finished)  # started: it runs to its end
            if self._error is not None:
                raise self._error
            return self._value


_non_blocking: ContextVar[_NonBlocking | None] = ContextVar("openturk_non_blocking", default=None)


class Database:
    """The engine plus the two kinds of transaction openturk uses."""

    def __init__(self, url: str) -> None:
        self.url = _shared_if_in_memory(normalise_url(url))
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        self.in_memory = is_in_memory(self.url)
        self.engine = _create_engine(self.url, self.is_sqlite)
        self._listeners: dict[str, list[Callable[[], object]]] = {channel: [] for channel in CHANNELS}
        self._listener_thread: _NotificationListener | None = None
        # SQLite makes a blocked writer sleep and retry on a fixed schedule (1, 3, 8, 18 … ms); queueing
        # this process's writers on a lock first hands the database over without those sleeps. Other
        # processes still meet busy_timeout.
        self._local_writer = threading.Lock() if self.is_sqlite else None
        self._writer_connection: Connection | None = None
        self._checkpoints_elsewhere = False
        self._write_loop: asyncio.AbstractEventLoop | None = None

    def on_commit(self, channel: str, listener: Callable[[], object]) -> Callable[[], None]:
        """Call ``listener`` after any transaction that announced ``channel`` commits; returns its remover.

        Called from the committing thread for this process's transactions and, once ``listen`` ran on
        PostgreSQL, from the listening thread for every other process's. It must be quick and
        thread-safe (typically ``loop.call_soon_threadsafe(event.set)``).
        """
        self._listeners[channel].append(listener)
        return lambda: self._listeners[channel].remove(listener)

    def _tell(self, channels: Iterable[str]) -> None:
        for channel in channels:
            for listener in list(self._listeners.get(channel, ())):
                listener()

    def listen(self) -> None:
        """On PostgreSQL, start hearing other processes' announcements (a thread with LISTEN); idempotent.

        SQLite has no such channel: processes sharing a file find each other's work by polling.
        """
        if self.is_sqlite or self._listener_thread is not None:
            return
        self._listener_thread = _NotificationListener(self.url, self._tell, self._heard_channels)
        self._listener_thread.start()

    def _heard_channels(self) -> frozenset[str]:
        """The channels some listener of this process waits on: the only ones worth a LISTEN."""
        return frozenset(channel for channel, listeners in self._listeners.items() if listeners)

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

    def write_on(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """SQLite: ``write_with`` runs its transactions on ``loop``'s thread (the API's event loop, where the
        API's own writes run); None: on the calling thread. PostgreSQL: always the calling thread."""
        self._write_loop = loop if self.is_sqlite else None

    def write_with(self, work: Callable[[Connection], _T], give_up_after_s: float = 1.0) -> _T:
        """``work`` in one write transaction: its result, or its exception.

        On SQLite with a loop given to ``write_on``, the transaction runs on that loop's thread if it can
        take the writer there without waiting; otherwise (the writer is held, the loop is gone or does
        not take the call within ``give_up_after_s``) it runs here. Why: this process's writes then follow
        one another on one thread. Threads taking turns at the writer lock made each turn wait for the
        interpreter lock as well, at every statement, while holding the writer; at 200 CreateHIT/s the
        API's inline writes kept finding the dispatcher's transactions in the way and queued on worker
        threads behind them (API call p50 2.8 ms without the dispatcher, 9.5 ms with it).
        """
        loop = self._write_loop
        if loop is not None and not _runs_on(loop):
            handover = _Handover()

            def attempt() -> None:
                if not handover.begin():
                    return  # the caller gave up waiting and runs it itself
                try:
                    with self.non_blocking_writes(), self.write() as conn:
                        value = work(conn)
                except WriterBusy:
                    handover.done(_BUSY)
                except BaseException as error:  # noqa: BLE001 - handed to the caller, which raises it
                    handover.failed(error)
                else:
                    # Only now, committed: the caller acts on the value (a dispatcher sends what it
                    # claimed), and a send must never go out for a transaction that may not commit.
                    handover.done(value)

            try:
                loop.call_soon_threadsafe(attempt)
            except RuntimeError:  # the loop is closed
                pass
            else:
                result = handover.result(give_up_after_s)
                if result is not _BUSY and result is not _ABANDONED:
                    return cast(_T, result)
        with self.write() as conn:
            return work(conn)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: on SQLite it takes the write lock up front."""
        attempt = _non_blocking.get()
        nowait = attempt is not None and not attempt.written
        with self._sqlite_writer(nowait) if self._local_writer is not None else self.engine.connect() as conn:
            try:
                if nowait and self._local_writer is not None:
                    _begin_immediate_or_give_up(conn)
                conn.execution_options(**{_WRITE: True, _BEGUN: nowait and self._local_writer is not None})
                conn.info.pop(_NOTIFIED, None)  # ``info`` outlives transactions: a read's NOTIFY is not this one's
                transaction = conn.begin()
            except BaseException:
                self._drop_writer_if_broken(conn)
                raise
            try:
                with transaction:
                    yield conn
                    announced = sorted(conn.info.pop(_ANNOUNCED, ()))
                    notified = conn.info.pop(_NOTIFIED, set())
                    if not self.is_sqlite:
                        for channel in announced:  # delivered by PostgreSQL at the commit, not before
                            if channel not in notified:
                                conn.exec_driver_sql(f"NOTIFY {channel}")
            except BaseException:
                conn.info.pop(_ANNOUNCED, None)
                conn.info.pop(_NOTIFIED, None)
                self._drop_writer_if_broken(conn)
                raise
        if attempt is not None:
            attempt.written = True
        self._tell(announced)

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
                if self._checkpoints_elsewhere:
                    self._writer_connection.connection.dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[union-attr]
            yield self._writer_connection
        finally:
            self._local_writer.release()

    def _drop_writer_if_broken(self, conn: Connection) -> None:
        """Keep the SQLite writer after a failure only if it is whole: not invalidated, and not left inside
        a transaction (a failed COMMIT leaves SQLite's transaction open, holding the database's write lock)."""
        if conn is not self._writer_connection:
            return
        raw = None if conn.invalidated else conn.connection.dbapi_connection
        if raw is None or raw.in_transaction:
            self._drop_writer_connection()

    def _drop_writer_connection(self) -> None:
        connection, self._writer_connection = self._writer_connection, None
        if connection is not None:
            connection.invalidate()
            connection.close()

    def checkpoint_in_background(self) -> None:
        """Stop this process's SQLite writer from checkpointing the WAL inside its commits; the caller
        then runs ``checkpoint()`` regularly off the event loop (commits may run on it)."""
        if self._local_writer is None:
            return
        with self._local_writer:
            self._checkpoints_elsewhere = True
            if self._writer_connection is not None:
                self._drop_writer_connection()  # the next one is opened with autocheckpoint off

    def checkpoint(self) -> None:
        """Copy committed WAL pages into the database file without waiting for anyone (PASSIVE)."""
        if self._local_writer is None or self.in_memory:  # an in-memory database has no WAL
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()

    def dispose(self) -> None:
        if self._listener_thread is not None:
            self._listener_thread.stop()
            self._listener_thread = None
        if self._local_writer is not None:
            with self._local_writer:
                connection, self._writer_connection = self._writer_connection, None
                if connection is not None:
                    connection.close()
        self.engine.dispose()


class _NotificationListener(threading.Thread):
    """One PostgreSQL connection that LISTENs on the channels this process has listeners for and passes
    what it hears on.

    Only those channels: every commit that queues events NOTIFYs ``openturk_outbox``, and each process
    LISTENing to it costs a PostgreSQL backend a wake-up and this process a trip through the
    interpreter, per commit, for nothing if no dispatcher runs here (``serve --no-dispatch``). The
    channels wanted are looked at again every second (a listener registered later is heard from then
    on), and a channel is told once as it starts to be heard, as after a reconnection.

    If the connection drops it reconnects with backoff, and tells each channel it listens to again
    once: whatever was announced meanwhile is found by the listeners' own queries, as after a poll.
    The connection is named ``openturk-listen`` (``application_name``), as ``pg_stat_activity`` shows it.
    psycopg 3.2.4 or later: a LISTEN made while connected keeps the notifications that arrive meanwhile.
    """

    def __init__(self, url: str, tell: Callable[[Iterable[str]], None], wanted: Callable[[], frozenset[str]]) -> None:
        super().__init__(name="openturk-listen", daemon=True)
        # psycopg's own URL form: SQLAlchemy's driver name is not part of it.
        self.conninfo = libpq_conninfo(url)
        self.tell = tell
        self.wanted = wanted
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=5)

    def run(self) -> None:
        import psycopg  # only PostgreSQL deployments need it

        delay = 0.2
        while not self._stopped.is_set():
            try:
                with psycopg.connect(
                    self.conninfo, autocommit=True, connect_timeout=10, application_name=LISTENER_NAME
                ) as conn:
                    heard: set[str] = set()
                    delay = 0.2
                    while not self._stopped.is_set():
                        wanted = self.wanted()
                        for channel in sorted(wanted - heard):
                            conn.execute(f"LISTEN {channel}")
                        for channel in sorted(heard - wanted):
                            conn.execute(f"UNLISTEN {channel}")
                        if wanted - heard:
                            self.tell(sorted(wanted - heard))  # anything announced before the LISTEN
                        heard = set(wanted)
                        # The timeout bounds how long stop() waits for this thread, and a new channel's wait.
                        for notification in conn.notifies(timeout=1.0):
                            self.tell((notification.channel,))
            except Exception:
                log.warning("LISTEN connection lost; reconnecting in %.1f s (polling meanwhile)", delay, exc_info=True)
                self._stopped.wait(delay)
                delay = min(delay * 2, 10.0)


def _begin_immediate_or_give_up(conn: Connection) -> None:
    """Take SQLite's write lock now, or raise ``WriterBusy`` if another process holds it (no waiting)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # a real fault (I/O, read-only…) stays one
            raise
        raise WriterBusy(str(error)) from error
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _create_engine(url: str, is_sqlite: bool) -> Engine:
    if not is_sqlite:
        return _ping_when_idle(create_engine(url, pool_size=10, max_overflow=20))
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
        # SQLite's lower() folds ASCII letters only; PostgreSQL's folds every letter. Python's, in its
        # place, makes a case-insensitive search ("é" finds "École") answer alike on both stores.
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(_BEGUN, False):
            return
        # Straight to the driver: SQLAlchemy's statement machinery cost more than the BEGIN itself.
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("BEGIN IMMEDIATE" if options.get(_WRITE, False) else "BEGIN")

    return engine


def _lower(text: object) -> object:
    return text.lower() if isinstance(text, str) else text


# A pooled PostgreSQL connection idle this long is pinged before use; one used more recently is not.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "openturk_idle_since"


def _ping_when_idle(engine: Engine) -> Engine:
    """SQLAlchemy's ``pool_pre_ping``, but only for connections that sat in the pool a while.

    A ping is a round trip (and psycopg's autocommit switched on and off around it) on every checkout,
    about a tenth of a CreateHIT's CPU time on PostgreSQL. What it guards against, a connection closed
    while idle (a server restart, a proxy's idle timeout), shows on connections that were idle; one
    used within the last second is used as is. If the server went away in that second, the statement
    fails with a disconnect error, SQLAlchemy discards the whole pool, and that one call answers
    ServiceFault (HTTP 500, which the AWS SDKs retry); the next checkouts connect afresh.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool replaces this connection and tries again
            raise exc.DisconnectionError(f"pooled connection failed its ping: {error}") from error

    return engine
