"""What the embedded local AWS keeps across restarts: moto's SQS and SNS backends, in one SQLite file.

The file holds every account and region of moto's SQS and SNS: queues with their attributes,
policies, tags and messages (visible, delayed and in flight, with their ids, receipt handles,
receive counts and visibility deadlines, which moto keeps as wall-clock times), topics with their
attributes and policies, and subscriptions with their filter policies.

Each save writes only what changed since the last one (``StateFile.capture``, then ``write``), in
one SQLite transaction: a reader finds the previous state or the new one, never half of a change,
and a save costs what the requests it covers changed, not what the queues hold. The layout:

* ``meta``: the format, the moto version, and the *skeleton*: the backends pickled with every queue's
  messages and deleted receipt handles taken out (queues, attributes, policies, topics with their
  bounded history, subscriptions);
* ``messages``: one row per SQS message (its queue, whether it is in flight, the pickled message),
  ordered by ``seq``, which follows each queue's order;
* ``deleted_handles``: the receipt handles each queue remembers as deleted, oldest first.

Which messages changed is known without pickling them all: a message's attribute assignments mark it
(``_track_changes``: a receive changes its handle, count and visibility), and only the queues a
request looked up are compared with the file (their messages' ids, in-flight set and marks).

Only the process that runs moto's server uses this module: moto's backends are globals of that
process. Every request there runs holding ``STATE_LOCK``, so a save never sees half a change.

moto also keeps histories that only grow: each queue's deleted receipt handles (to accept a second
delete of one), each topic's published messages (for moto's own tests), and every model instance it
ever made (for its debugging API). ``bound_histories`` caps the first two and stops the third in
this process: a local AWS that runs for months must not slow down or fill its memory with them.
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import io
import os
import pickle
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Held by each request while moto runs it and by each save while it reads the state. Reentrant because
# moto's queues take their own Condition inside a request, and that Condition is built on this lock.
STATE_LOCK = threading.RLock()
_FORMAT = 2  # 1: the whole state as one pickle (still read, and rewritten in this format)
_CONDITION = "threading.Condition"  # how format-1 files written before the dispatch table named one
_SQLITE_HEADER = b"SQLite format 3\x00"
# Deleted receipt handles a queue remembers (a second DeleteMessage of one of them succeeds, as on SQS),
# and published messages a topic keeps for moto's tests: the most recent ones.
DELETED_HANDLES_KEPT = 10_000
PUBLISHED_KEPT = 10


class StateUnreadable(Exception):
    """The state file exists but cannot be loaded (corrupt, or written by another moto version)."""


def _moto_version() -> str:
    import moto  # imported when used: ``openturk serve`` imports this module and needs no moto

    return str(moto.__version__)


def _service_backends() -> dict[str, Any]:
    from moto.sns.models import sns_backends
    from moto.sqs.models import sqs_backends

    return {"sqs": sqs_backends, "sns": sns_backends}


def bind_queue_conditions() -> None:
    """Make every queue moto creates wait for messages on a Condition of ``STATE_LOCK``.

    A long-polling ReceiveMessage waits on its queue's Condition; built on ``STATE_LOCK``, the wait
    lets the lock go, so one idle long poll does not stop every other request (and every save)
    for up to 20 seconds.
    """
    import moto.sqs.models

    # moto's Queue calls the module's name ``Condition()``; replacing that name is the one seam.
    vars(moto.sqs.models)["Condition"] = functools.partial(threading.Condition, STATE_LOCK)


def waiting_on_state_lock() -> threading.Condition:
    """What a pickled queue Condition becomes when loaded: one built on ``STATE_LOCK`` again.
    Named at module level, so saved state refers to it by name."""
    return threading.Condition(STATE_LOCK)


def _condition_by_name(_condition: threading.Condition) -> tuple[Any, tuple[()]]:
    return waiting_on_state_lock, ()


# A lock cannot be pickled: each queue's Condition is stored as a call to ``waiting_on_state_lock``.
# A dispatch table rather than ``persistent_id``: the C pickler looks a type up in the table, where
# ``persistent_id`` was a Python call for every object pickled.
_DISPATCH_TABLE = {**copyreg.dispatch_table, threading.Condition: _condition_by_name}


def _pickled(value: Any) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH_TABLE
    pickler.dump(value)
    return buffer.getvalue()


class _Unpickler(pickle.Unpickler):
    # Format-1 files written before the dispatch table stored each Condition as a persistent id.
    def persistent_load(self, pid: Any) -> Any:
        if pid == _CONDITION:
            return waiting_on_state_lock()
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def _unpickled(data: bytes) -> Any:
    return _Unpickler(io.BytesIO(data)).load()


# -- moto's histories ---------------------------------------------------------------------------------------
class RecentSet:
    """The set moto keeps a queue's deleted receipt handles in, remembering the ``limit`` most recent."""

    def __init__(self, items: Iterable[str | None] = (), limit: int | None = None) -> None:
        self.limit = limit or DELETED_HANDLES_KEPT
        self._items: dict[str, None] = {}
        self.update(items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: str | None) -> None:
        if item is None:  # moto lists a message's first handle, None, among its old ones
            return
        self._items.pop(item, None)
        self._items[item] = None
        if len(self._items) > self.limit:
            del self._items[next(iter(self._items))]

    def update(self, items: Iterable[str | None]) -> None:
        for item in items:
            self.add(item)

    def discard(self, item: str) -> None:
        self._items.pop(item, None)


class RecentList(list[Any]):  # holds whatever moto appends
    """The list moto keeps a topic's published messages in, keeping the ``PUBLISHED_KEPT`` most recent."""

    def append(self, item: Any) -> None:
        super().append(item)
        if len(self) > 2 * PUBLISHED_KEPT:  # trimmed in steps, so an append stays O(1) on average
            del self[:-PUBLISHED_KEPT]


class _Untracked(list[Any]):
    """moto's per-class list of every instance ever made, which keeps none."""

    def append(self, item: Any) -> None:
        pass


def bound_histories() -> None:
    """Cap the histories moto's SQS and SNS models keep, in queues and topics made from now on (and,
    through ``StateFile.restore``, in those loaded), and stop moto tracking every instance it makes."""
    from moto.core.base_backend import model_data  # type: ignore[attr-defined]
    from moto.sns.models import Topic
    from moto.sqs.models import Queue

    if getattr(Queue.__init__, "_openturk_bounded", False):
        return
    queue_init, topic_init = Queue.__init__, Topic.__init__

    def queue_initialised(self: Any, *args: Any, **kwargs: Any) -> None:
        queue_init(self, *args, **kwargs)
        _bound_queue(self)

    def topic_initialised(self: Any, *args: Any, **kwargs: Any) -> None:
        topic_init(self, *args, **kwargs)
        _bound_topic(self)

    queue_initialised._openturk_bounded = True  # type: ignore[attr-defined]
    Queue.__init__ = queue_initialised  # type: ignore[method-assign]
    Topic.__init__ = topic_initialised  # type: ignore[method-assign]
    for service in ("sqs", "sns"):
        for model in model_data[service].values():
            model.instances_tracked = _Untracked()  # type: ignore[attr-defined]


def _bound_queue(queue: Any) -> None:
    if not isinstance(queue.deleted_messages, RecentSet):
        queue.deleted_messages = RecentSet(queue.deleted_messages)


def _bound_topic(topic: Any) -> None:
    if not isinstance(topic.sent_notifications, RecentList):
        topic.sent_notifications = RecentList(topic.sent_notifications[-PUBLISHED_KEPT:])


# -- what changed ---------------------------------------------------------------------------------------------
_TOUCHED: set[int] = set()  # ids of the SQS messages whose attributes were assigned since the last save
_REACHED: set[int] = set()  # ids of the SQS queues a request looked up since the last save


def _track_changes() -> None:
    """Mark every moto SQS message whose attribute is assigned (a receive, a visibility change), and
    every queue a request looks up (``SQSBackend.get_queue``: every message operation does, SNS's
    deliveries to SQS included).

    Ids, not the objects: a mark outliving its object (a copy moto made for an answer) costs at most a
    look at one more queue or one more row written, never a change missed.
    """
    from moto.sqs.models import Message, SQSBackend

    if getattr(Message.__setattr__, "_openturk_marks", False):
        return

    def marking(self: Any, name: str, value: Any) -> None:
        _TOUCHED.add(id(self))
        object.__setattr__(self, name, value)

    look_up = SQSBackend.get_queue

    def get_queue(self: Any, queue_name: str) -> Any:
        queue = look_up(self, queue_name)
        _REACHED.add(id(queue))
        return queue

    marking._openturk_marks = True  # type: ignore[attr-defined]
    Message.__setattr__ = marking  # type: ignore[method-assign]
    SQSBackend.get_queue = get_queue  # type: ignore[method-assign]


def _queues(services: dict[str, Any]) -> Iterator[tuple[tuple[str, str, str], Any]]:
    """Every SQS queue in ``services`` (``{"sqs": {account: {region: backend}}, …}``), by (account, region, name)."""
    for account, regions in services["sqs"].items():
        for region, backend in dict(regions).items():
            for name, queue in list(backend.queues.items()):
                yield (account, region, name), queue


def _live_services() -> dict[str, Any]:
    return {
        name: {account: dict(regions) for account, regions in backends.items()}
        for name, backends in _service_backends().items()
    }


@dataclass
class _Saved:
    """A message as the file has it."""

    message: Any  # held, so its id is not reused while the file has it
    seq: int
    queue: tuple[str, str, str]
    in_flight: bool


@dataclass
class _Loaded:
    """A state file read: the backends (messages not yet in their queues) and the rows."""

    services: dict[str, Any]
    skeleton: bytes | None  # None: a format-1 file
    rows: list[tuple[Any, ...]]
    handles: list[tuple[str, str, str, str]]
    seqs: dict[int, int] = field(default_factory=dict)  # by id(message) (in its queue meanwhile): its row


@dataclass
class Changes:
    """What one save writes: everything (``full``), or the rows that changed and the skeleton if it did."""

    full: bool = False
    skeleton: bytes | None = None
    rows: list[tuple[int, str, str, str, int, bytes]] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    # Deleted receipt handles a queue remembers: (account, region, queue, handle) added and forgotten.
    handles: list[tuple[str, str, str, str]] = field(default_factory=list)
    handles_gone: list[tuple[str, str, str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.full or self.skeleton is not None or any((self.rows, self.gone, self.handles, self.handles_gone))


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,"
    " queue TEXT NOT NULL, in_flight INTEGER NOT NULL, message BLOB NOT NULL)",
    # In the order the queue remembered them (rowid), so the oldest is forgotten first after a restart too.
    "CREATE TABLE IF NOT EXISTS deleted_handles (account TEXT NOT NULL, region TEXT NOT NULL, queue TEXT NOT NULL,"
    " handle TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS deleted_handles_by_queue ON deleted_handles (account, region, queue, handle)",
)


class StateFile:
    """The local AWS's state file at ``path``: restored once, then saved change by change.

    ``capture`` (holding ``STATE_LOCK``) finds what changed and pickles it; ``write`` (lock let go)
    commits it. One caller at a time (``local_aws_server.Snapshots`` serialises them), in that order:
    a capture assumes the previous one will be written, and a failed write makes the next one whole.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._from_format_1 = False  # the file is a format-1 pickle: the first write replaces it
        self._whole = True  # the next capture takes everything: nothing was written yet, or a write failed
        self._saved: dict[int, _Saved] = {}  # by id(message)
        self._queue: dict[tuple[str, str, str], Any] = {}  # each queue as last saved (a re-created one differs)
        self._order: dict[tuple[str, str, str], list[int]] = {}  # each queue's message ids, as last saved
        self._in_flight: dict[tuple[str, str, str], set[int]] = {}
        self._handles: dict[tuple[str, str, str], set[str]] = {}  # each queue's deleted handles, as last saved
        self._skeleton: bytes | None = None
        self._next_seq = 1
        bound_histories()
        _track_changes()

    # -- loading --------------------------------------------------------------------------------------------
    def restore(self) -> bool:
        """Load the file into moto's backends; False when there is none (a first start).

        Raises ``StateUnreadable`` when it cannot be loaded; nothing is changed then. A file from
        another moto version is refused rather than loaded: moto's classes change between versions, and
        a half-fitting object would fail later, inside some request, instead of now.
        """
        try:
            with self.path.open("rb") as file:
                header = file.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StateUnreadable(f"{self.path} cannot be read: {exc}") from exc
        try:
            if header == _SQLITE_HEADER or not header:
                loaded = self._load_rows()
                if loaded is None:
                    return False
            else:
                loaded = self._load_format_1()
            self._attach(loaded)
        except StateUnreadable:
            raise
        except Exception as exc:  # unpickling and reading fail in many ways, and each means the same here
            raise StateUnreadable(f"{self.path} is not a readable local AWS state file: {exc}") from exc
        self._install(loaded)
        return True

    def restore_or_set_aside(self) -> str | None:
        """``restore``, except that an unreadable file is renamed aside (kept) and the state starts empty.

        Returns None, or the warning to log: why the file was set aside and where it went.
        """
        try:
            self.restore()
        except StateUnreadable as exc:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):  # SQLite's companions belong to the file set aside
                companion = self.path.with_name(self.path.name + suffix)
                if companion.exists():
                    companion.replace(aside.with_name(aside.name + suffix))
            return f"{exc}; it was moved to {aside} and the local AWS starts empty"
        return None

    def _check_version(self, file_format: Any, moto_version: Any) -> None:
        if file_format not in (1, _FORMAT) or moto_version != _moto_version():
            raise StateUnreadable(
                f"{self.path} was written by moto {moto_version} (format {file_format}); this is moto {_moto_version()}"
            )

    def _load_format_1(self) -> _Loaded:
        loaded = _unpickled(self.path.read_bytes())
        self._check_version(loaded.get("format"), loaded.get("moto"))
        return _Loaded(dict(loaded["services"]), skeleton=None, rows=[], handles=[])

    def _load_rows(self) -> _Loaded | None:
        connection = sqlite3.connect(self.path)  # read-write: a crash's -wal is recovered on opening
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "meta" not in tables:
                return None  # created, and the process stopped before its first save committed
            meta = dict(connection.execute("SELECT name, value FROM meta"))
            if "skeleton" not in meta:
                return None
            self._check_version(int(meta["format"]), bytes(meta["moto"]).decode())
            rows = connection.execute(
                "SELECT seq, account, region, queue, in_flight, message FROM messages ORDER BY seq"
            )
            handles = connection.execute("SELECT account, region, queue, handle FROM deleted_handles ORDER BY rowid")
            skeleton = bytes(meta["skeleton"])
            return _Loaded(dict(_unpickled(skeleton)["services"]), skeleton, rows.fetchall(), handles.fetchall())
        finally:
            connection.close()

    def _attach(self, loaded: _Loaded) -> None:
        """Put the messages and deleted handles in their queues, in the loaded backends (not yet moto's)."""
        queues = dict(_queues(loaded.services))

        def queue_of(account: str, region: str, name: str) -> Any:
            queue = queues.get((account, region, name))
            if queue is None:
                raise StateUnreadable(f"{self.path} has messages of {account}/{region}/{name}, a queue it lacks")
            return queue

        for seq, account, region, name, in_flight, data in loaded.rows:
            queue, message = queue_of(account, region, name), pickle.loads(data)
            queue._messages.append(message)
            if in_flight:
                queue._pending_messages.add(message)
            loaded.seqs[id(message)] = seq
        for account, region, name, handle in loaded.handles:
            queue_of(account, region, name).deleted_messages.add(handle)

    def _install(self, loaded: _Loaded) -> None:
        """Loaded backends become moto's, and what the file holds is what the next capture compares with."""
        queues = dict(_queues(loaded.services))
        for key, queue in queues.items():
            _bound_queue(queue)
            for message in queue._messages:
                if id(message) in loaded.seqs:  # (format 1 has no rows: its first save is whole)
                    seq = loaded.seqs[id(message)]
                    self._saved[id(message)] = _Saved(message, seq, key, message in queue._pending_messages)
                    self._next_seq = max(self._next_seq, seq + 1)
            self._queue[key] = queue
            self._order[key] = [id(m) for m in queue._messages]
            self._in_flight[key] = {id(m) for m in queue._pending_messages}
            self._handles[key] = set(queue.deleted_messages)
        for regions in loaded.services.get("sns", {}).values():
            for backend in regions.values():
                for topic in backend.topics.values():
                    _bound_topic(topic)
        backends = _service_backends()
        for name, accounts in loaded.services.items():
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    backends[name][account][region] = backend
        if loaded.skeleton is None:
            self._from_format_1 = True  # the first write replaces the pickle with the SQLite file, whole
        else:  # the file has it all: the next capture takes only what changes
            self._skeleton, self._whole = loaded.skeleton, False

    # -- saving ---------------------------------------------------------------------------------------------
    def capture(self) -> Changes:
        """What changed since the last capture, pickled. The caller holds ``STATE_LOCK``."""
        whole = self._whole
        changes = Changes(full=whole)
        touched, reached = set(_TOUCHED), set(_REACHED)
        _TOUCHED.clear()
        _REACHED.clear()
        services = _live_services()
        queues = dict(_queues(services))
        for key in self._queue.keys() - queues.keys():  # deleted queues: their messages go with them
            self._forget(key, self._order.pop(key, []), changes)
            self._in_flight.pop(key, None)
            changes.handles_gone += [(*key, handle) for handle in self._handles.pop(key, set())]
            del self._queue[key]
        if whole:
            examined = set(queues)
        else:
            examined = {
                key for key, queue in queues.items() if id(queue) in reached or self._queue.get(key) is not queue
            }
            examined.update(saved.queue for i in touched if (saved := self._saved.get(i)) is not None)
            # A receive moves messages received too often to the queue's dead-letter queue, unlooked-up.
            dead_letters = {id(queues[k].dead_letter_queue) for k in examined if k in queues}
            examined.update(key for key, queue in queues.items() if id(queue) in dead_letters)
        for key in examined & queues.keys():
            queue = queues[key]
            self._queue[key] = queue
            ids = list(map(id, queue._messages))
            flying = set(map(id, queue._pending_messages))
            before, flying_before = self._order.get(key, []), self._in_flight.get(key, set())
            if whole or not self._capture_in_order(key, queue, ids, before, flying, flying_before, touched, changes):
                self._forget(key, set(before).difference(ids), changes)
                self._capture_queue(key, queue, flying, touched, whole, changes)
            self._order[key], self._in_flight[key] = ids, flying
            self._capture_handles(key, queue, whole, changes)
        skeleton = self._capture_skeleton(services)
        if whole or skeleton != self._skeleton:
            changes.skeleton = self._skeleton = skeleton
        self._whole = False
        return changes

    def _capture_handles(self, key: tuple[str, str, str], queue: Any, whole: bool, changes: Changes) -> None:
        _bound_queue(queue)  # a queue made before ``bound_histories`` (this process's tests) has moto's set
        remembered = queue.deleted_messages
        before = set() if whole else self._handles.get(key, set())
        now = set(remembered)
        if now != before:
            changes.handles += [(*key, handle) for handle in remembered if handle not in before]
            changes.handles_gone += [(*key, handle) for handle in before - now]
            self._handles[key] = now

    def _forget(self, key: tuple[str, str, str], removed: Iterable[int], changes: Changes) -> None:
        """Rows to delete: messages that left ``key`` (unless another queue took them first: a new row there)."""
        for message_id in removed:
            saved = self._saved.get(message_id)
            if saved is not None and saved.queue == key:
                changes.gone.append(saved.seq)
                del self._saved[message_id]

    def _capture_in_order(
        self,
        key: tuple[str, str, str],
        queue: Any,
        ids: list[int],
        before: list[int],
        flying: set[int],
        flying_before: set[int],
        touched: set[int],
        changes: Changes,
    ) -> bool:
        """The usual change, by comparing lists of ids rather than walking the queue: messages removed
        anywhere, new ones appended at the end (moto's queues only append), some marked or in flight.
        False, having written nothing, when the queue changed otherwise (``_capture_queue`` then walks it)."""
        kept = len(before)
        if ids[:kept] != before:  # some left the queue: the others must still be in their order
            present = set(ids)
            stayed = [i for i in before if i in present]
            kept = len(stayed)
            if ids[:kept] != stayed:
                return False
            self._forget(key, [i for i in before if i not in present], changes)
        messages = queue._messages
        for index in range(kept, len(ids)):  # new here, in the queue's order: new seqs at the end
            saved = self._saved.get(ids[index])
            if saved is not None:  # moved from another queue (to a dead-letter queue)
                changes.gone.append(saved.seq)
            self._write_row(key, messages[index], None, ids[index] in flying, changes)
        appended = set(ids[kept:])
        for message_id in (touched | (flying ^ flying_before)) - appended:
            saved = self._saved.get(message_id)
            if saved is not None and saved.queue == key:  # still here: what left was forgotten above
                self._write_row(key, saved.message, saved, message_id in flying, changes)
        return True

    def _write_row(
        self, key: tuple[str, str, str], message: Any, saved: _Saved | None, flying: bool, changes: Changes
    ) -> None:
        if saved is None:
            saved = self._saved[id(message)] = _Saved(message, self._next_seq, key, flying)
            self._next_seq += 1
        saved.in_flight = flying
        changes.rows.append((saved.seq, *key, int(flying), _pickled(message)))

    def _capture_queue(
        self, key: tuple[str, str, str], queue: Any, flying: set[int], touched: set[int], whole: bool, changes: Changes
    ) -> None:
        """Every message of ``queue`` walked in order: what is new here or out of the file's order gets a new
        seq at the end, what changed (everything when ``whole``) is written again."""
        last_seq = 0
        for message in queue._messages:
            saved = self._saved.get(id(message))
            is_flying = id(message) in flying
            # (``_saved`` holds each message it names, so an id there is that message's, never reused.)
            if saved is None or saved.queue != key or saved.seq <= last_seq:
                if saved is not None:
                    changes.gone.append(saved.seq)
                saved = None
            elif not (whole or id(message) in touched or saved.in_flight != is_flying):
                last_seq = saved.seq
                continue
            self._write_row(key, message, saved, is_flying, changes)
            last_seq = self._saved[id(message)].seq

    @staticmethod
    def _capture_skeleton(services: dict[str, Any]) -> bytes:
        """The backends pickled with every queue's messages and deleted handles taken out for the while (the
        lock is held)."""
        taken = []
        try:
            for _key, queue in _queues(services):
                taken.append((queue, queue._messages, queue._pending_messages, queue.deleted_messages))
                queue._messages, queue._pending_messages = [], set()
                queue.deleted_messages = RecentSet(limit=getattr(queue.deleted_messages, "limit", DELETED_HANDLES_KEPT))
            return _pickled({"services": services})
        finally:
            for queue, messages, pending, deleted in taken:
                queue._messages, queue._pending_messages, queue.deleted_messages = messages, pending, deleted

    def write(self, changes: Changes) -> None:
        """Commit ``changes`` in one transaction. Raises ``OSError`` when the file cannot be written;
        the next capture is then whole."""
        if not changes:
            return
        try:
            if self._from_format_1:
                self._replace_format_1(changes)
            else:
                self._commit(self._connect(), changes)
        except (sqlite3.Error, OSError) as exc:
            self._whole = True
            self.close()
            raise OSError(f"the local AWS state could not be written to {self.path}: {exc}") from exc

    def _commit(self, connection: sqlite3.Connection, changes: Changes) -> None:
        with connection:
            if changes.full:
                connection.execute("DELETE FROM messages")
                connection.execute("DELETE FROM deleted_handles")
                connection.execute("DELETE FROM meta")
                connection.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [("format", str(_FORMAT).encode()), ("moto", _moto_version().encode())],
                )
            connection.executemany("DELETE FROM messages WHERE seq = ?", [(seq,) for seq in changes.gone])
            connection.executemany("INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?, ?)", changes.rows)
            connection.executemany(
                "DELETE FROM deleted_handles WHERE account = ? AND region = ? AND queue = ? AND handle = ?",
                changes.handles_gone,
            )
            connection.executemany("INSERT INTO deleted_handles VALUES (?, ?, ?, ?)", changes.handles)
            if changes.skeleton is not None:
                connection.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES ('skeleton', ?)", (changes.skeleton,)
                )

    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        if path is None and self._connection is not None:
            return self._connection
        target = path or self.path
        # Created readable by the owner only (SQLite's -wal and -shm files take the same mode).
        os.close(os.open(target, os.O_RDWR | os.O_CREAT, 0o600))
        # ``with connection`` is one transaction: the sqlite3 module begins it before the first change.
        connection = sqlite3.connect(target, check_same_thread=False)
        connection.execute("PRAGMA journal_mode = " + ("DELETE" if path else "WAL"))
        connection.execute("PRAGMA synchronous = FULL")  # what this endpoint answered is on disk
        for statement in _SCHEMA:
            connection.execute(statement)
        if path is None:
            self._connection = connection
        return connection

    def _replace_format_1(self, changes: Changes) -> None:
        """The first write after loading a format-1 pickle: the whole state into a new file put in its place."""
        assert changes.full
        temporary = self.path.with_name(self.path.name + ".tmp")
        for stale in (temporary, temporary.with_name(temporary.name + "-journal")):
            stale.unlink(missing_ok=True)
        connection = self._connect(temporary)
        try:
            self._commit(connection, changes)
        finally:
            connection.close()
        os.replace(temporary, self.path)
        self._from_format_1 = False

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None

    def save(self) -> None:
        """Capture (taking ``STATE_LOCK``) and write: what tests and a start or stop do."""
        with STATE_LOCK:
            changes = self.capture()
        self.write(changes)
