"""The dispatcher: forms messages from the outbox, leases them, sends, and records every attempt.

Runs inside ``openturk serve`` or alone as ``openturk dispatch``, woken the moment events commit
(LISTEN/NOTIFY between processes on PostgreSQL), with a poll as the backstop. Any number may run
against one PostgreSQL database: claims never overlap, and one forms messages at a time.

It runs on a thread of its own, not on the event loop that serves the API: a commit wakes it
directly (the committing thread signals it), and a pass (form, claim, and what to wait for next) is
one transaction on that thread, after which each destination's send starts on a sending thread.

Each destination's messages are sent by their own send, and finished (delivered, retry scheduled or
dead) on the same sending thread the moment that destination answered, whatever other destinations
are doing. A send in flight renews its leases (the heartbeat), so a slow destination never lets
another dispatcher take its messages over; only a dispatcher that stopped renewing (died) loses them.
A destination has at most ``per_destination`` sends in flight (FIFO destinations one, to keep each
HIT's messages in order) out of ``max_sends``, and a requester at most ``per_requester`` on the
sending threads at once (the rest of theirs wait for one of theirs to end): a slow or unreachable
destination delays only its own messages, and one requester's many slow destinations cannot take
every thread from the others.

A claim leases, per requester, messages to only as many destinations as this dispatcher can start
sends to now, and as many again to follow them; the rest of a requester's backlog stays due and
unleased. A pass that begins to leave a requester's messages, or forms new ones for a requester it
has no room for, says so (``SPARE``), and every dispatcher wakes and takes a part: one requester's
backlog (a lab's one account, many HIT types and queues) is sent by all of them, not held by the
first to claim it.

On PostgreSQL one running dispatcher leads (``forming_lead``): it forms messages and is the only one
woken by commits, and the only one LISTENing to them. The others follow: they claim and send what is
formed (woken by ``SPARE``, the end of their own sends and, while sending, the poll; an idle
follower looks again only when the lead would lapse or a message falls due), tell the leader when
they see events waiting (``OUTBOX``), and take the lead once it lapses (its holder died or hung) or
at once when its holder stops. Without a lead every commit woke every dispatcher, and all but one pass were empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Connection

from openturk.notify import forming_lead, outbox
from openturk.notify.retry import RetryPolicy
from openturk.notify.transports.base import Outgoing, Transport, describe, is_fifo
from openturk.store.database import OUTBOX, SPARE, Database, announce

log = logging.getLogger("openturk.dispatcher")
# The shortest wait before a lead renewal or take that could not be made is tried again: not passes
# back to back (``forming_lead.take`` never waits for another transaction taking the lead).
_MOMENT_MS = 50


@dataclass(frozen=True)
class DispatcherSettings:
    # After a wake-up, wait this long for more events to share a message. 0 (the default): none; an
    # idle destination gets the first event at once, and what commits while a send to it is in
    # flight waits and goes together in its next message (as Nagle's algorithm and Kafka's producer do).
    batch_window_s: float = 0.0
    poll_interval_s: float = 0.5
    # A claim lapses this long after its last renewal; sends in flight renew every third of it.
    lease_s: float = 30.0
    # On PostgreSQL, the forming lead lapses this long after its last renewal (or after ``lease_s``, if
    # shorter); its holder renews it once half has passed. A follower takes a lapsed lead at its next pass.
    lead_s: float = 5.0
    claim_limit: int = 200
    # Sends in flight to one destination, and in all: a destination's share of the sending threads.
    per_destination: int = 2
    max_sends: int = 32
    # Sends of one requester on the sending threads at once: a quarter of them, so it takes four
    # requesters whose destinations all hang to hold up a fifth.
    per_requester: int = 8
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def _wall_ms() -> int:
    # Delivery runs on wall time even under --virtual-clock: retries and leases are about the
    # destination's real availability, not the simulated HIT timeline.
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Pass:
    """What one pass claimed, and how long the dispatcher may wait before the next (0: at once)."""

    claimed: list[Outgoing]
    wait_s: float


class Dispatcher:
    def __init__(self, db: Database, transports: Mapping[str, Transport], settings: DispatcherSettings) -> None:
        self.db = db
        self.transports = transports
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        # Shared by the dispatching thread, the sending threads and the threads that commit events;
        # held only to read or change the fields below, never across a query or a send.
        self._stir = threading.Condition()
        self._sending: dict[str, int] = {}  # destination -> sends in flight
        self._leased: set[int] = set()  # message ids whose sends are in flight: the heartbeat renews them
        self._running_for: dict[str, int] = {}  # requester -> its sends on the sending threads
        # Sends started past a requester's per_requester, in order: each goes when one of theirs ends.
        self._waiting_for: dict[str, deque[tuple[str, str, Sequence[Outgoing]]]] = {}
        self._committed = False  # events were queued (or messages fell due) since the last pass began
        self._held_back: set[str] = set()  # destinations the last pass left out as busy
        self._freed = False  # a held-back destination's send ended since the last pass began: its messages may go
        # Requesters the last pass left due messages of (or left out) for want of room: the end of one
        # of their sends frees that room (``_freed``), so the next pass takes them, not the poll.
        self._wanting_room: set[str] = set()
        self._overflowing: set[str] = set()  # requesters the last pass that could claim theirs left messages of
        self._spare = False  # another dispatcher left due messages for want of room since the last pass began
        # Whether the last pass held the forming turn; commits wake only a dispatcher that forms. On
        # PostgreSQL the lead (below) decides who forms; a leader whose pass found the turn taken (by a
        # pass outside any loop, or a former leader not yet aware it lapsed) looks again at its poll.
        # On SQLite every dispatcher leads, and a pass that found another forming waits likewise.
        self._forming = True
        # Only a dispatcher running its loop (``deliver_until_stopped``) takes the lead; a pass run on its
        # own (``deliver_once``) forms whenever the forming turn is free, as any pass did before leads.
        self._contends = False
        self._lead = forming_lead.Lead(None, 0)  # the lead as this dispatcher's last pass saw it, once committed
        self._leads = True  # whether the last pass led (always, unless contending on PostgreSQL)
        self._claimed_at = 0  # wall ms of the last pass that claimed something (a follower polls a while after)
        self._stopping = False
        self._pool = ThreadPoolExecutor(settings.max_sends, thread_name_prefix="openturk-send")

    # -- one pass -------------------------------------------------------------------------------------------
    def deliver_pass(self) -> Pass:
        """Form messages, lease what is due and find when to look again, in one transaction; then
        start one send per destination of what was leased.

        Destinations sending their full share are left out (``busy``): a destination's share counts
        the sends of every dispatcher (``outbox.sending_elsewhere``), so a second dispatcher does not
        double how often a destination is sent to and halve what each message gathers. On PostgreSQL
        a running dispatcher's pass forms only if it leads (``_look_at_lead``), and any pass only if no
        other dispatcher is forming at that moment (``outbox.take_forming_turn``): the one that is forms
        the same events into fuller messages.
        """
        with self._stir:
            # this pass sees whatever has committed, and been left to share, until now
            freed = self._freed  # one of this dispatcher's own sends ended since the last pass began
            self._committed = self._freed = self._spare = False
        now = _wall_ms()

        def form_and_claim(conn: Connection) -> tuple[list[Outgoing], float]:
            elsewhere = outbox.sending_elsewhere(conn, self.owner, now)
            with self._stir:  # a send that ends after this look frees what it held back
                sending_here = dict(self._sending)
                busy = self._busy(sending_here, elsewhere)
                self._held_back = set(busy)
                room = self._room()
                full = {requester for requester, sends in room.items() if sends <= 0}
                self._wanting_room = set(full)
            lead = self._look_at_lead(conn, now)
            leads = lead is None or lead.held_by(self.owner, now)
            forms = leads and outbox.take_forming_turn(conn)
            self._forming = forms
            looked.append((lead, leads))
            formed_for: set[str] = set()
            if forms:
                outbox.form_messages(conn, now, busy, formed_for)
            claim = outbox.claim_within(
                conn,
                self.owner,
                now,
                self._lease_ms(),
                self.settings.claim_limit,
                busy,
                full,
                lambda requester: room.get(requester, self._claim_room),
            )
            claimed = claim.leased
            if len(claimed) >= self.settings.claim_limit:
                if freed:  # kept for the next pass, which comes at once: it tells the leader, if following
                    with self._stir:
                        self._freed = True
                return claimed, 0.0  # more is waiting (a claim that left some for want of room did not fill)
            for destination in {m.destination for m in claimed}:  # as it will be once these sends start
                sending_here[destination] = sending_here.get(destination, 0) + 1
            now_busy = self._busy(sending_here, elsewhere)
            # Requesters with no room left once these sends start: their messages wait for the end of
            # one of their sends (which wakes this loop), not for a time.
            now_full = {*full, *claim.left_for}
            if claim.left_for - self._overflowing or formed_for & full:
                # A requester's due messages just began to outgrow this dispatcher, or new ones were
                # formed for a requester it has no room for: the others wake and take some (once
                # sending for it, the ends of their own sends bring them back for more).
                announce(conn, SPARE)
            overflowing.append({*claim.left_for, *(self._overflowing & full)})
            with self._stir:
                # What these sends fill to their share is held back too: the end of one lets
                # its destination's next message go at once (a FIFO queue's next HIT), not at the poll.
                self._held_back.update(now_busy)
                self._wanting_room.update(claim.left_for)
            waiting, next_due = outbox.pending_work(conn, now, now_busy, now_full)
            if waiting and freed and not leads:
                # Events wait that the leader has not formed, and the end of one of this dispatcher's own
                # sends may have freed their destination, which wakes only this one: the leader hears this.
                # (Not at every pass: events just committed wait too, and the leader heard their commit.)
                announce(conn, OUTBOX)
            if lead is not None and not leads and not sending_here and now - self._claimed_at >= self._lead_ms():
                # An idle follower: no send of its own in flight, and none claimed for a lead's time.
                return claimed, self._follow_s(lead, next_due, now)
            # Events another dispatcher is forming now are its to send; its commit or a poll brings the rest.
            return claimed, self._wait_s(waiting if forms else 0, next_due, now)

        overflowing: list[set[str]] = []
        looked: list[tuple[forming_lead.Lead | None, bool]] = []
        claimed, wait_s = self.db.write_with(form_and_claim)
        if overflowing:  # only once it committed: had the commit failed, the next pass announces again
            self._overflowing = overflowing[-1]
        if looked:  # likewise: a lead taken or renewed in a transaction that failed is not held
            lead, self._leads = looked[-1]
            if lead is not None:
                self._lead = lead
        if claimed:
            self._claimed_at = now
        self.start(claimed)
        return Pass(claimed, wait_s)

    def _wait_s(self, waiting: int, next_due: int | None, now: int) -> float:
        if waiting:
            return 0.0
        if next_due is None:
            return self.settings.poll_interval_s
        return max(0.0, min(self.settings.poll_interval_s, (next_due - now) / 1000))

    def _follow_s(self, lead: forming_lead.Lead, next_due: int | None, now: int) -> float:
        """How long an idle follower waits: until the lead would lapse (its holder renews it well before,
        so about every half lead) or a message it could send falls due (a retry, a lapsing lease), not
        the poll. It is also woken by SPARE and by a stop; one that sent in the last lead's time (a
        backlog's tail, which SPARE announces only as it begins) polls as before. At the API's ceiling a
        poll's two passes a second were all that a follower did, beside a leader doing everything.

        Just past the lapse, so that pass takes it; at least a moment, so a lead seen lapsed but not
        taken (another was taking it) is looked at again shortly, not in passes back to back. The lapse
        is the leader's wall clock: a follower's clock behind it waits longer, at most one lead."""
        wait_ms = min(self._lead_ms(), max(_MOMENT_MS, lead.until - now + 1))
        if next_due is not None:
            wait_ms = min(wait_ms, max(0, next_due - now))
        return wait_ms / 1000

    def _lease_ms(self) -> int:
        return int(self.settings.lease_s * 1000)

    # -- the forming lead ---------------------------------------------------------------------------------
    def _look_at_lead(self, conn: Connection, now: int) -> forming_lead.Lead | None:
        """Take, renew or read the forming lead in this pass's transaction: who holds it, or None where
        there is none to take (SQLite, or a pass outside the loop: it may form)."""
        if not self._contends or conn.dialect.name != "postgresql":
            return None
        lead_ms = self._lead_ms()
        if self._lead.held_by(self.owner, now) and self._lead.until - now > lead_ms // 2:
            return self._lead  # ours for a while yet: no statement
        if self._lead.owner != self.owner:
            seen = forming_lead.held(conn)  # a read, no lock: a follower looks at every pass
            if seen.owner not in (None, self.owner) and now < seen.until:
                return seen
        return forming_lead.take(conn, self.owner, now, lead_ms)

    def _until_lead_renewal_s(self) -> float:
        """How long a leader may wait before its next pass must renew the lead (a short ``--lease`` makes
        a lead shorter than two polls); unbounded for a follower, or where there is no lead."""
        now = _wall_ms()
        if not self._lead.held_by(self.owner, now):
            return float("inf")
        # At least a moment: a renewal due but not made (another transaction was taking the lead, which
        # ``take`` never waits for) is tried again shortly, not in passes back to back.
        return max(_MOMENT_MS, self._lead.until - self._lead_ms() // 2 - now) / 1000

    def _lead_ms(self) -> int:
        return int(min(self.settings.lead_s, self.settings.lease_s) * 1000)

    def _step_down(self) -> None:
        """A leader that stops gives the lead up and wakes the followers (``SPARE``): one takes it at once."""
        if not self._lead.held_by(self.owner, _wall_ms()):
            return

        def give_up(conn: Connection) -> None:
            forming_lead.step_down(conn, self.owner)
            announce(conn, SPARE)

        try:
            self.db.write_with(give_up)
        except Exception:  # the lead lapses on its own
            log.exception("could not give the forming lead up; it lapses within %.1f s", self._lead_ms() / 1000)
        self._lead = forming_lead.Lead(None, 0)

    # -- sending ------------------------------------------------------------------------------------------
    def share(self, destination: str) -> int:
        """How many sends may be in flight to ``destination`` at once."""
        return 1 if is_fifo(destination) else self.settings.per_destination

    def _room(self) -> dict[str, int]:
        """Per requester with sends here, how many more a claim may take for it (held under ``_stir``);
        the others may take ``_claim_room``."""
        return {
            requester: self._claim_room - running - len(self._waiting_for.get(requester, ()))
            for requester, running in self._running_for.items()
        }

    @property
    def _claim_room(self) -> int:
        # A requester's sends here: ``per_requester`` on the sending threads and as many again waiting
        # for them, so a thread that ends takes the next at once rather than wait for a pass; the rest
        # stays due, unleased, for whichever dispatcher has room first.
        return 2 * self.settings.per_requester

    def _busy(self, sending_here: Mapping[str, int], elsewhere: Mapping[str, int]) -> list[str]:
        """Destinations sending their full share: the sends in flight here plus, for every other
        dispatcher sending to it, at least one."""
        return [d for d in {*sending_here, *elsewhere} if sending_here.get(d, 0) + elsewhere.get(d, 0) >= self.share(d)]

    def start(self, claimed: Sequence[Outgoing]) -> None:
        """One send per destination of the claimed messages, each finished on its sending thread."""
        by_destination: dict[tuple[str, str], list[Outgoing]] = {}
        for message in claimed:
            by_destination.setdefault((message.transport, message.destination), []).append(message)
        for (transport, destination), batch in by_destination.items():
            requester = batch[0].customer_id
            with self._stir:
                self._sending[destination] = self._sending.get(destination, 0) + 1
                self._leased.update(m.message_id for m in batch)
                if self._running_for.get(requester, 0) >= self.settings.per_requester:
                    self._waiting_for.setdefault(requester, deque()).append((transport, destination, batch))
                    continue
                self._running_for[requester] = self._running_for.get(requester, 0) + 1
            self._submit(transport, destination, batch)

    def _submit(self, transport: str, destination: str, batch: Sequence[Outgoing]) -> None:
        try:
            self._pool.submit(self._send_and_finish, transport, destination, batch)
        except RuntimeError:  # stopping: the pool takes no more; the leases lapse and another pass sends
            self._sent(destination, batch)

    def send(self, transport: str, batch: Sequence[Outgoing]) -> list[outbox.Result]:
        started = _wall_ms()
        began = time.perf_counter()
        try:
            errors = self.transports[transport].send(batch)
        except Exception as exc:  # a transport bug must not lose the batch: it is retried
            log.exception("transport %s failed", transport)
            errors = [describe(exc)] * len(batch)
        latency = int((time.perf_counter() - began) * 1000)
        failed = [e for e in errors if e is not None]
        if failed:  # the attempt log has each one; this says at once that a destination is failing
            log.warning(
                "%d of %d message(s) to %s failed: %s", len(failed), len(batch), batch[0].destination, failed[0]
            )
        return [outbox.Result(m.message_id, e, started, latency) for m, e in zip(batch, errors, strict=False)]

    def finish(self, results: Sequence[outbox.Result]) -> None:
        self.db.write_with(lambda conn: outbox.finish(conn, self.owner, results, self.settings.retry, _wall_ms()))

    def _send_and_finish(self, transport: str, destination: str, batch: Sequence[Outgoing]) -> None:
        try:
            self.finish(self.send(transport, batch))
        except Exception:
            log.exception("delivery to %s failed; the leases will lapse and the messages be retried", destination)
        finally:
            self._sent(destination, batch)

    def _sent(self, destination: str, batch: Sequence[Outgoing]) -> None:
        requester = batch[0].customer_id
        following: tuple[str, str, Sequence[Outgoing]] | None = None
        with self._stir:
            self._leased.difference_update(m.message_id for m in batch)
            self._sending[destination] -= 1
            if not self._sending[destination]:
                del self._sending[destination]
            if destination in self._held_back:
                self._freed = True
            if requester in self._wanting_room:
                self._freed = True  # the last pass left this requester's messages due for want of room
            waiting = self._waiting_for.get(requester)
            if waiting:  # the requester's next send takes the thread this one leaves
                following = waiting.popleft()
                if not waiting:
                    del self._waiting_for[requester]
            else:
                self._running_for[requester] -= 1
                if not self._running_for[requester]:
                    del self._running_for[requester]
            self._stir.notify_all()
        if following is not None:
            self._submit(*following)

    def renew(self, message_ids: Collection[int]) -> None:
        self.db.write_with(lambda conn: outbox.renew(conn, self.owner, message_ids, _wall_ms() + self._lease_ms()))

    def _renew_leases(self) -> None:
        """The heartbeat: renew the leases of every send in flight."""
        with self._stir:
            leased = set(self._leased)
        if not leased:
            return
        try:
            self.renew(leased)
        except Exception:
            log.exception("lease renewal failed; it is tried again shortly")

    # -- the loops ------------------------------------------------------------------------------------------
    def deliver_once(self) -> int:
        """Form, claim and send once, to the end (renewing leases meanwhile); returns how many
        messages were attempted."""
        claimed = self.deliver_pass().claimed
        renew_every = self.settings.lease_s / 3
        while True:
            with self._stir:
                if self._stir.wait_for(lambda: not self._sending, renew_every):
                    return len(claimed)
            self._renew_leases()

    async def run_once(self) -> int:
        """``deliver_once`` off the event loop."""
        return await asyncio.to_thread(self.deliver_once)

    def deliver_until_stopped(self) -> None:
        """Deliver until ``stop``, woken the moment a transaction that queued events commits.

        In this process that is the committing thread's call; on PostgreSQL every other process's
        commit reaches us through LISTEN/NOTIFY (``Database.listen``) while we lead (a follower does not
        hear commits); on SQLite shared by several processes their commits are found by the poll
        (``poll_interval_s``), the backstop in any case.

        Sends overlap passes: while messages are being sent, the next pass already forms and claims
        what committed since, for every destination not at its share, so an event never waits for
        an earlier event's round trip, nor for another destination. Leases keep claims disjoint.
        """
        # Commits are heard while this dispatcher leads: always, except on PostgreSQL with another leading.
        stop_hearing: Callable[[], None] | None = self.db.on_commit(OUTBOX, self._wake)
        stop_sharing = self.db.on_commit(SPARE, self._wake_to_share)
        self._contends = True
        try:
            for transport in self.transports.values():
                transport.warm()
            renew_every = self.settings.lease_s / 3
            renew_at = time.monotonic() + renew_every
            while not self._stopping:
                if time.monotonic() >= renew_at:
                    self._renew_leases()
                    renew_at = time.monotonic() + renew_every
                try:
                    # A leader's next pass also comes in time to renew its lead (after a failed pass, the
                    # poll: a database that is down is not retried back to back).
                    wait_s = min(self.deliver_pass().wait_s, self._until_lead_renewal_s())
                except Exception:
                    log.exception("dispatcher pass failed; retrying shortly")
                    wait_s = self.settings.poll_interval_s
                if self._leads and stop_hearing is None:
                    stop_hearing = self.db.on_commit(OUTBOX, self._wake)  # it formed what was waiting
                elif not self._leads and stop_hearing is not None:
                    stop_hearing()  # no wake-up per commit; on PostgreSQL, this process UNLISTENs
                    stop_hearing = None
                with self._stir:
                    # Woken by a commit (if forming), a freed destination or room, work another dispatcher
                    # left (SPARE) or a stop; else at the poll (an idle follower: the lead's lapse),
                    # a message's due time or the heartbeat.
                    self._stir.wait_for(
                        lambda: (self._committed and self._forming) or self._freed or self._spare or self._stopping,
                        min(wait_s, max(0.0, renew_at - time.monotonic())),
                    )
                    gather = self._committed and self._forming and self.settings.batch_window_s > 0
                if gather:
                    with self._stir:
                        self._stir.wait_for(
                            lambda: self._stopping, min(self.settings.batch_window_s, self._until_lead_renewal_s())
                        )
        finally:
            if stop_hearing is not None:
                stop_hearing()
            stop_sharing()
            self._step_down()
            self._contends = False
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _wake(self) -> None:
        """Called by a committing thread once events are queued (``Database.on_commit``), registered
        while this dispatcher leads. One that is not forming leaves commits to the one that is: noted,
        but its thread is not woken (each needless wake-up costs a thread switch and the interpreter
        lock). Its next pass sees the note."""
        with self._stir:
            self._committed = True
            if self._forming:
                self._stir.notify_all()

    def _wake_to_share(self) -> None:
        """Called once a dispatcher (any, this one included) left due messages for want of room."""
        with self._stir:
            self._spare = True
            self._stir.notify_all()

    def stop(self) -> None:
        """Make ``deliver_until_stopped`` return after its current pass; sends in flight finish on their own."""
        with self._stir:
            self._stopping = True
            self._stir.notify_all()

    async def run(self) -> None:
        """``deliver_until_stopped`` on a thread of its own, until cancelled (then stopped, and waited for).

        Its own thread, not this event loop's executor: a busy API on this loop never delays a pass,
        and a commit wakes the dispatcher without a hop through the loop."""
        loop = asyncio.get_running_loop()
        stopped: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if stopped.done():
                return
            if error is None:
                stopped.set_result(None)
            else:
                stopped.set_exception(error)

        def tell(error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed first: nobody waits any more
                loop.call_soon_threadsafe(settle, error)

        def deliver() -> None:
            try:
                self.deliver_until_stopped()
            except BaseException as error:
                tell(error)
                raise
            tell(None)

        # SQLite: this process's writes follow one another on this loop (``Database.write_with``).
        self.db.write_on(loop)
        threading.Thread(target=deliver, name="openturk-dispatch", daemon=True).start()
        try:
            await asyncio.shield(stopped)
        finally:
            self.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(stopped)
            self.db.write_on(None)  # sends still finishing write on their own threads
