"""The dispatcher against a real outbox (the run's store) and an in-memory transport that can hold sends."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.sql.elements import ClauseElement

from openturk.notify import forming_lead, outbox
from openturk.notify.dispatcher import Dispatcher, DispatcherSettings, Pass
from openturk.notify.retry import RetryPolicy
from openturk.notify.transports.base import Outgoing
from openturk.store.database import OUTBOX, SPARE, Database, announce
from openturk.store.schema import messages
from openturk.store.schema import outbox as outbox_rows
from tests.support import stores
from tests.support.announcements import record_told
from tests.unit.notify.test_outbox import FIFO_QUEUE, QUEUE, queue_events

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
def db(migrated_store_url: str) -> Iterator[Database]:
    database = Database(migrated_store_url)
    yield database
    database.dispose()


def states(db: Database) -> dict[str, str]:
    with db.read() as conn:
        return {row.destination: row.state for row in conn.execute(select(messages.c.destination, messages.c.state))}


def queue_announced(db: Database, destination: str, hit_ids: list[str]) -> None:
    """``queue_events`` and the announcement a server's commit makes (``queue_events`` makes none)."""
    queue_events(db, destination, hit_ids)
    with db.write() as conn:
        announce(conn, OUTBOX)


def every_state(db: Database) -> set[str]:
    """The states of all messages (``states`` keeps one per destination)."""
    with db.read() as conn:
        return set(conn.execute(select(messages.c.state)).scalars())


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


def test_a_warm_pass_builds_no_statement(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Form, claim, next wake and finish run prepared statements only, once each has run once:
    building and compiling SQLAlchemy statements was most of an idle pass's time."""
    transport = HeldTransport()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings())
    queue_events(db, QUEUE, ["H1"])
    assert dispatcher.deliver_once() == 1
    queue_events(db, QUEUE, ["H2", "H3"])
    built: list[object] = []
    execute: Any = Connection.execute
    compile_: Any = ClauseElement.compile

    def counted_execute(self: Connection, statement: object, *args: object, **kwargs: object) -> object:
        built.append(statement)
        return execute(self, statement, *args, **kwargs)

    def counted_compile(self: ClauseElement, *args: object, **kwargs: object) -> object:
        built.append(self)
        return compile_(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", counted_execute)
    monkeypatch.setattr(ClauseElement, "compile", counted_compile)
    assert dispatcher.deliver_once() == 1
    monkeypatch.undo()
    assert built == []
    assert states(db) == {QUEUE: "delivered"} and len(transport.sent) == 2


def test_a_commit_wakes_the_dispatchers_thread_and_cancelling_run_stops_it(db: Database) -> None:
    """No poll for a minute: only the commit's own signal can bring the second event out in time."""
    transport = HeldTransport()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings(poll_interval_s=60))

    def dispatching() -> bool:
        return any(t.name == "openturk-dispatch" for t in threading.enumerate())

    async def scenario() -> None:
        run = asyncio.create_task(dispatcher.run())
        queue_announced(db, QUEUE, ["H1"])
        await until(lambda: len(transport.sent) == 1)
        queue_announced(db, QUEUE, ["H2"])
        await until(lambda: len(transport.sent) == 2, timeout=5)
        assert dispatching()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        await until(lambda: not dispatching())

    transport.release.set()
    asyncio.run(scenario())


def test_the_end_of_a_send_at_its_destinations_share_lets_that_destinations_next_message_go(db: Database) -> None:
    """A FIFO queue sends one message at a time: no poll for a minute, so only the end of each send
    can start the next, which must not wait for a commit or the poll."""
    transport = HeldTransport()
    transport.release.set()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings(poll_interval_s=60))
    queue_events(db, FIFO_QUEUE, ["H1", "H2", "H3"])

    async def scenario() -> None:
        run = asyncio.create_task(dispatcher.run())
        await until(lambda: len(transport.sent) == 3, timeout=5)
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run

    asyncio.run(scenario())


@pytest.mark.skipif(not stores.on_postgres(), reason="PostgreSQL's forming lock (SQLite's writer serialises passes)")
def test_while_another_dispatcher_forms_a_pass_claims_and_sends_but_neither_forms_nor_spins(db: Database) -> None:
    """Two dispatchers woken by one commit would split its events into smaller messages; the one
    that finds another forming leaves the events to it, still sends what is due, and does not loop
    on events that are not its to form."""
    queue_events(db, QUEUE, ["H1"])
    with db.write() as conn:
        outbox.form_messages(conn, int(time.time() * 1000))  # a message due now
    queue_events(db, SLOW, ["H2"])  # events waiting to be formed
    transport = HeldTransport()
    transport.release.set()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings())
    with db.write() as forming:
        assert outbox.take_forming_turn(forming)  # another dispatcher is forming
        done = dispatcher.deliver_pass()
        assert [m.destination for m in done.claimed] == [QUEUE]
        assert done.wait_s == dispatcher.settings.poll_interval_s
    with db.read() as conn:
        assert len(conn.execute(select(outbox_rows.c.event_id)).all()) == 1  # H2 still waits
    assert dispatcher.deliver_once() == 1  # the forming turn is free: H2 is formed and sent
    assert states(db) == {QUEUE: "delivered", SLOW: "delivered"}


def test_a_destination_another_dispatcher_sends_to_counts_against_its_share(db: Database) -> None:
    """The share of sends in flight is the destination's, not each dispatcher's: with one share per
    dispatcher, two would send to it twice as often, each message gathering half as many events."""
    now = int(time.time() * 1000)
    queue_events(db, QUEUE, ["H1"])
    with db.write() as conn:
        outbox.form_messages(conn, now)
        [elsewhere] = outbox.claim(conn, "another dispatcher", now, 30_000, 10)  # its send is in flight
    queue_events(db, QUEUE, ["H2"])
    transport = HeldTransport()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings(per_destination=1))
    held = dispatcher.deliver_pass()
    assert held.claimed == [] and held.wait_s == dispatcher.settings.poll_interval_s  # neither sent nor spinning
    with db.read() as conn:
        assert len(conn.execute(select(outbox_rows.c.event_id)).all()) == 1  # H2 waits to join a fuller message
    with db.write() as conn:  # the other dispatcher's send ends
        ended = outbox.Result(elsewhere.message_id, None, now, 1)
        outbox.finish(conn, "another dispatcher", [ended], RetryPolicy(), now)
    assert dispatcher.deliver_once() == 1
    assert transport.sent and states(db) == {QUEUE: "delivered"}


@pytest.mark.skipif(not stores.on_postgres(), reason="PostgreSQL's forming lock (SQLite's writer serialises passes)")
def test_a_dispatcher_that_found_another_forming_leaves_commits_to_it_and_takes_over_at_its_poll(
    db: Database,
) -> None:
    """With M dispatchers every commit woke M passes, M-1 of them empty. One that found another forming
    is not woken by commits (the forming one is); its poll still finds work the forming one left."""
    transport = HeldTransport()
    transport.release.set()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings(poll_interval_s=1.5))
    thread = threading.Thread(target=dispatcher.deliver_until_stopped, daemon=True)
    with db.write() as forming:
        assert outbox.take_forming_turn(forming)  # another dispatcher is forming, through the first pass
        thread.start()
        time.sleep(0.3)  # its first pass finds the turn taken (nothing to wait for: a negative check)
    queue_events(db, QUEUE, ["H1"])
    with db.write() as conn:
        announce(conn, OUTBOX)  # a commit: it does not wake this dispatcher
    try:
        time.sleep(0.5)
        assert transport.sent == []
        with db.read() as conn:
            assert len(conn.execute(select(outbox_rows.c.event_id)).all()) == 1
        deadline = time.monotonic() + 10  # its poll comes: the turn is free, so it forms, sends and records it
        while not (transport.sent and states(db) == {QUEUE: "delivered"}) and time.monotonic() < deadline:
            time.sleep(0.05)  # the send's record commits just after the send: wait for both
        assert len(transport.sent) == 1 and states(db) == {QUEUE: "delivered"}
    finally:
        dispatcher.stop()
        thread.join(timeout=10)


class HangingTransport:
    """Holds every send to a destination of ``hanging`` until ``release``; acknowledges the rest at once."""

    def __init__(self, hanging: set[str]) -> None:
        self.hanging, self.release = hanging, threading.Event()
        self.delivered: list[str] = []
        self.held = 0
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Nothing to prepare."""

    def send(self, batch: Sequence[Outgoing]) -> list[str | None]:
        if batch[0].destination in self.hanging:
            with self._lock:
                self.held += 1
            self.release.wait(20)
        with self._lock:
            self.delivered.extend(m.destination for m in batch)
        return [None] * len(batch)


def test_one_requesters_hanging_destinations_leave_threads_for_the_others(db: Database) -> None:
    """Twenty destinations of one requester that never answer, two sends each, would fill every
    sending thread; another requester's message must still go at once."""
    hanging = {f"{QUEUE}-hang-{i}" for i in range(20)}
    for destination in sorted(hanging):
        queue_events(db, destination, ["H1", "H2", "H3"], customer_id="A1")
    transport = HangingTransport(hanging)
    settings = DispatcherSettings(max_sends=8, per_requester=4, poll_interval_s=0.05)
    dispatcher = Dispatcher(db, {"SQS": transport}, settings)

    async def scenario() -> None:
        run = asyncio.create_task(dispatcher.run())
        try:
            await until(lambda: transport.held == 4)  # A1's share of the threads, all hanging
            queue_events(db, QUEUE, ["H9"], customer_id="A2")
            with db.write() as conn:
                announce(conn, OUTBOX)
            await until(lambda: QUEUE in transport.delivered, timeout=5)
            assert transport.held == 4  # A1 never had more than its share on the threads
        finally:
            transport.release.set()
            # Every message (a destination's three events may have gone in more than one) recorded.
            await until(lambda: every_state(db) == {"delivered"}, timeout=30)
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run

    asyncio.run(scenario())
    assert set(transport.delivered) == {*hanging, QUEUE}


def test_a_commit_wakes_only_a_dispatcher_that_forms(db: Database) -> None:
    """Every server's commit reaches every dispatcher (LISTEN/NOTIFY); one that is not forming leaves
    the commit to the one that is, and its thread sleeps on (a needless wake-up per commit before)."""
    dispatcher = Dispatcher(db, {"SQS": HeldTransport()}, DispatcherSettings())
    woken = threading.Event()

    def wait() -> None:
        with dispatcher._stir:
            dispatcher._stir.wait(5)
        woken.set()

    dispatcher._forming = False
    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)  # the waiter is asleep on the condition
    dispatcher._wake()
    assert not woken.wait(0.3) and dispatcher._committed  # noted for its next pass, not woken
    dispatcher._forming = True
    dispatcher._wake()
    assert woken.wait(2)
    waiter.join(2)


def test_the_end_of_a_send_lets_a_requesters_next_messages_go_without_waiting_for_the_poll(db: Database) -> None:
    """A claim takes only what its requester's room lets start; what it left goes when one of the
    requester's sends ends. No poll for a minute: a pass must follow each end on its own."""
    destinations = [f"{QUEUE}-{n}" for n in range(7)]
    for destination in destinations:
        queue_events(db, destination, ["H1"])
    transport = HeldTransport()
    transport.release.set()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings(per_requester=1, poll_interval_s=60))
    thread = threading.Thread(target=dispatcher.deliver_until_stopped, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while every_state(db) != {"delivered"} and time.monotonic() < deadline:
            time.sleep(0.02)
        assert every_state(db) == {"delivered"} and len(transport.sent) == len(destinations)
    finally:
        dispatcher.stop()
        thread.join(timeout=10)


def test_two_dispatchers_share_one_requesters_backlog(db: Database) -> None:
    """A lab's one requester account with many destinations: the dispatcher that forms takes what it
    can start, and the other, which commits do not wake (on PostgreSQL it follows the first's lead and
    does not even hear them) and whose poll is a minute away, is woken by what the first left (SPARE)
    and takes more; each sends, none twice. One holding the whole backlog leased would leave the
    second idle."""
    destinations = [f"{QUEUE}-{n}" for n in range(8)]
    transport = HangingTransport(set(destinations))
    # No poll for a minute, and no lease renewal (which also ends a wait) for five.
    settings = DispatcherSettings(per_requester=1, poll_interval_s=60, lease_s=900, lead_s=900)
    # Each its own connection pool; on PostgreSQL each hears the other through LISTEN/NOTIFY.
    second_db = Database(db.url) if stores.on_postgres() else db
    told = record_told(second_db) if second_db is not db else []  # what its listening thread passed on
    for database in {id(db): db, id(second_db): second_db}.values():
        database.listen()
    first, second = Dispatcher(db, {"SQS": transport}, settings), Dispatcher(second_db, {"SQS": transport}, settings)
    threads = [threading.Thread(target=d.deliver_until_stopped, daemon=True) for d in (first, second)]
    try:
        threads[0].start()
        deadline = time.monotonic() + 10
        while stores.on_postgres() and not first._lead.held_by(first.owner, int(time.time() * 1000)):
            assert time.monotonic() < deadline, "the first dispatcher never took the lead"
            time.sleep(0.02)
        threads[1].start()
        # On PostgreSQL its listening thread LISTENs to SPARE once the dispatcher waits on it, and tells it
        # once then (a wake-up to look): only a SPARE after that one is the first dispatcher's.
        while second_db is not db and (SPARE not in told or second._leads) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # its first passes found nothing; it sleeps till the poll, a minute away
        if second_db is db:  # SQLite: both lead, and this process's commits would wake both
            with second._stir:
                second._forming = False  # as if it had found the other forming: commits do not wake it
        else:  # a follower: its process no longer LISTENs to commits
            assert not second._leads and OUTBOX not in second_db._heard_channels()
        for destination in destinations:
            queue_events(db, destination, ["H1"])
        with db.write() as conn:
            announce(conn, OUTBOX)
        while transport.held < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        with db.read() as conn:
            owners = set(conn.execute(select(messages.c.lease_owner).where(messages.c.state == "sending")).scalars())
        assert transport.held == 2 and owners == {first.owner, second.owner}  # one send each, at once
        transport.release.set()
        while every_state(db) != {"delivered"} and time.monotonic() < deadline:
            time.sleep(0.02)
        assert every_state(db) == {"delivered"}
        assert sorted(transport.delivered) == sorted(destinations)  # each once
    finally:
        transport.release.set()
        for dispatcher in (first, second):
            dispatcher.stop()
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(timeout=10)
        if second_db is not db:
            second_db.dispose()


def test_new_messages_for_a_requester_without_room_are_offered_to_the_other_dispatchers(db: Database) -> None:
    """A dispatcher whose room for a requester is full forms that requester's new events all the same;
    it cannot send them, so it says so (SPARE) for any other dispatcher, which commits do not wake."""
    transport = HangingTransport({f"{QUEUE}-{n}" for n in range(3)})
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings(per_requester=1))
    offered: list[int] = []
    stop_hearing = db.on_commit(SPARE, lambda: offered.append(1))
    try:
        queue_events(db, f"{QUEUE}-0", ["H1"])
        queue_events(db, f"{QUEUE}-1", ["H2"])
        assert len(dispatcher.deliver_pass().claimed) == 2  # one send running, one queued behind it: full
        assert offered == []  # nothing left behind
        queue_events(db, f"{QUEUE}-2", ["H3"])
        assert dispatcher.deliver_pass().claimed == []
        assert offered == [1]
        with db.read() as conn:
            assert conn.execute(select(messages.c.state).where(messages.c.destination == f"{QUEUE}-2")).scalar() == (
                "pending"
            )
    finally:
        stop_hearing()
        transport.release.set()
        deadline = time.monotonic() + 10
        while every_state(db) - {"delivered", "pending"} and time.monotonic() < deadline:
            time.sleep(0.02)
        dispatcher.deliver_once()  # the third, now that there is room
        assert every_state(db) == {"delivered"}


def lead_holder(db: Database) -> str | None:
    with db.read() as conn:
        return forming_lead.held(conn).owner


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``check`` on this thread until it holds (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.02)


@pytest.mark.skipif(not stores.on_postgres(), reason="the forming lead is PostgreSQL's")
def test_a_follower_neither_hears_commits_nor_forms_and_leads_at_once_when_the_leader_stops(db: Database) -> None:
    """Two running dispatchers: one leads (forms, hears commits), the other follows and its process
    does not even LISTEN to commits. When the leader stops it gives the lead up and wakes the
    follower, which takes it and hears commits from then on; no poll for a minute, no lapse for 15
    minutes."""
    settings = DispatcherSettings(poll_interval_s=60, lease_s=900, lead_s=900)
    follower_db = Database(db.url)  # its own pool and listening thread, as another process's
    told = record_told(follower_db)  # what its listening thread passes on
    leading_transport, following_transport = HeldTransport(), HeldTransport()
    for transport in (leading_transport, following_transport):
        transport.release.set()
    leader = Dispatcher(db, {"SQS": leading_transport}, settings)
    follower = Dispatcher(follower_db, {"SQS": following_transport}, settings)
    for database in (db, follower_db):
        database.listen()
    leading = threading.Thread(target=leader.deliver_until_stopped, daemon=True)
    following = threading.Thread(target=follower.deliver_until_stopped, daemon=True)
    try:
        leading.start()
        wait_for(lambda: lead_holder(db) == leader.owner, "the first dispatcher leads")
        following.start()
        wait_for(lambda: not follower._leads and OUTBOX not in follower_db._heard_channels(), "the second follows")
        queue_announced(db, QUEUE, ["H1"])
        wait_for(lambda: len(leading_transport.sent) == 1, "the leader forms and sends")
        assert following_transport.sent == []
        # Its listening thread UNLISTENs within a second or so; from then on an outbox NOTIFY, which
        # PostgreSQL delivers in commit order, never comes before a SPARE announced after it.
        deadline = time.monotonic() + 10
        while True:
            told.clear()
            with db.write() as conn:
                announce(conn, OUTBOX)
            with db.write() as conn:
                announce(conn, SPARE)
            wait_for(lambda: SPARE in told, "the follower's process hears SPARE")
            if OUTBOX not in told:
                break
            assert time.monotonic() < deadline, "the follower's process still hears commits"
        leader.stop()
        leading.join(timeout=10)
        wait_for(lambda: lead_holder(db) == follower.owner, "the follower leads once the leader stopped", 5)
        wait_for(lambda: OUTBOX in told, "the new leader's process LISTENs to commits (told once as it starts)")
        queue_announced(db, QUEUE, ["H2"])
        wait_for(lambda: len(following_transport.sent) == 1, "the new leader forms and sends", 5)
    finally:
        for dispatcher in (leader, follower):
            dispatcher.stop()
        for thread in (leading, following):
            if thread.ident is not None:
                thread.join(timeout=10)
        follower_db.dispose()


@pytest.mark.skipif(not stores.on_postgres(), reason="the forming lead is PostgreSQL's")
def test_a_follower_takes_the_lead_once_it_lapsed(db: Database) -> None:
    """A leader that died (kill -9, a hung host) stops renewing: its lead lapses and the next pass of
    another dispatcher takes it and forms what waited."""
    with db.write() as conn:
        lapses_at = forming_lead.take(conn, "a dispatcher that died", int(time.time() * 1000), 1500).until
    transport = HeldTransport()
    transport.release.set()
    dispatcher = Dispatcher(db, {"SQS": transport}, DispatcherSettings(poll_interval_s=0.1))
    thread = threading.Thread(target=dispatcher.deliver_until_stopped, daemon=True)
    thread.start()
    try:
        wait_for(lambda: dispatcher._lead.owner is not None, "its first pass looked at the lead")
        queue_announced(db, QUEUE, ["H1"])
        time.sleep(0.2)
        if dispatcher._lead.owner == "a dispatcher that died" and time.time() * 1000 < lapses_at - 100:
            assert transport.sent == [] and not dispatcher._leads  # still the dead one's: not formed, not sent
        wait_for(lambda: len(transport.sent) == 1, "formed and sent once the lead lapsed", 5)
        assert lead_holder(db) == dispatcher.owner
    finally:
        dispatcher.stop()
        thread.join(timeout=10)
    assert lead_holder(db) == dispatcher.owner and lead_holder(db) is not None
    with db.read() as conn:
        assert forming_lead.held(conn).until == 0  # given up as it stopped


@pytest.mark.skipif(not stores.on_postgres(), reason="the forming lead is PostgreSQL's")
def test_an_idle_follower_looks_again_when_the_lead_would_lapse_not_at_its_poll(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the API's ceiling a follower's polls were all it did, two passes a second beside a leader
    doing everything. With no send of its own it waits until the lead would lapse (a live leader
    renews it before), then takes a lapsed lead at once."""
    with db.write() as conn:
        lapses_at = forming_lead.take(conn, "the leader", int(time.time() * 1000), 4000).until
    dispatcher = Dispatcher(db, {"SQS": HeldTransport()}, DispatcherSettings(poll_interval_s=0.05))
    passes: list[float] = []
    deliver_pass = dispatcher.deliver_pass

    def counted() -> Pass:
        passes.append(time.time() * 1000)
        return deliver_pass()

    monkeypatch.setattr(dispatcher, "deliver_pass", counted)
    thread = threading.Thread(target=dispatcher.deliver_until_stopped, daemon=True)
    thread.start()
    try:
        wait_for(lambda: bool(passes), "the follower's first pass")
        first = passes[0]
        assert first < lapses_at - 2000, "the first pass came too late to watch a while (a loaded host)"
        wait_for(lambda: lead_holder(db) == dispatcher.owner, "the follower takes the lapsed lead", 10)
        # Nothing between the first pass and the lapse (a 50 ms poll made 29 passes in a 1.5 s lead).
        assert [at for at in passes if first < at < lapses_at] == [], [round(at - lapses_at) for at in passes]
        assert passes[1] - lapses_at < 1000  # and the pass that took it came as it lapsed
    finally:
        dispatcher.stop()
        thread.join(timeout=10)


@pytest.mark.skipif(not stores.on_postgres(), reason="the forming lead is PostgreSQL's")
def test_an_idle_follower_still_wakes_for_a_message_falling_due_and_polls_while_it_sends(db: Database) -> None:
    """What an idle follower no longer polls for must still reach it: a message of its own falling due
    (a retry) wakes it then, and one that sent lately (a backlog's tail, whose SPARE came only as it
    began) keeps polling for a lead's time."""
    now = int(time.time() * 1000)
    with db.write() as conn:
        forming_lead.take(conn, "the leader", now, 600_000)
    settings = DispatcherSettings(poll_interval_s=0.5, lead_s=5.0)
    transport = HeldTransport()
    transport.release.set()
    dispatcher = Dispatcher(db, {"SQS": transport}, settings)
    dispatcher._contends = True  # as in its loop
    idle = dispatcher.deliver_pass()
    assert idle.claimed == [] and idle.wait_s == 5.0  # the lead's time, not the poll
    queue_events(db, QUEUE, ["H1"])
    with db.write() as conn:
        outbox.form_messages(conn, int(time.time() * 1000) + 1500)  # the leader formed it; due in 1.5 s
    due_soon = dispatcher.deliver_pass()
    assert due_soon.claimed == [] and 1.0 < due_soon.wait_s <= 1.5  # woken as it falls due
    time.sleep(due_soon.wait_s)
    sending = dispatcher.deliver_pass()
    assert [m.destination for m in sending.claimed] == [QUEUE] and sending.wait_s == 0.5  # its send: the poll
    wait_for(lambda: states(db) == {QUEUE: "delivered"}, "its send is recorded")
    after = dispatcher.deliver_pass()
    assert after.claimed == [] and after.wait_s == 0.5  # it sent lately: it still polls


@pytest.mark.skipif(not stores.on_postgres(), reason="the forming lead is PostgreSQL's")
def test_a_follower_that_sees_events_waiting_tells_the_leader(db: Database) -> None:
    """A follower's own send that ended may free a destination whose events wait; only the leader
    forms them, so the follower's pass after that end announces them (OUTBOX), and only while some
    wait. Not at every pass: events just committed wait too, and the leader heard their commit."""
    with db.write() as conn:
        forming_lead.take(conn, "the leader", int(time.time() * 1000), 600_000)
    queue_events(db, QUEUE, ["H1"])
    told: list[str] = []
    stop_recording = db.on_commit(OUTBOX, lambda: told.append(OUTBOX))
    dispatcher = Dispatcher(db, {"SQS": HeldTransport()}, DispatcherSettings())
    dispatcher._contends = True  # as in its loop
    try:
        follows = dispatcher.deliver_pass()
        assert follows.claimed == [] and not dispatcher._leads and told == []  # a poll: nothing said
        with dispatcher._stir:
            dispatcher._freed = True  # as when one of its own sends ended
        assert dispatcher.deliver_pass().claimed == [] and told == [OUTBOX]
        with db.read() as conn:
            assert len(conn.execute(select(outbox_rows.c.event_id)).all()) == 1  # not formed: the leader's to form
        with db.write() as conn:
            outbox.form_messages(conn, int(time.time() * 1000))  # the leader formed it
        with dispatcher._stir:
            dispatcher._freed = True
        assert [m.destination for m in dispatcher.deliver_pass().claimed] == [QUEUE]  # a follower claims
        assert told == [OUTBOX]  # nothing waited: nothing told
    finally:
        stop_recording()
