"""Time-driven transitions: HIT expiry, assignment abandonment, auto-approval, 120-day disposal.

Due work is found by query (the database is the schedule), oldest first, and each item fires in
its own write transaction that re-checks it is still due, so the real-time loop, a virtual-clock
advance and several server processes can race harmlessly. An item fires at its due time: events
carry the moment the transition logically happened.
"""

from __future__ import annotations

import logging

from openturk import ledger, transitions
from openturk.clock import Clock, VirtualClock
from openturk.domain import lifecycle
from openturk.store.database import Database
from openturk.store.repository import Repository

log = logging.getLogger("openturk.timers")


def fire_due(db: Database, until: int, clock: VirtualClock | None = None) -> int:
    """Fire every timer due at or before ``until`` in due order; return how many fired.

    With a ``VirtualClock``, the clock is moved to each item's due time before it fires, so a
    multi-hour advance replays the hours in order.
    """
    fired = 0
    while True:
        with db.read() as conn:
            due = Repository(conn).next_due(until)
        if due is None:
            return fired
        when, kind, item_id = due
        if clock is not None:
            clock.advance_to(when)
        with db.write() as conn:
            _FIRE[kind](Repository(conn), item_id, when)
        fired += 1


def _expire(repo: Repository, hit_id: str, now: int) -> None:
    hit = repo.hit(hit_id, for_update=True)
    if hit is None or hit.expiry_processed or hit.status == "Disposed" or hit.expiration > now:
        return
    counts = repo.slot_count(hit_id)
    hit, events = lifecycle.expire(hit, counts, now)
    transitions.record(repo, hit, counts, events, now)


def _abandon(repo: Repository, assignment_id: str, now: int) -> None:
    found = repo.assignment_with_hit(assignment_id, for_update=True)
    if found is None or found[0].status != "Accepted" or found[0].deadline > now:
        return
    assignment, hit = found
    hit, released, events = lifecycle.release(hit, repo.slot_count(hit.hit_id), assignment, "abandon", now)
    repo.save_assignment(released)
    transitions.record(repo, hit, repo.slot_count(hit.hit_id), events, now)


def _auto_approve(repo: Repository, assignment_id: str, now: int) -> None:
    found = repo.assignment_with_hit(assignment_id, for_update=True)
    due = found is not None and found[0].status == "Submitted" and (found[0].auto_approval_time or now + 1) <= now
    if found is None or not due:
        return
    assignment, hit = found
    approved, events = lifecycle.approve(hit, assignment, None, now)
    repo.save_assignment(approved)
    ledger.pay_assignment(repo, hit, assignment, now)
    transitions.record(repo, hit, repo.slot_count(hit.hit_id), events, now)


def _dispose(repo: Repository, hit_id: str, due: int) -> None:
    hit = repo.hit(hit_id, for_update=True)
    if hit is None or hit.status not in lifecycle.REVIEW or hit.creation_time + lifecycle.AUTO_DISPOSE_AFTER_MS > due:
        return
    counts = repo.slot_count(hit_id)
    if counts.pending or counts.submitted:
        return
    # A HIT that only became disposable after its 120 days (a late expiry or approval) is disposed
    # right after that last transition, never before it.
    now = max(due, repo.last_event_time(hit_id) or due)
    hit, events = lifecycle.dispose(hit, now)
    transitions.record(repo, hit, counts, events, now)


_FIRE = {"expire": _expire, "abandon": _abandon, "auto_approve": _auto_approve, "dispose": _dispose}


def load_offset(db: Database) -> int:
    with db.read() as conn:
        return Repository(conn).clock_offset()


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
