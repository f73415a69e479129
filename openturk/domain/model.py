"""The nouns of the HIT lifecycle as plain dataclasses (times in epoch ms, money in cents)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from openturk.api import enums

HITStatus = Literal["Assignable", "Unassignable", "Reviewable", "Reviewing", "Disposed"]
# The wire shows only Submitted/Approved/Rejected; the others are internal (MTurk's concepts).
AssignmentStatus = Literal["Accepted", "Submitted", "Approved", "Rejected", "Returned", "Abandoned"]

# The event types a transition emits: the model's EventType (Ping is sent only as a test).
EVENT_TYPES = enums.EVENT_TYPES


@dataclass(frozen=True)
class HITType:
    hit_type_id: str
    customer_id: str
    title: str
    description: str
    keywords: str | None
    reward_cents: int
    assignment_duration_s: int
    auto_approval_delay_s: int
    qualification_requirements: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class HIT:
    hit_id: str
    customer_id: str
    hit_type_id: str
    question: str
    max_assignments: int
    status: HITStatus
    review_status: str
    creation_time: int
    expiration: int
    expiry_processed: bool
    requester_annotation: str | None = None
    hit_layout_id: str | None = None
    # HITLayoutParameters as (Name, Value) pairs in the order given: MTurk's batch input row
    hit_layout_parameters: tuple[tuple[str, str], ...] = ()

    def evolve(self, **changes: Any) -> HIT:
        return replace(self, **changes)


@dataclass(frozen=True)
class SlotCounts:
    """How a HIT's assignment slots are used, derived from its assignments."""

    pending: int = 0  # accepted, still in progress
    submitted: int = 0  # submitted, not yet approved or rejected
    completed: int = 0  # approved or rejected

    def available(self, max_assignments: int) -> int:
        return max(0, max_assignments - self.pending - self.submitted - self.completed)

    def with_change(self, *, pending: int = 0, submitted: int = 0, completed: int = 0) -> SlotCounts:
        return SlotCounts(self.pending + pending, self.submitted + submitted, self.completed + completed)


@dataclass(frozen=True)
class Assignment:
    assignment_id: str
    hit_id: str
    worker_id: str
    status: AssignmentStatus
    accept_time: int
    deadline: int
    reward_cents: int
    fee_cents: int
    submit_time: int | None = None
    auto_approval_time: int | None = None
    approval_time: int | None = None
    rejection_time: int | None = None
    answer: str | None = None
    requester_feedback: str | None = None

    def evolve(self, **changes: Any) -> Assignment:
        return replace(self, **changes)


@dataclass(frozen=True)
class Event:
    """One lifecycle event, recorded in the transaction of the transition that implies it."""

    event_type: str
    event_time: int
    customer_id: str
    hit_type_id: str
    hit_id: str
    assignment_id: str | None = None
