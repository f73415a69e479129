"""The dispatcher: forms messages from the outbox, leases them, sends, and records every attempt.

Runs inside ``openturk serve`` (woken the moment events commit) or alone as ``openturk dispatch``
(polling). Any number may run against one PostgreSQL database: claims never overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from openturk.notify import outbox
from openturk.notify.retry import RetryPolicy
from openturk.notify.transports.base import Outgoing, Transport, describe
from openturk.store.database import Database

log = logging.getLogger("openturk.dispatcher")


@dataclass(frozen=True)
class DispatcherSettings:
    # Events closer together than this go into one message.
    batch_window_s: float = 0.005
    poll_interval_s: float = 0.5
    lease_s: float = 30.0
    claim_limit: int = 200
    # Batches being sent at once while the next pass forms and claims.
    max_in_flight: int = 2
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def _wall_ms() -> int:
    # Delivery runs on wall time even under --virtual-clock: retries and leases are about the
    # destination's real availability, not the simulated HIT timeline.
    return int(time.time() * 1000)


class Dispatcher:
    def __init__(self, db: Database, transports: Mapping[str, Transport], settings: DispatcherSettings) -> None:
        self.db = db
        self.transports = transports
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    # -- one pass, synchronous (runs in a worker thread) ---------------------------------------------
    def form_and_claim(self) -> list[Outgoing]:
        """Batch waiting events into messages and lease what is due, in one transaction."""
        with self.db.write() as conn:
            outbox.form_messages(conn, _wall_ms())
            return outbox.claim(
                conn, self.owner, _wall_ms(), int(self.settings.lease_s * 1000), self.settings.claim_limit
            )

    def send(self, transport: str, batch: Sequence[Outgoing]) -> list[outbox.Result]:
        started = _wall_ms()
        began = time.perf_counter()
        try:
            errors = self.transports[transport].send(batch)
        except Exception as exc:  # a transport bug must not lose the batch: it is retried
            log.exception("transport %s failed", transport)
            errors = [describe(exc)] * len(batch)
        latency = int((time.perf_counter() - began) * 1000)
        return [outbox.Result(m.message_id, e, started, latency) for m, e in zip(batch, errors, strict=False)]

    def finish(self, results: Sequence[outbox.Result]) -> None:
        with self.db.write() as conn:
            outbox.finish(conn, self.owner, results, self.settings.retry, _wall_ms())

    def next_wake_s(self) -> float:
        with self.db.read() as conn:
            waiting, next_due = outbox.pending_work(conn, _wall_ms())
        if waiting:
            return 0.0
        if next_due is None:
            return self.settings.poll_interval_s
        return max(0.0, min(self.settings.poll_interval_s, (next_due - _wall_ms()) / 1000))

    # -- the loop -----------------------------------------------------------------------------------------
    async def deliver(self, claimed: Sequence[Outgoing]) -> None:
        """Send leased messages, one concurrent batch per transport, and record the outcomes."""
        by_transport: dict[str, list[Outgoing]] = {}
        for message in claimed:
            by_transport.setdefault(message.transport, []).append(message)
        sent = await asyncio.gather(
            *(asyncio.to_thread(self.send, transport, batch) for transport, batch in by_transport.items())
        )
        await asyncio.to_thread(self.finish, [result for results in sent for result in results])

    async def run_once(self) -> int:
        """Form, claim and send once, to the end; returns how many messages were attempted."""
        claimed = await asyncio.to_thread(self.form_and_claim)
        if claimed:
            await self.deliver(claimed)
        return len(claimed)

    async def run(self, wake: asyncio.Event | None = None) -> None:
        """Deliver until cancelled. ``wake`` is set right after a transaction that queued events commits.

        Passes overlap: while one claimed batch is being sent, the next pass already forms and claims
        what committed since (up to ``max_in_flight`` batches), so an event never waits for an
        earlier event's round trip to the destination. Leases keep the batches disjoint.
        """
        for transport in self.transports.values():
            await asyncio.to_thread(transport.warm)
        slots = asyncio.Semaphore(self.settings.max_in_flight)
        in_flight: set[asyncio.Task[None]] = set()

        async def deliver_then_free(claimed: list[Outgoing]) -> None:
            try:
                await self.deliver(claimed)
            except Exception:
                log.exception("delivery failed; the leases will expire and the messages be retried")
            finally:
                slots.release()

        try:
            while True:
                await slots.acquire()
                try:
                    claimed = await asyncio.to_thread(self.form_and_claim)
                except Exception:
                    slots.release()
                    log.exception("dispatcher pass failed; retrying shortly")
                    await asyncio.sleep(self.settings.poll_interval_s)
                    continue
                if claimed:
                    task = asyncio.create_task(deliver_then_free(claimed))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    if len(claimed) >= self.settings.claim_limit:
                        continue  # more is waiting
                else:
                    slots.release()
                if wake is None or not wake.is_set():
                    try:
                        delay = await asyncio.to_thread(self.next_wake_s)
                    except Exception:
                        log.exception("dispatcher idle check failed")
                        delay = self.settings.poll_interval_s
                    await self._sleep(delay, wake)
                if wake is not None and wake.is_set():
                    wake.clear()
                    # Let events that commit close together share a message.
                    await asyncio.sleep(self.settings.batch_window_s)
        finally:
            for task in in_flight:
                task.cancel()

    @staticmethod
    async def _sleep(delay: float, wake: asyncio.Event | None) -> None:
        if delay <= 0:
            return
        if wake is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=delay)
