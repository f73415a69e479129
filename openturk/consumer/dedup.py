"""De-duplication by event key (``Event.key``), as the seeds recommend — never by SQS MessageId.

Every call names an ``owner``: a token the caller makes for one handling of one event (the router
makes a fresh one each time). A store answers ``claim(key, owner)`` with one of three verdicts:
- ``CLAIMED``: nobody has handled the event; ``owner`` now holds an in-progress claim for
  ``claim_ttl_s`` seconds, so a second consumer does not run it at the same time;
- ``DONE``: handled already (within ``expiry_s``): skip it;
- ``BUSY``: another owner holds an unexpired claim: leave the message for later.

Only the owner moves its claim on:
- ``renew(key, owner)`` pushes the claim's end ``claim_ttl_s`` ahead (the router's heartbeat calls it
  while handlers run, so a long handler never loses its claim to a second consumer);
- ``complete(key, owner, mark)`` records success (kept ``expiry_s``, default 24 h), with an optional
  ``mark`` saying who completed it, read back by ``mark_of(key)``;
- ``release(key, owner)`` drops the claim after a handler failed so the retry can run it;
- ``complete_step(key, step, owner)`` records that one handler (``step``) of the event succeeded,
  and ``steps_done(key)`` lists those, so a retry after a later handler failed skips them.
Each returns False (and changes nothing) when ``owner`` no longer holds the claim — it lapsed and
another owner took the event over — so a stale owner can never mark done what another is running.
A claim that lapsed but was not taken over is still its owner's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

DEFAULT_EXPIRY_S = 24 * 3600.0
# Short, because a live owner renews it (every third of it); it bounds how long an event whose
# consumer died stays BUSY for the others.
DEFAULT_CLAIM_TTL_S = 60.0

Key = tuple[str, int]
EVENT = ""  # the step of an event's own record; a handler's step is its name


class Verdict(Enum):
    CLAIMED = "claimed"
    DONE = "done"
    BUSY = "busy"


class DedupStore(Protocol):
    claim_ttl_s: float

    def claim(self, key: Key, owner: str) -> Verdict: ...
    def renew(self, key: Key, owner: str) -> bool: ...
    def complete(self, key: Key, owner: str, mark: str | None = None) -> bool: ...
    def mark_of(self, key: Key) -> str | None: ...
    def release(self, key: Key, owner: str) -> bool: ...
    def complete_step(self, key: Key, step: str, owner: str) -> bool: ...
    def steps_done(self, key: Key) -> set[str]: ...


Clock = Callable[[], float]  # epoch seconds; time.time unless a test drives it


class MemoryDedup:
    """In-process twin of the SQL store, for tests and single-process scripts."""

    def __init__(
        self, expiry_s: float = DEFAULT_EXPIRY_S, claim_ttl_s: float = DEFAULT_CLAIM_TTL_S, clock: Clock = time.time
    ) -> None:
        self.expiry_s, self.claim_ttl_s, self.clock = expiry_s, claim_ttl_s, clock
        self._entries: dict[Key, tuple[str, str, float]] = {}  # key → (state, owner, until)
        self._marks: dict[Key, str] = {}
        self._steps: dict[Key, dict[str, float]] = {}  # key → step → until
        self._lock = threading.Lock()

    def claim(self, key: Key, owner: str) -> Verdict:
        with self._lock:
            state, _, until = self._entries.get(key, ("", "", 0.0))
            if until > self.clock():
                return Verdict.DONE if state == "done" else Verdict.BUSY
            self._entries[key] = ("claimed", owner, self.clock() + self.claim_ttl_s)
            return Verdict.CLAIMED

    def renew(self, key: Key, owner: str) -> bool:
        with self._lock:
            return self._move_on(key, owner, "claimed", self.claim_ttl_s)

    def complete(self, key: Key, owner: str, mark: str | None = None) -> bool:
        with self._lock:
            if not self._move_on(key, owner, "done", self.expiry_s):
                return False
            if mark is None:
                self._marks.pop(key, None)
            else:
                self._marks[key] = mark
            return True

    def mark_of(self, key: Key) -> str | None:
        with self._lock:
            state, _, until = self._entries.get(key, ("", "", 0.0))
            return self._marks.get(key) if state == "done" and until > self.clock() else None

    def release(self, key: Key, owner: str) -> bool:
        with self._lock:
            if not self._owns(key, owner):
                return False
            del self._entries[key]
            return True

    def complete_step(self, key: Key, step: str, owner: str) -> bool:
        with self._lock:
            if not self._owns(key, owner):
                return False
            self._steps.setdefault(key, {})[step] = self.clock() + self.expiry_s
            return True

    def steps_done(self, key: Key) -> set[str]:
        with self._lock:
            now = self.clock()
            return {step for step, until in self._steps.get(key, {}).items() if until > now}

    def _owns(self, key: Key, owner: str) -> bool:
        state, holder, _ = self._entries.get(key, ("", "", 0.0))
        return state == "claimed" and holder == owner

    def _move_on(self, key: Key, owner: str, state: str, ttl_s: float) -> bool:
        """Under _lock."""
        if not self._owns(key, owner):
            return False
        self._entries[key] = (state, owner, self.clock() + ttl_s)
        return True


_metadata = MetaData()
# DECISION: a new table (the old openturk_seen_events had no step column and no room for the
# longer occurrence keys); records of the old one are not carried over — they expire in 24 h anyway.
_seen = Table(
    "openturk_dedup",
    _metadata,
    Column("doc_id", String(255), primary_key=True),  # the key's text: an EventDocId or an occurrence
    Column("event_index", Integer, primary_key=True),
    Column("step", String(255), primary_key=True),  # EVENT for the event's own record, else a handler
    Column("state", String(8), nullable=False),  # claimed | done
    Column("owner", String(64), nullable=False),
    Column("until", BigInteger, nullable=False),  # epoch ms: claim or record expiry
    Column("mark", String(255), nullable=True),  # who completed it, when the completer said
)


class SQLDedup:
    """A persistent store in SQLite (file) or PostgreSQL, shared by any number of consumers.

    Claims are compare-and-set updates, so two processes never both get ``CLAIMED`` for one key,
    and every owner-checked change is one conditional UPDATE/DELETE, so it is refused atomically
    once another owner holds the key. Expired records are swept now and then by ``purge``.
    """

    def __init__(
        self,
        url: str,
        expiry_s: float = DEFAULT_EXPIRY_S,
        claim_ttl_s: float = DEFAULT_CLAIM_TTL_S,
        clock: Clock = time.time,
    ) -> None:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        self.engine = _engine(url)
        self.expiry_s, self.claim_ttl_s, self.clock = expiry_s, claim_ttl_s, clock
        _metadata.create_all(self.engine)
        self._claims = 0

    def claim(self, key: Key, owner: str) -> Verdict:
        now = _ms(self.clock())
        until = now + _ms(self.claim_ttl_s)
        doc_id, index = key
        record = {"doc_id": doc_id, "event_index": index, "step": EVENT, "state": "claimed", "owner": owner}
        try:
            with self.engine.begin() as conn:
                conn.execute(_INSERT, {**record, "until": until, "mark": None})
            self._maybe_purge()
            return Verdict.CLAIMED
        except IntegrityError:
            pass  # seen before: decide from the record, and take it over only if it expired
        with self.engine.begin() as conn:
            row = conn.execute(_READ, _key(key)).first()
            if row is None:
                return Verdict.BUSY  # removed between our insert and read: let the retry decide
            if row.until > now:
                return Verdict.DONE if row.state == "done" else Verdict.BUSY
            taken = conn.execute(
                _TAKE_OVER,
                {**_key(key), "b_state": row.state, "b_until": row.until, "b_new_owner": owner, "b_new_until": until},
            ).rowcount
            return Verdict.CLAIMED if taken == 1 else Verdict.BUSY

    def renew(self, key: Key, owner: str) -> bool:
        with self.engine.begin() as conn:
            return self._move_on(conn, key, owner, "claimed", self.claim_ttl_s)

    def complete(self, key: Key, owner: str, mark: str | None = None) -> bool:
        with self.engine.begin() as conn:
            return self._move_on(conn, key, owner, "done", self.expiry_s, mark=mark)

    def mark_of(self, key: Key) -> str | None:
        with self.engine.begin() as conn:
            row = conn.execute(_READ, _key(key)).first()
        done = row is not None and row.state == "done" and row.until > _ms(self.clock())
        return row.mark if done and row is not None else None

    def release(self, key: Key, owner: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(_RELEASE, {**_key(key), "b_owner": owner}).rowcount == 1)

    def complete_step(self, key: Key, step: str, owner: str) -> bool:
        """Record ``step`` done, in one transaction with a check (and renewal) of the claim."""
        until = _ms(self.clock() + self.expiry_s)
        with self.engine.begin() as conn:
            if not self._move_on(conn, key, owner, "claimed", self.claim_ttl_s):
                return False
            params = {**_key(key, step), "b_new_owner": owner, "b_new_until": until}
            if conn.execute(_STEP_DONE_AGAIN, params).rowcount == 0:  # a step done before may linger past expiry
                doc_id, index = key
                row = {"doc_id": doc_id, "event_index": index, "step": step, "state": "done", "owner": owner}
                conn.execute(_INSERT, {**row, "until": until, "mark": None})
        return True

    def steps_done(self, key: Key) -> set[str]:
        with self.engine.begin() as conn:
            rows = conn.execute(_STEPS_DONE, {**_key(key), "b_now": _ms(self.clock())}).all()
        return {row.step for row in rows}

    def purge(self) -> int:
        """Forget records whose expiry passed."""
        with self.engine.begin() as conn:
            return int(conn.execute(_PURGE, {"b_now": _ms(self.clock())}).rowcount or 0)

    def _move_on(
        self, conn: Connection, key: Key, owner: str, state: str, ttl_s: float, mark: str | None = None
    ) -> bool:
        params = {**_key(key), "b_owner": owner, "b_new_state": state, "b_new_until": _ms(self.clock() + ttl_s)}
        return bool(conn.execute(_MOVE_ON, {**params, "b_mark": mark}).rowcount == 1)

    def _maybe_purge(self) -> None:
        self._claims += 1
        if self._claims % 1000 == 0:
            self.purge()


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _key(key: Key, step: str = EVENT) -> dict[str, object]:
    doc_id, index = key
    return {"b_doc": doc_id, "b_index": index, "b_step": step}


# Every statement the store runs, built once (building SQLAlchemy expressions per call cost more
# than the SQLite work itself); parameters are named b_* to stay clear of the column names.
_KEY = (_seen.c.doc_id == bindparam("b_doc"), _seen.c.event_index == bindparam("b_index"))
_RECORD = (*_KEY, _seen.c.step == bindparam("b_step"))
_OWNED = (*_RECORD, _seen.c.state == "claimed", _seen.c.owner == bindparam("b_owner"))
_INSERT = insert(_seen)
_READ = select(_seen.c.state, _seen.c.until, _seen.c.mark).where(*_RECORD)
_TAKE_OVER = (
    update(_seen)
    .where(*_RECORD, _seen.c.state == bindparam("b_state"), _seen.c.until == bindparam("b_until"))
    .values(state="claimed", owner=bindparam("b_new_owner"), until=bindparam("b_new_until"), mark=None)
)
_MOVE_ON = (
    update(_seen)
    .where(*_OWNED)
    .values(state=bindparam("b_new_state"), until=bindparam("b_new_until"), mark=bindparam("b_mark"))
)
_RELEASE = delete(_seen).where(*_OWNED)
_STEP_DONE_AGAIN = (
    update(_seen).where(*_RECORD).values(state="done", owner=bindparam("b_new_owner"), until=bindparam("b_new_until"))
)
_STEPS_DONE = select(_seen.c.step).where(*_KEY, _seen.c.step != EVENT, _seen.c.until > bindparam("b_now"))
_PURGE = delete(_seen).where(_seen.c.until < bindparam("b_now"))


def SQLiteDedup(path: str, **kwargs: Any) -> SQLDedup:
    """A file-backed store: the default for a consumer on one machine."""
    return SQLDedup(f"sqlite:///{path}", **kwargs)


def open_dedup(url: str | None, **kwargs: Any) -> DedupStore:
    """``memory:`` (or None) → MemoryDedup; ``sqlite:///path``, ``postgresql://…`` or a plain path → SQLDedup."""
    if url is None or url in ("memory", "memory:"):
        return MemoryDedup(**kwargs)
    if "://" not in url:
        return SQLiteDedup(url, **kwargs)
    return SQLDedup(url, **kwargs)


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


__all__ = ["EVENT", "DedupStore", "MemoryDedup", "SQLDedup", "SQLiteDedup", "Verdict", "open_dedup"]
