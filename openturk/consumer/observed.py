"""What the consumer has handled, by meaning: (EventType, HITId, AssignmentId) → latest EventTimestamp.

The de-duplication store answers "was this delivery handled?" by (EventDocId, index); the
reconciliation sweeper needs "was this *happening* handled?" — the same question asked of the
server's state, where no EventDocId exists. A store records every event the router finished
(``record``) and answers, per HIT, which (event type, assignment) pairs were seen and the latest
EventTimestamp of each (``seen_for``), in whole epoch seconds of the server's clock.

DECISION: an event without ``EventTimestamp`` (hand-written documents only) counts as seen at any
time (``ALWAYS``). Records are kept ``expiry_s`` (default 30 days): keep it longer than your HITs
stay Reviewable, or dispose of reviewed HITs, or the sweeper will repair them again.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from sqlalchemy import BigInteger, Column, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from openturk.consumer.dedup import _engine
from openturk.consumer.events import Event

DEFAULT_EXPIRY_S = 30 * 24 * 3600.0
ALWAYS = 2**62  # "seen at any time": the timestamp of an event that had none

SeenKey = tuple[str, str | None]  # (EventType, AssignmentId)


class ObservedStore(Protocol):
    def record(self, event: Event) -> None: ...
    def seen_for(self, hit_id: str) -> dict[SeenKey, int]: ...


def event_time(event: Event) -> int:
    return int(event.event_timestamp.timestamp()) if event.event_timestamp is not None else ALWAYS


class MemoryObserved:
    """In-process twin of ``SQLObserved``: for tests, and a consumer and sweeper in one process."""

    def __init__(self) -> None:
        self._by_hit: dict[str, dict[SeenKey, int]] = {}
        self._lock = threading.Lock()

    def record(self, event: Event) -> None:
        if event.hit_id is None:
            return
        with self._lock:
            seen = self._by_hit.setdefault(event.hit_id, {})
            key = (event.event_type, event.assignment_id)
            seen[key] = max(seen.get(key, 0), event_time(event))

    def seen_for(self, hit_id: str) -> dict[SeenKey, int]:
        with self._lock:
            return dict(self._by_hit.get(hit_id, {}))


_metadata = MetaData()
_observed = Table(
    "openturk_observed_events",
    _metadata,
    Column("hit_id", String(128), primary_key=True),
    Column("event_type", String(64), primary_key=True),
    Column("assignment_id", String(128), primary_key=True),  # "" for HIT events
    Column("event_time", BigInteger, nullable=False),  # epoch s, latest EventTimestamp seen
    Column("recorded_at", BigInteger, nullable=False),  # epoch s, for purge
)


class SQLObserved:
    """A persistent store in SQLite or PostgreSQL, shared by consumer processes and the sweeper.

    It may live in the same database (file) as the de-duplication store; its table is its own.
    """

    def __init__(self, url: str, expiry_s: float = DEFAULT_EXPIRY_S) -> None:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        if "://" not in url:
            url = f"sqlite:///{url}"
        self.engine = _engine(url)
        self.expiry_s = expiry_s
        _metadata.create_all(self.engine)

    def record(self, event: Event) -> None:
        if event.hit_id is None:
            return
        now, happened = int(time.time()), event_time(event)
        where = (
            _observed.c.hit_id == event.hit_id,
            _observed.c.event_type == event.event_type,
            _observed.c.assignment_id == (event.assignment_id or ""),
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(_observed).values(
                        hit_id=event.hit_id,
                        event_type=event.event_type,
                        assignment_id=event.assignment_id or "",
                        event_time=happened,
                        recorded_at=now,
                    )
                )
            return
        except IntegrityError:
            pass  # seen before: keep the later time
        with self.engine.begin() as conn:
            conn.execute(update(_observed).where(*where).values(recorded_at=now))
            conn.execute(update(_observed).where(*where, _observed.c.event_time < happened).values(event_time=happened))

    def seen_for(self, hit_id: str) -> dict[SeenKey, int]:
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(_observed.c.event_type, _observed.c.assignment_id, _observed.c.event_time).where(
                    _observed.c.hit_id == hit_id
                )
            ).all()
        return {(row.event_type, row.assignment_id or None): int(row.event_time) for row in rows}

    def purge(self) -> int:
        """Forget records older than ``expiry_s``."""
        cutoff = int(time.time() - self.expiry_s)
        with self.engine.begin() as conn:
            return int(conn.execute(delete(_observed).where(_observed.c.recorded_at < cutoff)).rowcount or 0)


def open_observed(url: str | None) -> ObservedStore:
    """``memory:`` (or None) → MemoryObserved; ``sqlite:///path``, ``postgresql://…`` or a path → SQLObserved."""
    if url is None or url in ("memory", "memory:"):
        return MemoryObserved()
    return SQLObserved(url)


__all__ = ["ALWAYS", "MemoryObserved", "ObservedStore", "SQLObserved", "open_observed"]
