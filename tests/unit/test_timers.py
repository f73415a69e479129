"""A timer item that raises is backed off durably and never holds up the items due after it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openturk import timers
from openturk.clock import SystemClock, VirtualClock
from openturk.store.database import CLOCK, Database
from openturk.store.repository import Repository
from tests.support.world import T0, World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path / "store.db")
    yield made
    made.db.dispose()


class Poison:
    """Makes one item's expiry raise while ``active``; counts the attempts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, hit_id: str) -> None:
        self.hit_id, self.active, self.attempts = hit_id, True, 0
        healthy: Callable[[Repository, str, int], None] = timers._FIRE["expire"]

        def expire(repo: Repository, item_id: str, now: int) -> None:
            if item_id == self.hit_id:
                self.attempts += 1
                if self.active:
                    raise RuntimeError("poisoned")
            healthy(repo, item_id, now)

        monkeypatch.setitem(timers._FIRE, "expire", expire)


def test_a_failing_item_does_not_block_the_items_due_after_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    poisoned = world.create_hit(LifetimeInSeconds=60)
    later = world.create_hit(LifetimeInSeconds=120, MaxAssignments=2)
    assignment_id = world.accept(later)
    world.submit(assignment_id)  # auto-approval due a day later
    poison = Poison(monkeypatch, poisoned)
    until = T0 + 2 * 86_400_000
    assert timers.fire_due(world.db, until) == 2  # the later HIT's expiry and its auto-approval
    assert poison.attempts == 1
    assert "HITExpired" not in world.kinds(poisoned)
    assert world.kinds(later)[-3:] == ["HITExpired", "HITReviewable", "AssignmentApproved"]
    failure = world.failures()[("expire", poisoned)]
    assert failure.attempts == 1 and "poisoned" in failure.last_error
    assert until + timers.BACKOFF.base_ms // 2 <= failure.retry_at <= until + timers.BACKOFF.base_ms


def test_a_failed_item_is_retried_with_growing_backoff_then_fires(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hit_id = world.create_hit(LifetimeInSeconds=60)
    poison = Poison(monkeypatch, hit_id)
    timers.fire_due(world.db, T0 + 61_000)
    retry_at = world.failures()[("expire", hit_id)].retry_at

    # Another process on the same database (or this one restarted) reads the same backoff.
    other = Database(world.db.url)
    try:
        assert timers.fire_due(other, retry_at - 1) == 0
        assert poison.attempts == 1
        assert timers.fire_due(other, retry_at) == 0  # due again, and still failing
    finally:
        other.dispose()
    assert poison.attempts == 2
    second = world.failures()[("expire", hit_id)]
    assert second.attempts == 2 and second.first_failed_at == T0 + 60_000
    assert retry_at + timers.BACKOFF.base_ms <= second.retry_at <= retry_at + 2 * timers.BACKOFF.base_ms

    poison.active = False  # the cause is gone
    assert timers.fire_due(world.db, second.retry_at) == 1
    assert world.kinds(hit_id) == ["HITCreated", "HITExpired", "HITReviewable"]
    expired = [event for event in world.events(hit_id) if event.event_type == "HITExpired"]
    assert expired[0].event_time == T0 + 60_000  # recorded at the expiration, however late it fired
    assert world.failures() == {}


def test_an_advance_over_a_failing_item_tries_it_once_and_ends(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    hit_id = world.create_hit(LifetimeInSeconds=60)
    healthy = world.create_hit(LifetimeInSeconds=3600)
    poison = Poison(monkeypatch, hit_id)
    clock = VirtualClock()
    target = clock.now_ms() + 400 * 86_400_000  # far past every backoff of the poisoned item
    fired = timers.fire_due(world.db, target, clock)
    assert poison.attempts == 1
    assert fired == 2  # the healthy HIT's expiry and its 120-day disposal
    assert world.kinds(healthy)[-1] == "HITDisposed"
    assert world.failures()[("expire", hit_id)].retry_at > target


@pytest.mark.parametrize("virtual", [True, False])
def test_the_timer_runner_hears_clock_moves_only_with_a_virtual_clock(tmp_path: Path, virtual: bool) -> None:
    """Only a virtual clock moves (and announces it). With the real clock a process that LISTENed to it
    cost PostgreSQL a wake-up of its listening backend at every commit that NOTIFYs anything."""
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate()
    runner = timers.TimerRunner(db, VirtualClock() if virtual else SystemClock(), interval_s=60)

    async def scenario() -> frozenset[str]:
        running = asyncio.create_task(runner.run())
        await asyncio.sleep(0.2)  # its first pass ran; it waits on the clock or its interval
        heard = db._heard_channels()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        assert db._heard_channels() == frozenset()  # unregistered as it stops
        return heard

    try:
        assert asyncio.run(scenario()) == (frozenset({CLOCK}) if virtual else frozenset())
    finally:
        db.dispose()
