"""Persist a HIT transition: the HIT row, its escrow, and the events it implies, together.

Every caller (requester operations, worker actions, timers) goes through ``record`` inside one
write transaction, so a state change and its events commit or vanish as one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from openturk.domain import money
from openturk.domain.lifecycle import OPEN
from openturk.domain.model import HIT, Event, HITType, SlotCounts
from openturk.notify import outbox
from openturk.store.repository import Repository


def held_cents(hit: HIT, counts: SlotCounts, hit_type: HITType, now: int) -> int:
    """Reward plus fee for every slot that may still be paid."""
    if hit.status == "Disposed":
        return 0
    open_slots = counts.available(hit.max_assignments) if hit.status in OPEN and hit.expiration > now else 0
    unit = hit_type.reward_cents + money.assignment_fee(hit_type.reward_cents, hit.max_assignments)
    return (open_slots + counts.pending + counts.submitted) * unit


def record_new(
    repo: Repository,
    hit: HIT,
    hit_type: HITType,
    events: Sequence[Event],
    now: int,
    review_policies: tuple[str | None, str | None] = (None, None),
) -> None:
    """Insert a new HIT with its escrow already held, and append its events."""
    held = held_cents(hit, SlotCounts(), hit_type, now)
    repo.insert_hit(hit, review_policies, held)
    repo.change_balances(hit.customer_id, on_hold=held)
    outbox.record_events(repo.conn, events, int(time.time() * 1000))


def record(
    repo: Repository,
    hit: HIT,
    counts: SlotCounts,
    events: Sequence[Event],
    now: int,
    hit_type: HITType | None = None,
) -> None:
    """Save ``hit``, move its escrow to what its slots now hold, and append ``events``."""
    repo.save_hit(hit)
    if hit_type is None or hit_type.hit_type_id != hit.hit_type_id:
        hit_type = repo.hit_type(hit.hit_type_id)
    assert hit_type is not None
    held = held_cents(hit, counts, hit_type, now)
    previous = repo.held_cents(hit.hit_id)
    if held != previous:
        repo.set_held_cents(hit.hit_id, held)
        repo.change_balances(hit.customer_id, on_hold=held - previous)
    # Wall time, not the server clock: it starts the delivery-latency measurement.
    outbox.record_events(repo.conn, events, int(time.time() * 1000))
