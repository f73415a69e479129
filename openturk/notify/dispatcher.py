"""The dispatcher: forms messages from the outbox, leases them, sends, and records every attempt.

Runs inside ``openturk serve`` or alone as ``openturk dispatch``, woken the moment events commit
(LISTEN/NOTIFY between processes on PostgreSQL), with a poll as the backstop. Any number may run
against one PostgreSQL database: claims never overlap.

Each destination's messages are sent by their own send, and finished (delivered, retry scheduled or
dead) the moment that destination answered, whatever other destinations are doing. A send in flight
renews its leases (the heartbeat), so a slow destination never lets another dispatcher take its
messages over; only a dispatcher that stopped renewing (died) loses them. A destination has at most
``per_destination`` sends in flight (FIFO destinations one, to keep each HIT's messages in order) out
of ``max_sends``: a slow or unreachable destination delays only its own messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from openturk.notify import outbox
from openturk.notify.retry import RetryPolicy
from openturk.notify.transports.base import Outgoing, Transport, describe, is_fifo
from openturk.store.database import OUTBOX, Database

log = logging.getLogger("openturk.dispatcher")


@dataclass(frozen=True)
class DispatcherSettings:
    # After a wake-up, wait this long for more events to share a message. 0 (the default): none; an
    # idle destination gets the first event at once, and what commits while a send to it is in
    # flight waits and goes together in its next message (as Nagle's algorithm and Kafka's producer do).
    batch_window_s: float = 0.0
    poll_interval_s: float = 0.5
    # A claim lapses this long after its last renewal; sends in flight renew every third of it.
    lease_s: float = 30.0
    claim_limit: int = 200
    # Sends in flight to one destination, and in all: a destination's share of the sending threads.
    per_destination: int = 2
    max_sends: int = 32
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
        # Event-loop state only (never touched from the worker threads).
        self._sending: dict[str, int] = {}  # destination -> sends in flight
        self._leased: set[int] = set()  # message ids whose sends are in flight: the heartbeat renews them
        self._freed = asyncio.Event()  # a busy destination's send ended: its waiting messages may go
        self._pool = ThreadPoolExecutor(settings.max_sends, thread_name_prefix="openturk-send")

    # -- synchronous steps (each runs in a worker thread) -------------------------------------------
    def form_and_claim(self, busy: Collection[str] = ()) -> list[Outgoing]:
        """Batch waiting events into messages and lease what is due, except for ``busy``, in one transaction."""
        with self.db.write() as conn:
            outbox.form_messages(conn, _wall_ms(), busy)
            return outbox.claim(conn, self.owner, _wall_ms(), self._lease_ms(), self.settings.claim_limit, busy)

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

    def renew(self, message_ids: Collection[int]) -> None:
        with self.db.write() as conn:
            outbox.renew(conn, self.owner, message_ids, _wall_ms() + self._lease_ms())

    def next_wake_s(self, busy: Collection[str] = ()) -> float:
        with self.db.read() as conn:
            waiting, next_due = outbox.pending_work(conn, _wall_ms(), busy)
        if waiting:
            return 0.0
        if next_due is None:
            return self.settings.poll_interval_s
        return max(0.0, min(self.settings.poll_interval_s, (next_due - _wall_ms()) / 1000))

    def _lease_ms(self) -> int:
        return int(self.settings.lease_s * 1000)

    # -- sending ------------------------------------------------------------------------------------------
    def share(self, destination: str) -> int:
        """How many sends may be in flight to ``destination`` at once."""
        return 1 if is_fifo(destination) else self.settings.per_destination

    def busy(self) -> list[str]:
        """Destinations sending their full share now: the next claim leaves their messages alone."""
        return [d for d, count in self._sending.items() if count >= self.share(d)]

    def start(self, claimed: Sequence[Outgoing]) -> list[asyncio.Task[None]]:
        """One send per destination of the claimed messages, each finished on its own."""
        by_destination: dict[tuple[str, str], list[Outgoing]] = {}
        for message in claimed:
            by_destination.setdefault((message.transport, message.destination), []).append(message)
        tasks = []
        for (transport, destination), batch in by_destination.items():
            self._sending[destination] = self._sending.get(destination, 0) + 1
            self._leased.update(m.message_id for m in batch)
            tasks.append(asyncio.create_task(self._send_and_finish(transport, destination, batch)))
        return tasks

    async def _send_and_finish(self, transport: str, destination: str, batch: Sequence[Outgoing]) -> None:
        try:
            loop = asyncio.get_running_loop()
            results = await loop.run_in_executor(self._pool, self.send, transport, batch)
            await asyncio.to_thread(self.finish, results)
        except Exception:
            log.exception("delivery to %s failed; the leases will lapse and the messages be retried", destination)
        finally:
            self._leased.difference_update(m.message_id for m in batch)
            was_busy = self._sending[destination] >= self.share(destination)
            self._sending[destination] -= 1
            if not self._sending[destination]:
                del self._sending[destination]
            if was_busy:
                self._freed.set()

    async def heartbeat(self) -> None:
        """Renew the leases of every send in flight, every third of the lease, until cancelled."""
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            if not self._leased:
                continue
            try:
                await asyncio.to_thread(self.renew, set(self._leased))
            except Exception:
                log.exception("lease renewal failed; it is tried again shortly")

    # -- the loop -----------------------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Form, claim and send once, to the end; returns how many messages were attempted."""
        heartbeat = asyncio.create_task(self.heartbeat())
        try:
            claimed = await asyncio.to_thread(self.form_and_claim, self.busy())
            await asyncio.gather(*self.start(claimed))
        finally:
            heartbeat.cancel()
        return len(claimed)

    async def run(self) -> None:
        """Deliver until cancelled, woken the moment a transaction that queued events commits.

        In this process that is the committing thread's call; on PostgreSQL every other process's
        commit reaches us through LISTEN/NOTIFY (``Database.listen``); on SQLite shared by several
        processes their commits are found by the poll (``poll_interval_s``), the backstop in any case.

        Sends overlap claims: while messages are being sent, the next pass already forms and claims
        what committed since, for every destination not at its share, so an event never waits for
        an earlier event's round trip, nor for another destination. Leases keep claims disjoint.
        """
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        stop_hearing = self.db.on_commit(OUTBOX, lambda: loop.call_soon_threadsafe(wake.set))
        for transport in self.transports.values():
            await asyncio.to_thread(transport.warm)
        in_flight: set[asyncio.Task[None]] = {asyncio.create_task(self.heartbeat())}
        try:
            while True:
                self._freed.clear()
                wake.clear()  # this pass forms and claims whatever has committed until now
                try:
                    claimed = await asyncio.to_thread(self.form_and_claim, self.busy())
                except Exception:
                    log.exception("dispatcher pass failed; retrying shortly")
                    await asyncio.sleep(self.settings.poll_interval_s)
                    continue
                for task in self.start(claimed):
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if len(claimed) >= self.settings.claim_limit:
                    continue  # more is waiting
                if not wake.is_set() and not self._freed.is_set():
                    try:
                        delay = await asyncio.to_thread(self.next_wake_s, self.busy())
                    except Exception:
                        log.exception("dispatcher idle check failed")
                        delay = self.settings.poll_interval_s
                    await self._sleep(delay, wake)
                if wake.is_set() and self.settings.batch_window_s > 0:
                    await asyncio.sleep(self.settings.batch_window_s)
        finally:
            stop_hearing()
            for task in in_flight:
                task.cancel()
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _sleep(self, delay: float, wake: asyncio.Event) -> None:
        """Wait ``delay`` seconds, or less if ``wake`` is set or a busy destination's send ends."""
        if delay <= 0:
            return
        waiters = [asyncio.create_task(event.wait()) for event in (wake, self._freed)]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
