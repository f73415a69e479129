"""Every de-duplication store — memory, SQLite, PostgreSQL — keeps one contract: claims belong to
their owner, are renewed by it, and only it completes or releases them; handler steps are recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openturk.consumer.dedup import DedupStore, MemoryDedup, SQLDedup, SQLiteDedup, Verdict
from tests.support.postgres import TemporaryPostgres


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


MakeStore = Callable[[ManualClock], DedupStore]


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    database = TemporaryPostgres().start()
    try:
        yield database
    finally:
        database.stop()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStore:
    """A factory of stores over one shared backing (two calls: two consumers of one database)."""
    if request.param == "memory":
        shared: dict[str, MemoryDedup] = {}

        def memory(clock: ManualClock) -> DedupStore:
            return shared.setdefault("store", MemoryDedup(claim_ttl_s=60, expiry_s=3600, clock=clock))

        return memory
    if request.param == "sqlite":
        return lambda clock: SQLiteDedup(str(tmp_path / "seen.db"), claim_ttl_s=60, expiry_s=3600, clock=clock)
    url = request.getfixturevalue("postgres").url
    return lambda clock: SQLDedup(url, claim_ttl_s=60, expiry_s=3600, clock=clock)


def key() -> tuple[str, int]:
    return (f"doc-{uuid.uuid4().hex}", 0)


def test_only_the_owner_completes_or_releases_its_claim(make_store: MakeStore) -> None:
    clock = ManualClock()
    store, other = make_store(clock), make_store(clock)
    k = key()
    assert store.claim(k, "a") is Verdict.CLAIMED
    assert other.claim(k, "b") is Verdict.BUSY
    assert other.complete(k, "b") is False
    assert other.release(k, "b") is False
    assert other.claim(k, "b") is Verdict.BUSY  # the refused calls changed nothing
    assert store.complete(k, "a") is True
    assert other.claim(k, "b") is Verdict.DONE


def test_a_stale_owner_cannot_complete_or_release_a_claim_taken_over(make_store: MakeStore) -> None:
    clock = ManualClock()
    slow, fast = make_store(clock), make_store(clock)
    k = key()
    assert slow.claim(k, "slow") is Verdict.CLAIMED
    clock.now += 61  # the slow owner stalled past the TTL without renewing
    assert fast.claim(k, "fast") is Verdict.CLAIMED
    assert slow.complete(k, "slow") is False
    assert slow.release(k, "slow") is False
    assert slow.renew(k, "slow") is False
    assert fast.claim(k, "third") is Verdict.BUSY  # still the fast owner's claim, not done, not free
    assert fast.complete(k, "fast") is True


def test_renewal_keeps_a_claim_from_lapsing(make_store: MakeStore) -> None:
    clock = ManualClock()
    store, other = make_store(clock), make_store(clock)
    k = key()
    assert store.claim(k, "a") is Verdict.CLAIMED
    for _ in range(5):  # five TTLs long, renewed every half TTL
        clock.now += 30
        assert store.renew(k, "a") is True
        assert other.claim(k, "b") is Verdict.BUSY
    clock.now += 61
    assert other.claim(k, "b") is Verdict.CLAIMED  # not renewed any more: it lapses
    assert store.renew(k, "a") is False


def test_a_lapsed_claim_nobody_took_over_is_still_its_owners(make_store: MakeStore) -> None:
    clock = ManualClock()
    store = make_store(clock)
    k = key()
    assert store.claim(k, "a") is Verdict.CLAIMED
    clock.now += 61
    assert store.complete(k, "a") is True
    assert store.claim(k, "b") is Verdict.DONE


def test_steps_are_recorded_by_the_owner_and_outlive_its_claim(make_store: MakeStore) -> None:
    clock = ManualClock()
    store, other = make_store(clock), make_store(clock)
    k = key()
    assert store.claim(k, "a") is Verdict.CLAIMED
    assert store.steps_done(k) == set()
    assert store.complete_step(k, "mod.first", "a") is True
    assert other.complete_step(k, "mod.second", "b") is False  # not b's claim
    assert store.release(k, "a") is True  # a later handler failed
    assert other.claim(k, "b") is Verdict.CLAIMED
    assert other.steps_done(k) == {"mod.first"}
    assert other.complete_step(k, "mod.first", "b") is True  # recording it again is harmless
    assert other.complete(k, "b") is True
    assert store.steps_done(key()) == set()


def test_expired_records_can_be_claimed_again(make_store: MakeStore) -> None:
    clock = ManualClock()
    store = make_store(clock)
    k = key()
    assert store.claim(k, "a") is Verdict.CLAIMED
    assert store.complete(k, "a") is True
    clock.now += 3601
    assert store.claim(k, "b") is Verdict.CLAIMED


def test_a_completion_mark_is_read_back_only_once_done(make_store: MakeStore) -> None:
    clock = ManualClock()
    store = make_store(clock)
    marked, plain = key(), key()
    assert store.claim(marked, "a") is Verdict.CLAIMED
    assert store.mark_of(marked) is None  # claimed, not done
    assert store.complete(marked, "a", "delivered:doc-1#0") is True
    assert store.mark_of(marked) == "delivered:doc-1#0"
    assert store.claim(plain, "a") is Verdict.CLAIMED
    assert store.complete(plain, "a") is True
    assert store.mark_of(plain) is None
    clock.now += 3601
    assert store.mark_of(marked) is None  # expired with its record
