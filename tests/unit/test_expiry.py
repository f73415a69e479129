"""A HIT's lifetime end is processed exactly once, at its expiration time, whatever acts first.

Each test lets the lifetime pass with no timer pass (the state between an expiration and the
next pass of the timer loop), acts on the HIT, then runs the late timer pass, and checks the
event log: one HITExpired, recorded at the expiration, before the action's own events.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openturk import timers
from openturk.errors import WorkerError
from openturk.requester import assignments, hits
from tests.support.world import T0, World

EXPIRATION = T0 + 60_000  # World.create_hit's default lifetime is 60 s
LATE = EXPIRATION + 5_000  # the lifetime has passed; the timer loop has not run yet


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path / "store.db")
    yield made
    made.db.dispose()


def _late_timer_pass(world: World) -> int:
    return timers.fire_due(world.db, world.clock.now)


def _expired_at(world: World, hit_id: str) -> list[int]:
    return [event.event_time for event in world.events(hit_id) if event.event_type == "HITExpired"]


def test_submit_after_the_lifetime_before_the_timer_pass(world: World) -> None:
    hit_id = world.create_hit()
    assignment_id = world.accept(hit_id)
    world.clock.now = LATE
    world.submit(assignment_id)  # accepted work stays submittable until its own deadline
    assert _late_timer_pass(world) == 0
    assert world.kinds(hit_id) == [
        "HITCreated",
        "AssignmentAccepted",
        "HITExpired",
        "AssignmentSubmitted",
        "HITReviewable",
    ]
    assert _expired_at(world, hit_id) == [EXPIRATION]
    assert world.hit(hit_id).status == "Reviewable"


def test_return_after_the_lifetime_before_the_timer_pass(world: World) -> None:
    hit_id = world.create_hit()
    assignment_id = world.accept(hit_id)
    world.clock.now = LATE
    world.return_(assignment_id)
    _late_timer_pass(world)
    assert world.kinds(hit_id) == [
        "HITCreated",
        "AssignmentAccepted",
        "HITExpired",
        "AssignmentReturned",
        "HITReviewable",
    ]
    assert _expired_at(world, hit_id) == [EXPIRATION]


def test_accept_after_the_lifetime_is_refused_and_the_timer_expires_once(world: World) -> None:
    hit_id = world.create_hit()
    world.clock.now = LATE
    with pytest.raises(WorkerError) as refused:
        world.accept(hit_id)
    assert refused.value.status == 410
    assert world.kinds(hit_id) == ["HITCreated"]  # the refusal rolled its catch-up back with it
    assert _late_timer_pass(world) == 1
    assert world.kinds(hit_id) == ["HITCreated", "HITExpired", "HITReviewable"]
    assert _expired_at(world, hit_id) == [EXPIRATION]


def test_approval_after_the_lifetime_comes_after_the_expiry(world: World) -> None:
    hit_id = world.create_hit(MaxAssignments=2)
    assignment_id = world.accept(hit_id)
    world.submit(assignment_id)
    world.clock.now = LATE
    assignments.approve_assignment(world.ctx, {"AssignmentId": assignment_id})
    _late_timer_pass(world)
    assert world.kinds(hit_id)[2:] == ["AssignmentSubmitted", "HITExpired", "HITReviewable", "AssignmentApproved"]
    assert _expired_at(world, hit_id) == [EXPIRATION]


def test_extension_after_the_lifetime_expires_the_first_lifetime_first(world: World) -> None:
    hit_id = world.create_hit()
    world.clock.now = LATE
    later = LATE + 3_600_000
    hits.update_expiration_for_hit(world.ctx, {"HITId": hit_id, "ExpireAt": later})
    assert _late_timer_pass(world) == 0
    assert world.kinds(hit_id) == ["HITCreated", "HITExpired", "HITReviewable", "HITExtended"]
    assert world.hit(hit_id).status == "Assignable"
    # The extended lifetime ends in its turn, once.
    world.clock.now = later + 1
    _late_timer_pass(world)
    assert _expired_at(world, hit_id) == [EXPIRATION, later]


def test_expire_now_after_the_lifetime_records_the_expiration_time(world: World) -> None:
    hit_id = world.create_hit()
    world.accept(hit_id)
    world.clock.now = LATE
    hits.update_expiration_for_hit(world.ctx, {"HITId": hit_id, "ExpireAt": 0})
    hits.update_expiration_for_hit(world.ctx, {"HITId": hit_id, "ExpireAt": 0})
    _late_timer_pass(world)
    assert _expired_at(world, hit_id) == [EXPIRATION]
    assert world.hit(hit_id).expiration == EXPIRATION


def test_additional_assignments_after_the_lifetime(world: World) -> None:
    hit_id = world.create_hit()
    world.clock.now = LATE
    hits.create_additional_assignments_for_hit(world.ctx, {"HITId": hit_id, "NumberOfAdditionalAssignments": 2})
    assert _late_timer_pass(world) == 0
    assert world.kinds(hit_id) == ["HITCreated", "HITExpired", "HITReviewable", "HITExtended"]
    assert world.hit(hit_id).status == "Reviewable"  # DECISION: the new slots wait for an extension


def test_retype_after_the_lifetime_leaves_the_expiry_with_the_old_type(world: World) -> None:
    hit_id = world.create_hit()
    old_type = world.hit(hit_id).hit_type_id
    new_type = hits.create_hit_type(
        world.ctx,
        {"Title": "Other", "Description": "d", "Reward": "0.10", "AssignmentDurationInSeconds": 600},
    )["HITTypeId"]
    world.clock.now = LATE
    hits.update_hit_type_of_hit(world.ctx, {"HITId": hit_id, "HITTypeId": new_type})
    _late_timer_pass(world)
    expired = [event for event in world.events(hit_id) if event.event_type == "HITExpired"]
    assert [(event.event_time, event.hit_type_id) for event in expired] == [(EXPIRATION, old_type)]


def test_delete_after_the_lifetime_sees_the_expired_hit(world: World) -> None:
    hit_id = world.create_hit()
    world.clock.now = LATE
    hits.delete_hit(world.ctx, {"HITId": hit_id})
    assert world.kinds(hit_id) == ["HITCreated", "HITExpired", "HITReviewable", "HITDisposed"]
    assert _late_timer_pass(world) == 0


def test_deadline_at_the_expiration_instant_expires_before_abandoning(world: World) -> None:
    hit_id = world.create_hit(LifetimeInSeconds=600, AssignmentDurationInSeconds=600)
    world.accept(hit_id)  # at creation time: its deadline is the HIT's expiration, to the millisecond
    world.clock.now = T0 + 600_000
    _late_timer_pass(world)
    assert world.kinds(hit_id) == [
        "HITCreated",
        "AssignmentAccepted",
        "HITExpired",
        "AssignmentAbandoned",
        "HITReviewable",
    ]
    assert _expired_at(world, hit_id) == [T0 + 600_000]


@st.composite
def _schedules(draw: st.DrawFn) -> tuple[int, int, int, str, int, list[int]]:
    """A HIT's lifetime, one worker's accept, their last action and when, and when timer passes run
    (seconds from creation); the drawn order of equal times is the order they happen in."""
    lifetime = draw(st.integers(30, 300))
    duration = draw(st.integers(30, 300))
    accepted = draw(st.integers(0, lifetime - 1))
    action = draw(st.sampled_from(["submit", "return", "abandon"]))
    acted = draw(st.integers(accepted, accepted + duration - 1))
    passes = draw(st.lists(st.integers(0, accepted + duration + 10), max_size=4))
    return lifetime, duration, accepted, action, acted, passes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedule=_schedules())
def test_hit_expired_once_at_the_expiration_whatever_the_order(
    schedule: tuple[int, int, int, str, int, list[int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    lifetime, duration, accepted, action, acted, passes = schedule
    world = _shared_world(tmp_path_factory)
    start = world.clock.now = world.clock.now + 10 * 86_400_000  # clear of every earlier example
    hit_id = world.create_hit(LifetimeInSeconds=lifetime, AssignmentDurationInSeconds=duration)
    expiration = start + lifetime * 1000
    steps = sorted([(accepted, 0, "accept"), (acted, 1, action)] + [(at, 2, "pass") for at in passes])
    assignment_id = ""
    for at, _, step in steps:
        world.clock.now = max(world.clock.now, start + at * 1000)
        if step == "accept":
            assignment_id = world.accept(hit_id)
        elif step == "submit":
            world.submit(assignment_id)
        elif step == "return":
            world.return_(assignment_id)
        elif step == "pass":
            timers.fire_due(world.db, world.clock.now)
    world.clock.now = start + (lifetime + duration + 1) * 1000
    timers.fire_due(world.db, world.clock.now)

    recorded = world.events(hit_id)
    open_at_expiration = not (action == "submit" and acted < lifetime)
    assert _expired_at(world, hit_id) == ([expiration] if open_at_expiration else [])
    times = [event.event_time for event in recorded]
    assert times == sorted(times), [(event.event_type, event.event_time - start) for event in recorded]
    assert world.hit(hit_id).status == "Reviewable"


_worlds: dict[str, World] = {}


def _shared_world(factory: pytest.TempPathFactory) -> World:
    """One store for every example (a migration per example would dominate the run)."""
    if "world" not in _worlds:
        _worlds["world"] = World(factory.mktemp("schedules") / "store.db")
    return _worlds["world"]
