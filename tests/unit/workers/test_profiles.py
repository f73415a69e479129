"""The HTTP-free profile functions the worker site's profile page calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openturk.errors import WorkerError
from openturk.requester.account import create_worker
from openturk.store.database import Database
from openturk.workers import profiles


class StepClock:
    def __init__(self) -> None:
        self.now = 1_000

    def now_ms(self) -> int:
        self.now += 1_000
        return self.now


@pytest.fixture
def db(migrated_store_url: str) -> Iterator[Database]:
    database = Database(migrated_store_url)
    yield database
    database.dispose()


def test_update_keeps_masters_and_get_reads_back(db: Database) -> None:
    clock = StepClock()
    worker_id, _ = create_worker(db, "w", clock.now_ms())
    assert profiles.get_profile(db, worker_id).locale == "US"  # no row: the defaults
    granted = profiles.set_masters(db, clock, worker_id, granted=True)
    assert profiles.set_masters(db, clock, worker_id, granted=True).masters_granted_at == granted.masters_granted_at
    profiles.update_profile(db, clock, worker_id, country="jp", subdivision="JP-13", adult=True)
    found = profiles.get_profile(db, worker_id)
    assert (found.locale, found.adult, found.is_master) == ("JP-13", True, True)
    assert not profiles.set_masters(db, clock, worker_id, granted=False).is_master


@pytest.mark.parametrize(
    ("changes", "status", "start"),
    [
        ({"country": "ZZ"}, 400, "Country"),
        ({"subdivision": "TOOLONG"}, 400, "Subdivision"),
        ({"adult": "yes"}, 400, "Adult"),
    ],
)
def test_update_refuses_bad_fields_and_writes_nothing(
    db: Database, changes: dict[str, Any], status: int, start: str
) -> None:
    clock = StepClock()
    worker_id, _ = create_worker(db, "w", clock.now_ms())
    params: dict[str, Any] = {"country": "US", "subdivision": None, "adult": False, **changes}
    with pytest.raises(WorkerError) as excinfo:
        profiles.update_profile(db, clock, worker_id, **params)
    assert (excinfo.value.status, excinfo.value.message.split(":")[0]) == (status, start)
    assert profiles.get_profile(db, worker_id).updated_at is None


def test_unknown_or_malformed_workers_are_refused(db: Database) -> None:
    with pytest.raises(WorkerError) as unknown:
        profiles.update_profile(db, StepClock(), "ANOBODY0000001", country="US", subdivision=None, adult=False)
    assert (unknown.value.status, unknown.value.code) == (404, "WorkerNotFound")
    with pytest.raises(WorkerError) as malformed:
        profiles.get_profile(db, "not-a-worker")
    assert malformed.value.status == 400
