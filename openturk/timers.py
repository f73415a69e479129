"""Time-driven transitions: HIT expiry, assignment abandonment, auto-approval, 120-day disposal,
and deleting the uploaded files of assignments that ended unsubmitted.

Due work is found by query (the database is the schedule), oldest first, and each item fires in
its own write transaction that re-checks it is still due, so the real-time loop, a virtual-clock
advance and several server processes can race harmlessly. An item fires at its due time: events
carry the moment the transition logically happened.

An item whose firing raises is logged and stored in ``timer_failures`` with a retry time after the
pass (exponential backoff, capped): the items due after it fire meanwhile, in due order, and it
fires at a later pass once the cause is gone (at that pass's time; a HIT's expiry is still recorded
at its expiration, see ``expiry``). A pass tries each item at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from openturk import expiry, transitions
from openturk.clock import Clock, VirtualClock
from openturk.domain import lifecycle, uploads
from openturk.notify.retry import RetryPolicy
from openturk.store.database import CLOCK, Database
from openturk.store.files import FileRepository
from openturk.store.repository import Repository
from openturk.store.timers import DueTimer

log = logging.getLogger("openturk.timers")
# Delay before a failed item is tried again: 1 s doubling to 10 minutes, with jitter. No last attempt:
# a timer is a promise MTurk keeps (expiry, abandonment, payment), so it is retried until it fires.
BACKOFF = RetryPolicy(base_ms=1_000, cap_ms=600_000)
MAX_ERROR_CHARS = 2000


def fire_due(db: Database, until: int, clock: VirtualClock | None = None) -> int:
    """Fire every timer due at or before ``until`` in due order; return how many fired.

    With a ``VirtualClock``, the clock is moved to each item's due time before it fires, and the
    move is stored in the item's own transaction, so a multi-hour advance replays the hours in order
    for every process of the deployment. An item that raises is backed off to after ``until``
    (``back_off``) and the pass goes on; only a failure to record that escapes.
    """
    fired = 0
    while True:
        with db.read() as conn:
            due = Repository(conn).next_due(until)
        if due is None:
            return fired
        if clock is not None:
            clock.advance_to(due.at)
        try:
            with db.write() as conn:
                repo = Repository(conn)
                _FIRE[due.kind](repo, due.item_id, due.at)
                if due.retry:
                    repo.clear_timer_failure(due.kind, due.item_id)
                if clock is not None:
                    repo.save_clock_offset(clock.offset_ms)
        except Exception as error:
            attempts, retry_at = back_off(db, due, until, error)
            log.exception(
                "timer %s of %s failed (attempt %d); next try at %d ms", due.kind, due.item_id, attempts, retry_at
            )
        else:
            fired += 1


def back_off(db: Database, due: DueTimer, until: int, error: Exception) -> tuple[int, int]:
    """Store the failed item's next try, a backoff after ``until``; return (attempts, retry time).

    Counting from the end of the pass rather than the item's due time keeps one pass (a long
    virtual-clock advance above all) from retrying the same failure over and over.
    """
    with db.write() as conn:
        repo = Repository(conn)
        attempts = repo.timer_failure_attempts(due.kind, due.item_id) + 1
        retry_at = until + BACKOFF.delay_ms(attempts)
        repo.save_timer_failure(due.kind, due.item_id, attempts, retry_at, repr(error)[:MAX_ERROR_CHARS], due.at)
    return attempts, retry_at


def _expire(repo: Repository, hit_id: str, now: int) -> None:
    expiry.locked_hit(repo, hit_id, now)


def _abandon(repo: Repository, assignment_id: str, now: int) -> None:
    found = expiry.locked_assignment(repo, assignment_id, now)
    if found is None or found[0].status != "Accepted" or found[0].deadline > now:
        return
    assignment, hit = found
    hit, released, events = lifecycle.release(hit, repo.slot_count(hit.hit_id), assignment, "abandon", now)
    repo.save_assignment(released)
    transitions.record(repo, hit, repo.slot_count(hit.hit_id), events, now)


def _auto_approve(repo: Repository, assignment_id: str, now: int) -> None:
    found = expiry.locked_assignment(repo, assignment_id, now)
    due = found is not None and found[0].status == "Submitted" and (found[0].auto_approval_time or now + 1) <= now
    if found is None or not due:
        return
    assignment, hit = found
    transitions.approve(repo, hit, assignment, None, now)


def _dispose(repo: Repository, hit_id: str, due: int) -> None:
    hit = expiry.locked_hit(repo, hit_id, due)
    if hit is None or hit.status not in lifecycle.REVIEW or hit.creation_time + lifecycle.AUTO_DISPOSE_AFTER_MS > due:
        return
    counts = repo.slot_count(hit_id)
    if counts.pending or counts.submitted:
        return
    # A HIT that only became disposable after its 120 days (a late expiry or approval) is disposed
    # right after that last transition, never before it.
    now = max(due, repo.last_event_time(hit_id) or due)
    transitions.dispose(repo, hit, counts, now)


def _drop_uploads(repo: Repository, assignment_id: str, now: int) -> None:
    assignment = repo.assignment(assignment_id, for_update=True)
    if assignment is None or assignment.status not in uploads.UNSUBMITTED_STATUSES:
        return
    if assignment.deadline + uploads.UNSUBMITTED_GRACE_MS <= now:
        FileRepository(repo.conn).delete_of_assignment(assignment_id)


_FIRE = {
    "expire": _expire,
    "abandon": _abandon,
    "auto_approve": _auto_approve,
    "dispose": _dispose,
    "drop_uploads": _drop_uploads,
}


def save_offset(db: Database, clock: VirtualClock) -> None:
    with db.write() as conn:
        Repository(conn).save_clock_offset(clock.offset_ms)


def run_once(db: Database, clock: Clock) -> int:
    """One pass of the real-time loop."""
    try:
        return fire_due(db, clock.now_ms())
    except Exception:
        log.exception("timer pass failed; it will run again")
        return 0


def seconds_to_next(db: Database, clock: Clock, longest_s: float) -> float:
    """How long the loop may sleep: until the earliest item falls due, at most ``longest_s``."""
    now = clock.now_ms()
    with db.read() as conn:
        due = Repository(conn).next_due(now + int(longest_s * 1000))
    return longest_s if due is None else max(0.0, (due.at - now) / 1000)


class TimerRunner:
    """This process's timer runner: the real-time loop, and the virtual clock's advances.

    The loop sleeps until the earliest item is due (at most ``interval_s``: the poll that is the
    backstop for items other processes' commits brought forward) or until the virtual clock moves
    in any process (``CLOCK``, LISTEN/NOTIFY on PostgreSQL). Passes and advances of one process take
    turns: an advance replays its span alone, a loop woken by it runs after it. Other processes
    may fire at the same moment: every item re-checks, under its row lock, that it is still due.
    """

    def __init__(self, db: Database, clock: Clock, interval_s: float) -> None:
        self.db, self.clock, self.interval_s = db, clock, interval_s
        self._turn = asyncio.Lock()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        moved = asyncio.Event()
        # Only a virtual clock moves (and announces it); with the real one there is nothing to hear, and a
        # process LISTENing to any channel costs PostgreSQL a wake-up of its backend at every commit that
        # NOTIFYs any channel (each queued event's), so a `serve --no-dispatch` does not LISTEN at all.
        stop_hearing = (
            self.db.on_commit(CLOCK, lambda: loop.call_soon_threadsafe(moved.set))
            if isinstance(self.clock, VirtualClock)
            else lambda: None
        )
        try:
            while True:
                moved.clear()
                async with self._turn:
                    await asyncio.to_thread(run_once, self.db, self.clock)
                try:
                    delay = await asyncio.to_thread(seconds_to_next, self.db, self.clock, self.interval_s)
                except Exception:
                    log.exception("timer schedule query failed")
                    delay = self.interval_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(moved.wait(), delay)
        finally:
            stop_hearing()

    async def advance(self, clock: VirtualClock, seconds: float) -> int:
        """Move the virtual clock ``seconds`` forward, firing every item due in that span, in order."""
        async with self._turn:
            target = clock.now_ms() + int(seconds * 1000)
            fired = await asyncio.to_thread(fire_due, self.db, target, clock)
            clock.advance_to(target)
            await asyncio.to_thread(save_offset, self.db, clock)
        return fired
