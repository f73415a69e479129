"""The dispatcher against a real SQLite outbox and an in-memory transport that can hold a destination's sends."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import pytest
from sqlalchemy import select

from openturk.notify import outbox
from openturk.notify.dispatcher import Dispatcher, DispatcherSettings
from openturk.notify.transports.base import Outgoing
from openturk.store.database import Database
from openturk.store.schema import messages
from tests.unit.notify.test_outbox import QUEUE, queue_events

SLOW = QUEUE + "-slow"


class HeldTransport:
    """Acknowledges every message at once, except those for ``SLOW``, held until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Nothing to prepare."""

    def send(self, batch: Sequence[Outgoing]) -> list[str | None]:
        if any(m.destination == SLOW for m in batch):
            self.release.wait(10)
        with self._lock:
            self.sent.extend(m.doc_id for m in batch)
        return [None] * len(batch)


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    database.migrate()
    yield database
    database.dispose()


def states(db: Database) -> dict[str, str]:
    with db.read() as conn:
        return {row.destination: row.state for row in conn.execute(select(messages.c.destination, messages.c.state))}


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``check`` on the event loop until it holds (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_each_destination_is_finished_when_it_answered(db: Database) -> None:
    """One claim, two destinations: the prompt one is recorded delivered while the slow one is still sending."""
    queue_events(db, SLOW, ["H1"])
    queue_events(db, QUEUE, ["H2"])
    transport = HeldTransport()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings())

    async def scenario() -> None:
        run = asyncio.create_task(dispatcher.run_once())
        await until(lambda: states(db) == {SLOW: "sending", QUEUE: "delivered"})
        transport.release.set()
        assert await run == 2

    asyncio.run(scenario())
    assert states(db) == {SLOW: "delivered", QUEUE: "delivered"}


def test_a_send_in_flight_renews_its_lease(db: Database) -> None:
    """A send held three times longer than the lease is never claimable by another dispatcher.

    The lease is a second (renewed every third of it), so only a stall of two thirds of a second in
    the heartbeat, not a busy machine's ordinary scheduling delay, could let it lapse."""
    queue_events(db, SLOW, ["H1"])
    transport = HeldTransport()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings(lease_s=1.0))
    stolen: list[Outgoing] = []

    def try_to_steal() -> None:
        with db.write() as conn:
            stolen.extend(outbox.claim(conn, "another dispatcher", int(time.time() * 1000), 300, 10))

    async def scenario() -> None:
        run = asyncio.create_task(dispatcher.run_once())
        await until(lambda: states(db) == {SLOW: "sending"})
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            await asyncio.to_thread(try_to_steal)
            await asyncio.sleep(0.1)
        transport.release.set()
        await run

    asyncio.run(scenario())
    assert stolen == []
    assert states(db) == {SLOW: "delivered"} and len(transport.sent) == 1
