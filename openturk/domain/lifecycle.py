"""HIT and assignment transitions: each returns the new state and the events it implies.

The rules are MTurk's (see ``shared/spec/mturk-api.md`` §1); openturk's own choices are marked
DECISION. Nothing here reads a clock or a database: callers pass ``now`` and current counts.
"""

from __future__ import annotations

import re

from openturk.api import enums
from openturk.domain import money
from openturk.domain.model import HIT, Assignment, Event, SlotCounts
from openturk.errors import InvalidMaximumAssignmentsIncrease, InvalidParameterValue

OPEN = ("Assignable", "Unassignable")
REVIEW = enums.REVIEWABLE_HIT_STATUSES
# "HITs are automatically disposed of after 120 days" (MTurk's DeleteHIT documentation); counted
# from CreationTime, and only once the HIT could be deleted (see docs/decisions.md).
AUTO_DISPOSE_AFTER_MS = 120 * 24 * 3600 * 1000
MAX_FEEDBACK = 1024
_FORBIDDEN_FEEDBACK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def check_feedback(feedback: str, name: str = "RequesterFeedback") -> None:
    """The rules of a RequesterFeedback, whoever writes it (ApproveAssignment, RejectAssignment, a
    review policy's ApproveReason or RejectReason); ``InvalidParameterValue`` naming ``name``."""
    if len(feedback) > MAX_FEEDBACK:
        raise InvalidParameterValue(f"{name} must be at most {MAX_FEEDBACK} characters.")
    if _FORBIDDEN_FEEDBACK.search(feedback):
        raise InvalidParameterValue(f"{name} must not contain ASCII control characters.")


def _event(kind: str, hit: HIT, now: int, assignment: Assignment | None = None) -> Event:
    return Event(
        event_type=kind,
        event_time=now,
        customer_id=hit.customer_id,
        hit_type_id=hit.hit_type_id,
        hit_id=hit.hit_id,
        assignment_id=assignment.assignment_id if assignment else None,
    )


def is_expired(hit: HIT, now: int) -> bool:
    return hit.expiration <= now


def expiry_due(hit: HIT, now: int) -> bool:
    """Whether the HIT's lifetime ended by ``now`` and nothing has processed that end yet."""
    return not hit.expiry_processed and hit.status != "Disposed" and is_expired(hit, now)


def settle(hit: HIT, counts: SlotCounts, now: int) -> tuple[HIT, list[Event]]:
    """Derive an open HIT's status from its slots and expiry; emit HITReviewable on entry.

    A HIT becomes Reviewable when every slot is submitted, or when it has expired with no
    assignment still in progress (even with none submitted: DECISION). Reviewable, Reviewing and
    Disposed HITs leave only through explicit operations.
    """
    if hit.status not in OPEN:
        return hit, []
    available = counts.available(hit.max_assignments)
    done = (available == 0 or is_expired(hit, now)) and counts.pending == 0
    if done:
        reviewable = hit.evolve(status="Reviewable")
        return reviewable, [_event("HITReviewable", reviewable, now)]
    status = "Assignable" if available > 0 and not is_expired(hit, now) else "Unassignable"
    return hit.evolve(status=status), []


def create(hit: HIT, now: int) -> tuple[HIT, list[Event]]:
    return hit, [_event("HITCreated", hit, now)]


def expire(hit: HIT, counts: SlotCounts, now: int) -> tuple[HIT, list[Event]]:
    """Process the lifetime's end at ``now``: HITExpired once, if work was still outstanding, then settle.

    ``now`` is when the lifetime ended: the expiration itself when it passed on its own (whoever
    notices it, the timer or a later transition), the request time for UpdateExpirationForHIT to
    the past. A HIT whose every assignment was submitted before the end emits no HITExpired
    (notifications.md: "before all assignments were submitted").
    """
    events: list[Event] = []
    hit = hit.evolve(expiry_processed=True, expiration=min(hit.expiration, now))
    if hit.status in OPEN:
        events.append(_event("HITExpired", hit, now))
    hit, more = settle(hit, counts, now)
    return hit, events + more


def accept(hit: HIT, counts: SlotCounts, assignment: Assignment, now: int) -> tuple[HIT, list[Event]]:
    hit, events = settle(hit, counts.with_change(pending=1), now)
    return hit, [_event("AssignmentAccepted", hit, now, assignment), *events]


def submit(
    hit: HIT, counts: SlotCounts, assignment: Assignment, answer: str, auto_approval_delay_s: int, now: int
) -> tuple[HIT, Assignment, list[Event]]:
    submitted = assignment.evolve(
        status="Submitted", submit_time=now, answer=answer, auto_approval_time=now + auto_approval_delay_s * 1000
    )
    hit, events = settle(hit, counts.with_change(pending=-1, submitted=1), now)
    return hit, submitted, [_event("AssignmentSubmitted", hit, now, submitted), *events]


def release(
    hit: HIT, counts: SlotCounts, assignment: Assignment, reason: str, now: int
) -> tuple[HIT, Assignment, list[Event]]:
    """A worker returned the assignment, or its deadline passed: the slot reopens if the HIT lives."""
    status, kind = ("Returned", "AssignmentReturned") if reason == "return" else ("Abandoned", "AssignmentAbandoned")
    released = assignment.evolve(status=status)
    hit, events = settle(hit, counts.with_change(pending=-1), now)
    return hit, released, [_event(kind, hit, now, released), *events]


def approve(hit: HIT, assignment: Assignment, feedback: str | None, now: int) -> tuple[Assignment, list[Event]]:
    approved = assignment.evolve(
        status="Approved",
        approval_time=now,
        rejection_time=None,
        requester_feedback=feedback if feedback is not None else assignment.requester_feedback,
    )
    return approved, [_event("AssignmentApproved", hit, now, approved)]


def reject(hit: HIT, assignment: Assignment, feedback: str, now: int) -> tuple[Assignment, list[Event]]:
    rejected = assignment.evolve(status="Rejected", rejection_time=now, requester_feedback=feedback)
    return rejected, [_event("AssignmentRejected", hit, now, rejected)]


def add_assignments(hit: HIT, counts: SlotCounts, number: int, now: int) -> tuple[HIT, list[Event]]:
    """CreateAdditionalAssignmentsForHIT (and a review policy's Extend): more slots; a reviewable,
    unexpired HIT opens again. Raises ``InvalidMaximumAssignmentsIncrease`` when the HIT would go
    from fewer than 10 assignments to 10 or more (MTurk's rule: the 40 % fee tier is set at creation).

    DECISION: on an expired HIT the slots wait for an expiry extension.
    """
    limit = money.LARGE_HIT_ASSIGNMENTS
    if hit.max_assignments < limit <= hit.max_assignments + number:
        raise InvalidMaximumAssignmentsIncrease(
            f"A HIT created with fewer than {limit} assignments cannot be extended to {limit} or more "
            f"(it has {hit.max_assignments}; {number} more were asked for)."
        )
    hit = hit.evolve(max_assignments=hit.max_assignments + number)
    return _reopen(hit, counts, now)


def extend_expiration(hit: HIT, counts: SlotCounts, expire_at: int, now: int) -> tuple[HIT, list[Event]]:
    """UpdateExpirationForHIT to a later time (DECISION: emits HITExtended)."""
    hit = hit.evolve(expiration=expire_at, expiry_processed=False)
    return _reopen(hit, counts, now)


def _reopen(hit: HIT, counts: SlotCounts, now: int) -> tuple[HIT, list[Event]]:
    if hit.status in REVIEW and counts.available(hit.max_assignments) > 0 and not is_expired(hit, now):
        hit = hit.evolve(status="Assignable")
    elif hit.status in OPEN:
        hit, _ = settle(hit, counts, now)
    return hit, [_event("HITExtended", hit, now)]


def set_review_status(hit: HIT, revert: bool) -> HIT | None:
    """Reviewable → Reviewing, or back with ``revert``; None when the HIT is in neither state."""
    if not revert and hit.status == "Reviewable":
        return hit.evolve(status="Reviewing")
    if revert and hit.status == "Reviewing":
        return hit.evolve(status="Reviewable")
    return None


def dispose(hit: HIT, now: int) -> tuple[HIT, list[Event]]:
    disposed = hit.evolve(status="Disposed")
    return disposed, [_event("HITDisposed", disposed, now)]


def change_type(hit: HIT, hit_type_id: str) -> HIT:
    return hit.evolve(hit_type_id=hit_type_id)
