"""The HTTP-free functions the qualification pages call: the requestable list and the started Test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from openturk.domain.qualifications import Qualification, QualificationType
from openturk.errors import WorkerError
from openturk.store.database import Database
from openturk.store.qualifications import QualificationRepository
from openturk.store.repository import Repository
from openturk.store.workers import WorkerRepository
from openturk.workers import qualifications

WORKER, OTHER = "A1WORKER00000A", "A2WORKER00000B"
TEST = "<QuestionForm/>"  # never parsed here


class FixedClock:
    def __init__(self) -> None:
        self.now = 10_000

    def now_ms(self) -> int:
        return self.now


@pytest.fixture
def db(migrated_store_url: str) -> Iterator[Database]:
    database = Database(migrated_store_url)
    with database.write() as conn:
        repo = Repository(conn)
        for customer_id in ("C1", "C2"):
            repo.insert_requester(customer_id, customer_id, 0)
        for worker_id in (WORKER, OTHER):
            repo.insert_worker(worker_id, None, None, 0)
    yield database
    database.dispose()


def _type(db: Database, type_id: str, customer: str, created: int, **fields: object) -> None:
    with db.write() as conn:
        QualificationRepository(conn).insert_type(
            replace(QualificationType(type_id, customer, f"Type {type_id}", "d", None, "Active", created), **fields)
        )


def test_requestable_types_are_active_unblocked_and_say_where_the_worker_stands(db: Database) -> None:
    _type(db, "T1", "C1", 1)
    _type(db, "T2", "C1", 2, status="Inactive")
    _type(db, "T3", "C2", 3)
    _type(db, "T4", "C1", 4)
    with db.write() as conn:
        QualificationRepository(conn).put_qualification(Qualification("T4", WORKER, 5, "Granted", 5))
        WorkerRepository(conn).block("C2", OTHER, "spam", 6)
    mine = qualifications.requestable_types(db, WORKER, None, None, 10)
    assert [(t.qualification_type.qualification_type_id, t.held) for t in mine] == [
        ("T1", None),
        ("T3", None),
        ("T4", "Granted"),
    ]
    theirs = qualifications.requestable_types(db, OTHER, None, None, 10)
    assert [t.qualification_type.qualification_type_id for t in theirs] == ["T1", "T4"]  # C2 blocked them
    assert [
        t.qualification_type.qualification_type_id
        for t in qualifications.requestable_types(db, WORKER, None, (1, "T1"), 1)
    ] == ["T3"]
    assert [
        t.qualification_type.qualification_type_id
        for t in qualifications.requestable_types(db, WORKER, "type t4", None, 10)
    ] == ["T4"]


def test_started_test_reads_the_start_without_restarting_it(db: Database) -> None:
    clock = FixedClock()
    _type(db, "T1", "C1", 1, test=TEST, test_duration_s=60)
    _type(db, "T2", "C1", 2)
    with pytest.raises(WorkerError) as no_test:
        qualifications.started_test(db, WORKER, "T2")
    assert (no_test.value.status, no_test.value.code) == (404, "NoTest")
    with pytest.raises(WorkerError) as missing:
        qualifications.started_test(db, WORKER, "T9")
    assert missing.value.code == "QualificationTypeNotFound"
    with pytest.raises(WorkerError) as not_started:
        qualifications.started_test(db, WORKER, "T1")
    assert (not_started.value.status, not_started.value.code) == (409, "TestNotStarted")
    qualifications.start_test(db, clock, WORKER, "T1")
    clock.now += 30_000
    started = qualifications.started_test(db, WORKER, "T1")
    assert (started.test, started.deadline) == (TEST, 10_000 + 60_000)
    assert qualifications.started_test(db, WORKER, "T1").deadline == 70_000  # reading it kept the start
    with pytest.raises(WorkerError):
        qualifications.started_test(db, OTHER, "T1")  # another worker's start is not theirs
