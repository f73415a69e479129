"""Keep de-duplication claims alive while their handlers run: the claims' heartbeat.

A claim lapses ``claim_ttl_s`` after it was taken or last renewed, and a lapsed claim may be taken
over by another consumer, which would run the event's handlers a second time. ``ClaimKeeper.held``
marks a claim as in use; one daemon thread renews every claim in use once a third of its store's
``claim_ttl_s`` has passed since its last renewal, so a handler of any length keeps its claim while
its process lives — and a process that dies stops renewing, so its claims lapse and are taken over.

A renewal refused by the store (the claim was lost: the process was paused longer than the TTL and
another owner took the event over) is logged; the store then refuses this owner's ``complete`` too.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from openturk.consumer.dedup import DedupStore, Key

log = logging.getLogger("openturk.consumer.claims")

IDLE_WAIT_S = 60.0  # the thread's longest sleep when nothing is held; a new claim wakes it at once


@dataclass
class _Kept:
    store: DedupStore
    renewed_at: float  # time.monotonic() of the claim or its last renewal

    @property
    def due_at(self) -> float:
        return self.renewed_at + self.store.claim_ttl_s / 3


class ClaimKeeper:
    def __init__(self) -> None:
        self._kept: dict[tuple[Key, str], _Kept] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wake_at = math.inf  # when the renewing thread looks next (under _changed)

    @contextmanager
    def held(self, store: DedupStore, key: Key, owner: str) -> Iterator[None]:
        """Renew ``owner``'s claim of ``key`` in ``store`` until the block ends."""
        kept = _Kept(store, time.monotonic())
        with self._changed:
            self._kept[(key, owner)] = kept
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew_loop, name="openturk-claims", daemon=True)
                self._thread.start()
            if kept.due_at < self._wake_at:  # waking the thread for nothing costs a busy consumer dearly
                self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._kept.pop((key, owner), None)

    def _renew_loop(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [(claim, kept) for claim, kept in self._kept.items() if kept.due_at <= now]
                if not due:
                    self._wake_at = min((kept.due_at for kept in self._kept.values()), default=now + IDLE_WAIT_S)
                    self._changed.wait(max(0.0, self._wake_at - now))
                    self._wake_at = math.inf
                    continue
            for (key, owner), kept in due:
                self._renew(kept, key, owner)

    def _renew(self, kept: _Kept, key: Key, owner: str) -> None:
        try:
            renewed = kept.store.renew(key, owner)
        except Exception:  # the store being unreachable must not end the heartbeat; try again soon
            log.warning("could not renew the claim of %s; trying again", key, exc_info=True)
            kept.renewed_at = time.monotonic() - kept.store.claim_ttl_s / 3 + 1.0
            return
        if renewed:
            kept.renewed_at = time.monotonic()
            return
        with self._changed:
            if self._kept.pop((key, owner), None) is not None:  # not merely released as the block ended
                log.warning("the claim of %s was lost to another consumer while its handlers ran", key)


__all__ = ["ClaimKeeper"]
