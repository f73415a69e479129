"""The pure transition rules, without a server."""

from __future__ import annotations

import pytest

from openturk.domain import lifecycle
from openturk.domain.model import HIT, Assignment, SlotCounts
from openturk.errors import InvalidMaximumAssignmentsIncrease

NOW = 1_000_000


def make_hit(**changes: object) -> HIT:
    hit = HIT(
        hit_id="1H",
        customer_id="AC",
        hit_type_id="1T",
        question="q",
        max_assignments=2,
        status="Assignable",
        review_status="NotReviewed",
        creation_time=NOW,
        expiration=NOW + 60_000,
        expiry_processed=False,
    )
    return hit.evolve(**changes)


def make_assignment() -> Assignment:
    return Assignment(
        assignment_id="1A",
        hit_id="1H",
        worker_id="AW",
        status="Accepted",
        accept_time=NOW,
        deadline=NOW + 1000,
        reward_cents=50,
        fee_cents=10,
    )


def kinds(events: list) -> list[str]:  # type: ignore[type-arg]
    return [event.event_type for event in events]


def test_accepting_the_last_slot_makes_the_hit_unassignable() -> None:
    hit, events = lifecycle.accept(make_hit(), SlotCounts(pending=1), make_assignment(), NOW)
    assert hit.status == "Unassignable"
    assert kinds(events) == ["AssignmentAccepted"]
    assert events[0].assignment_id == "1A"


def test_last_submission_makes_it_reviewable() -> None:
    hit, submitted, events = lifecycle.submit(
        make_hit(status="Unassignable"), SlotCounts(pending=1, submitted=1), make_assignment(), "<xml/>", 60, NOW
    )
    assert hit.status == "Reviewable"
    assert submitted.auto_approval_time == NOW + 60_000
    assert kinds(events) == ["AssignmentSubmitted", "HITReviewable"]


def test_expiry_with_work_in_progress_waits() -> None:
    hit, events = lifecycle.expire(make_hit(), SlotCounts(pending=1), NOW + 60_000)
    assert hit.status == "Unassignable" and hit.expiry_processed
    assert kinds(events) == ["HITExpired"]
    hit, _, events = lifecycle.release(hit, SlotCounts(pending=1), make_assignment(), "abandon", NOW + 70_000)
    assert hit.status == "Reviewable"
    assert kinds(events) == ["AssignmentAbandoned", "HITReviewable"]


def test_expiry_of_a_reviewable_hit_emits_nothing() -> None:
    hit, events = lifecycle.expire(make_hit(status="Reviewable"), SlotCounts(submitted=2), NOW + 60_000)
    assert events == [] and hit.status == "Reviewable"


def test_return_reopens_an_unexpired_hit() -> None:
    hit, released, events = lifecycle.release(
        make_hit(status="Unassignable"), SlotCounts(pending=2), make_assignment(), "return", NOW
    )
    assert hit.status == "Assignable" and released.status == "Returned"
    assert kinds(events) == ["AssignmentReturned"]


def test_extension_reopens_only_unexpired_hits() -> None:
    hit, events = lifecycle.add_assignments(make_hit(status="Reviewable"), SlotCounts(submitted=2), 1, NOW)
    assert (hit.status, hit.max_assignments, kinds(events)) == ("Assignable", 3, ["HITExtended"])
    expired = make_hit(status="Reviewable", expiration=NOW - 1, expiry_processed=True)
    hit, events = lifecycle.add_assignments(expired, SlotCounts(submitted=2), 1, NOW)
    assert hit.status == "Reviewable" and kinds(events) == ["HITExtended"]
    hit, _ = lifecycle.extend_expiration(hit, SlotCounts(submitted=2), NOW + 5000, NOW)
    assert hit.status == "Assignable" and not hit.expiry_processed


@pytest.mark.parametrize(
    ("before", "added", "refused"), [(9, 1, True), (5, 20, True), (9, 0, False), (10, 5, False), (1, 8, False)]
)
def test_extension_cannot_cross_ten_assignments(before: int, added: int, refused: bool) -> None:
    hit = make_hit(max_assignments=before)
    if refused:
        with pytest.raises(InvalidMaximumAssignmentsIncrease, match="fewer than 10 assignments"):
            lifecycle.add_assignments(hit, SlotCounts(), added, NOW)
    else:
        assert lifecycle.add_assignments(hit, SlotCounts(), added, NOW)[0].max_assignments == before + added


def test_review_status_moves_only_between_review_states() -> None:
    assert lifecycle.set_review_status(make_hit(status="Reviewable"), revert=False).status == "Reviewing"  # type: ignore[union-attr]
    assert lifecycle.set_review_status(make_hit(status="Reviewing"), revert=True).status == "Reviewable"  # type: ignore[union-attr]
    assert lifecycle.set_review_status(make_hit(), revert=False) is None
    assert lifecycle.set_review_status(make_hit(status="Reviewable"), revert=True) is None
