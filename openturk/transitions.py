"""Persist a HIT transition: the HIT row, its escrow, and the events it implies, together.

Every caller (requester operations, worker actions, timers) goes through ``record`` inside one
write transaction, so a state change, its money and its events commit or vanish as one. The escrow
moves through ``ledger.hold_for``: a transition that needs more held than before reserves it from
the available balance, or is refused with ``InsufficientFunds`` (and the caller's transaction rolls
back).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from openturk import ledger, review_runs
from openturk.domain import lifecycle
from openturk.domain.model import HIT, Assignment, Event, HITType, SlotCounts
from openturk.notify import outbox
from openturk.store.files import FileRepository
from openturk.store.repository import Repository


def record_new(
    repo: Repository,
    hit: HIT,
    hit_type: HITType,
    events: Sequence[Event],
    now: int,
    review_policies: tuple[str | None, str | None] = (None, None),
) -> None:
    """Insert a new HIT, reserve its escrow (``InsufficientFunds`` if it cannot), append its events."""
    repo.insert_hit(hit, review_policies)
    outbox.record_events(repo.conn, events, int(time.time() * 1000))
    # A new HIT holds nothing and has no assignments: its whole escrow is reserved, no reads needed.
    # Last: on PostgreSQL the reservation locks the requester's row until the commit, and one
    # requester's CreateHITs wait for each other on it, so as little as possible comes after.
    ledger.reserve(repo, hit, ledger.escrow_cents(hit, hit_type, SlotCounts(), []), _why(events, "HITCreated"), now)


def record(
    repo: Repository,
    hit: HIT,
    counts: SlotCounts,
    events: Sequence[Event],
    now: int,
    hit_type: HITType | None = None,
    why: str | None = None,
    *,
    review: bool = True,
) -> None:
    """Save ``hit``, move its escrow to what its slots now need, and append ``events``.

    Raises ``InsufficientFunds`` when the escrow must grow by more than is available. ``why``
    names the movement in the journal; by default it is the transition's first event. A HIT that
    becomes Reviewable runs its HITReviewPolicy here (``review=False``: the caller runs it).
    """
    repo.save_hit(hit)
    if hit_type is None or hit_type.hit_type_id != hit.hit_type_id:
        hit_type = repo.hit_type(hit.hit_type_id)
    assert hit_type is not None
    ledger.hold_for(repo, hit, counts, hit_type, why or _why(events, "escrow"), now)
    # Wall time, not the server clock: it starts the delivery-latency measurement.
    outbox.record_events(repo.conn, events, int(time.time() * 1000))
    if review and any(event.event_type == "HITReviewable" for event in events):
        review_runs.on_reviewable(repo, hit.hit_id, now)


def dispose(repo: Repository, hit: HIT, counts: SlotCounts, now: int) -> None:
    """Dispose ``hit`` (DeleteHIT, or the timer 120 days on) and delete its workers' uploaded files:
    "After the HIT is disposed, any uploaded files are deleted, and cannot be retrieved" (GetFileUploadURL)."""
    disposed, events = lifecycle.dispose(hit, now)
    FileRepository(repo.conn).delete_of_hit(hit.hit_id)
    record(repo, disposed, counts, events, now)


def _why(events: Sequence[Event], default: str) -> str:
    return events[0].event_type if events else default


def approve(repo: Repository, hit: HIT, assignment: Assignment, feedback: str | None, now: int) -> None:
    """Approve ``assignment`` (Submitted, or Rejected when a rejection is overridden): pay its reward
    and fee through the ledger (``InsufficientFunds`` for an override the balance cannot cover),
    save it and record the HIT's events. Every approval goes through here: the operation, the
    auto-approval timer and review policies."""
    ledger.pay_assignment(repo, hit, assignment, now)
    approved, events = lifecycle.approve(hit, assignment, feedback, now)
    repo.save_assignment(approved)
    record(repo, hit, repo.slot_count(hit.hit_id), events, now)


def reject(repo: Repository, hit: HIT, assignment: Assignment, feedback: str, now: int) -> None:
    """Reject a Submitted ``assignment``: its escrow is released as the HIT's events are recorded."""
    rejected, events = lifecycle.reject(hit, assignment, feedback, now)
    repo.save_assignment(rejected)
    record(repo, hit, repo.slot_count(hit.hit_id), events, now)
