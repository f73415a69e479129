"""De-duplication by (EventDocId, event index), as the seeds recommend — never by SQS MessageId.

A store answers ``claim(key)`` with one of three verdicts:
- ``CLAIMED``: nobody has handled the event; the caller now holds an in-progress claim for
  ``claim_ttl`` seconds, so a second consumer process does not run it at the same time;
- ``DONE``: handled already (within ``expiry``): skip it;
- ``BUSY``: another consumer holds an unexpired claim: leave the message for later.
``complete(key)`` records success (kept for ``expiry``, default 24 h); ``release(key)`` drops a
claim after a handler failed so the retry can run it.
"""

from __future__ import annotations

import threading
import time
import uuid
from enum import Enum
from typing import Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

DEFAULT_EXPIRY_S = 24 * 3600.0
DEFAULT_CLAIM_TTL_S = 300.0

Key = tuple[str, int]


class Verdict(Enum):
    CLAIMED = "claimed"
    DONE = "done"
    BUSY = "busy"


class DedupStore(Protocol):
    def claim(self, key: Key) -> Verdict: ...
    def complete(self, key: Key) -> None: ...
    def release(self, key: Key) -> None: ...


def _now() -> float:
    return time.time()


class MemoryDedup:
    """In-process twin of the SQL store, for tests and single-process scripts."""

    def __init__(self, expiry_s: float = DEFAULT_EXPIRY_S, claim_ttl_s: float = DEFAULT_CLAIM_TTL_S) -> None:
        self.expiry_s, self.claim_ttl_s = expiry_s, claim_ttl_s
        self._entries: dict[Key, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def claim(self, key: Key) -> Verdict:
        with self._lock:
            state, until = self._entries.get(key, ("", 0.0))
            if until > _now():
                return Verdict.DONE if state == "done" else Verdict.BUSY
            self._entries[key] = ("claimed", _now() + self.claim_ttl_s)
            return Verdict.CLAIMED

    def complete(self, key: Key) -> None:
        with self._lock:
            self._entries[key] = ("done", _now() + self.expiry_s)

    def release(self, key: Key) -> None:
        with self._lock:
            if self._entries.get(key, ("", 0.0))[0] == "claimed":
                del self._entries[key]


_metadata = MetaData()
_seen = Table(
    "openturk_seen_events",
    _metadata,
    Column("doc_id", String(128), primary_key=True),
    Column("event_index", Integer, primary_key=True),
    Column("state", String(8), nullable=False),  # claimed | done
    Column("owner", String(64), nullable=False),
    Column("until", BigInteger, nullable=False),  # epoch ms: claim or record expiry
)


class SQLDedup:
    """A persistent store in SQLite (file) or PostgreSQL, shared by any number of consumers.

    Claims are compare-and-set updates, so two processes never both get ``CLAIMED`` for one key.
    Expired records are swept now and then by ``purge``.
    """

    def __init__(self, url: str, expiry_s: float = DEFAULT_EXPIRY_S, claim_ttl_s: float = DEFAULT_CLAIM_TTL_S) -> None:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        self.engine = _engine(url)
        self.expiry_s, self.claim_ttl_s = expiry_s, claim_ttl_s
        self.owner = uuid.uuid4().hex
        _metadata.create_all(self.engine)
        self._claims = 0

    def claim(self, key: Key) -> Verdict:
        now = int(_now() * 1000)
        until = now + int(self.claim_ttl_s * 1000)
        doc_id, index = key
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(_seen).values(
                        doc_id=doc_id, event_index=index, state="claimed", owner=self.owner, until=until
                    )
                )
            self._maybe_purge()
            return Verdict.CLAIMED
        except IntegrityError:
            pass  # seen before: decide from the record, and take it over only if it expired
        with self.engine.begin() as conn:
            row = conn.execute(
                select(_seen.c.state, _seen.c.until).where(_seen.c.doc_id == doc_id, _seen.c.event_index == index)
            ).first()
            if row is None:
                return Verdict.BUSY  # removed between our insert and read: let the retry decide
            if row.until > now:
                return Verdict.DONE if row.state == "done" else Verdict.BUSY
            taken = conn.execute(
                update(_seen)
                .where(
                    _seen.c.doc_id == doc_id,
                    _seen.c.event_index == index,
                    _seen.c.state == row.state,
                    _seen.c.until == row.until,
                )
                .values(state="claimed", owner=self.owner, until=until)
            ).rowcount
            return Verdict.CLAIMED if taken == 1 else Verdict.BUSY

    def complete(self, key: Key) -> None:
        doc_id, index = key
        with self.engine.begin() as conn:
            conn.execute(
                update(_seen)
                .where(_seen.c.doc_id == doc_id, _seen.c.event_index == index)
                .values(state="done", owner=self.owner, until=int((_now() + self.expiry_s) * 1000))
            )

    def release(self, key: Key) -> None:
        doc_id, index = key
        with self.engine.begin() as conn:
            conn.execute(
                delete(_seen).where(
                    _seen.c.doc_id == doc_id,
                    _seen.c.event_index == index,
                    _seen.c.state == "claimed",
                    _seen.c.owner == self.owner,
                )
            )

    def purge(self) -> int:
        """Forget records whose expiry passed."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(_seen).where(_seen.c.until < int(_now() * 1000))).rowcount or 0)

    def _maybe_purge(self) -> None:
        self._claims += 1
        if self._claims % 1000 == 0:
            self.purge()


def SQLiteDedup(path: str, **kwargs: float) -> SQLDedup:
    """A file-backed store: the default for a consumer on one machine."""
    return SQLDedup(f"sqlite:///{path}", **kwargs)


def open_dedup(url: str | None, **kwargs: float) -> DedupStore:
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


__all__ = ["DedupStore", "MemoryDedup", "SQLDedup", "SQLiteDedup", "Verdict", "open_dedup"]
