"""What the embedded local AWS keeps across restarts: moto's SQS and SNS backends, pickled to one file.

A snapshot holds every account and region of moto's SQS and SNS: queues with their attributes,
policies, tags and messages (visible, delayed and in flight, with their ids, receipt handles,
receive counts and visibility deadlines, which moto keeps as wall-clock times), topics with their
attributes and policies, and subscriptions with their filter policies. It is written atomically
(temporary file, fsync, rename): a reader finds the previous snapshot or the new one, never a torn one.

Only the process that runs moto's server uses this module: moto's backends are globals of that
process. Every request there runs holding ``STATE_LOCK``, so a snapshot never sees half a change.
"""

from __future__ import annotations

import copyreg
import functools
import io
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Any

# Held by each request while moto runs it and by each snapshot while it pickles. Reentrant because
# moto's queues take their own Condition inside a request, and that Condition is built on this lock.
STATE_LOCK = threading.RLock()
_FORMAT = 1
_CONDITION = "threading.Condition"  # how snapshots written before the dispatch table named one


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
    lets the lock go, so one idle long poll does not stop every other request (and every snapshot)
    for up to 20 seconds.
    """
    import moto.sqs.models

    # moto's Queue calls the module's name ``Condition()``; replacing that name is the one seam.
    vars(moto.sqs.models)["Condition"] = functools.partial(threading.Condition, STATE_LOCK)


def waiting_on_state_lock() -> threading.Condition:
    """What a pickled queue Condition becomes when loaded: one built on ``STATE_LOCK`` again.
    Named at module level, so snapshots refer to it by name."""
    return threading.Condition(STATE_LOCK)


def _condition_by_name(_condition: threading.Condition) -> tuple[Any, tuple[()]]:
    return waiting_on_state_lock, ()


# A lock cannot be pickled: each queue's Condition is stored as a call to ``waiting_on_state_lock``.
# A dispatch table rather than ``persistent_id``: the C pickler looks a type up in the table, where
# ``persistent_id`` was a Python call for every object pickled, 8 times the cost of a snapshot of
# a queue holding thousands of messages (and every request of a durable local AWS waits for one).
_DISPATCH_TABLE = {**copyreg.dispatch_table, threading.Condition: _condition_by_name}


class _Unpickler(pickle.Unpickler):
    # Snapshots written before the dispatch table stored each Condition as a persistent id.
    def persistent_load(self, pid: Any) -> Any:
        if pid == _CONDITION:
            return waiting_on_state_lock()
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def snapshot() -> bytes:
    """The current SQS and SNS state as bytes. The caller holds ``STATE_LOCK``."""
    services = {
        name: {account: dict(regions) for account, regions in backends.items()}
        for name, backends in _service_backends().items()
    }
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH_TABLE
    pickler.dump({"format": _FORMAT, "moto": _moto_version(), "services": services})
    return buffer.getvalue()


def write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably; readable by the owner only."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb", closefd=False) as file:
            file.write(data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def restore(path: Path) -> bool:
    """Load ``path`` into moto's backends; False when there is no file (a first start).

    Raises ``StateUnreadable`` when the file cannot be loaded; nothing is changed then. A file from
    another moto version is refused rather than loaded: moto's classes change between versions, and
    a half-fitting object would fail later, inside some request, instead of now.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StateUnreadable(f"{path} cannot be read: {exc}") from exc
    try:
        loaded = _Unpickler(io.BytesIO(data)).load()
        if loaded.get("format") != _FORMAT or loaded.get("moto") != _moto_version():
            raise StateUnreadable(
                f"{path} was written by moto {loaded.get('moto')} (format {loaded.get('format')}); "
                f"this is moto {_moto_version()}"
            )
        services = loaded["services"]
    except StateUnreadable:
        raise
    except Exception as exc:  # unpickling fails in many ways, and each means the same here
        raise StateUnreadable(f"{path} is not a readable local AWS state file: {exc}") from exc
    backends = _service_backends()
    for name, accounts in services.items():
        for account, regions in accounts.items():
            for region, backend in regions.items():
                backends[name][account][region] = backend
    return True


def restore_or_set_aside(path: Path) -> str | None:
    """Load ``path`` if it is there; an unreadable file is renamed aside (kept) and the state starts empty.

    Returns None, or the warning to log: why the file was set aside and where it went.
    """
    try:
        restore(path)
    except StateUnreadable as exc:
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        path.replace(aside)
        return f"{exc}; it was moved to {aside} and the local AWS starts empty"
    return None
