"""The one source of "now" for the whole server.

Expiry, abandonment, auto-approval and (later) delivery backoff read it. ``SystemClock`` is wall
time; ``VirtualClock`` is wall time plus an offset that only moves forward, so tests can make hours
pass in milliseconds. The offset is stored in the database by whoever moves it (``timers``), so a
restart keeps it, and read from there (``shared``) so every process of a deployment tells one time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)


class VirtualClock:
    """Wall time shifted by an offset that ``advance`` moves forward."""

    def __init__(self, offset_ms: int = 0, shared: Callable[[], int] | None = None) -> None:
        """``shared`` reads the deployment's stored offset: each reading of the time takes it if it is
        ahead, so an advance made by another process is seen by the very next request here."""
        self._offset_ms = offset_ms
        self._shared = shared
        # Re-entrant: ``advance_to`` reads now under the lock, and that reading takes a later stored
        # offset (``set_offset``, the same lock) when another process advanced meanwhile. With a plain
        # lock that thread waited on itself for good, and every reading of the time after it.
        self._lock = threading.RLock()

    @property
    def offset_ms(self) -> int:
        self._catch_up()
        return self._offset_ms

    def now_ms(self) -> int:
        self._catch_up()
        return int(time.time() * 1000) + self._offset_ms

    def _catch_up(self) -> None:
        if self._shared is None:
            return
        stored = self._shared()
        if stored > self._offset_ms:
            self.set_offset(stored)

    def advance_to(self, when_ms: int) -> None:
        """Move now to ``when_ms`` if that is later; never moves backwards."""
        with self._lock:
            delta = when_ms - self.now_ms()
            if delta > 0:
                self._offset_ms += delta

    def set_offset(self, offset_ms: int) -> None:
        with self._lock:
            self._offset_ms = max(self._offset_ms, offset_ms)
