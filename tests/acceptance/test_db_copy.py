"""``openturk db copy``: a populated SQLite deployment moves to PostgreSQL and back, ids and delivery
history included, verified by counts and checksums, and keeps working there."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.store import copy
from openturk.store.database import Database
from openturk.testing import ServerProcess, Worker
from tests.conftest import HTML_QUESTION
from tests.support.postgres import TemporaryPostgres
from tests.support.queues import drain, events_in, sqs_client


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    database = TemporaryPostgres().start()
    yield database
    database.stop()


def _db(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openturk.cli", "db", *args], capture_output=True, text=True, timeout=300, check=False
    )


def _populate(server: ServerProcess, local_aws: LocalAWS) -> dict[str, str]:
    """A little of everything: HITs, assignments, money, qualifications, messages, notifications."""
    mturk = server.client("AKIDDBCOPY000001")
    queue = sqs_client(local_aws.url).create_queue(QueueName=f"copy-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    type_id = mturk.create_hit_type(
        Title="Copy me", Description="d", Reward="0.25", AssignmentDurationInSeconds=60, AutoApprovalDelayInSeconds=100
    )["HITTypeId"]
    mturk.update_notification_settings(
        HITTypeId=type_id,
        Notification={
            "Destination": queue,
            "Transport": "SQS",
            "Version": "2014-08-15",
            "EventTypes": ["HITCreated", "AssignmentSubmitted", "AssignmentApproved"],
        },
    )
    hit_id = mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)["HIT"][
        "HITId"
    ]
    worker = Worker(server.base_url, "ADBCOPYWORKER1")
    assignment_id = worker.do(hit_id, {"answer": "a <b> & c"})
    mturk.approve_assignment(AssignmentId=assignment_id)
    mturk.send_bonus(
        WorkerId=worker.worker_id,
        BonusAmount="0.10",
        AssignmentId=assignment_id,
        Reason="thanks",
        UniqueRequestToken="b1",
    )
    qualification = mturk.create_qualification_type(
        Name=f"q-{uuid.uuid4().hex[:6]}", Description="d", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    mturk.associate_qualification_with_worker(
        QualificationTypeId=qualification, WorkerId=worker.worker_id, IntegerValue=7, SendNotification=False
    )
    mturk.notify_workers(Subject="hello", MessageText="thanks again", WorkerIds=[worker.worker_id])
    server.advance(30)  # the virtual clock's offset is part of the deployment too
    documents = drain(sqs_client(local_aws.url), queue, lambda d: len(events_in(d)) >= 3)
    assert len(events_in(documents)) == 3
    return {"hit_id": hit_id, "assignment_id": assignment_id, "type_id": type_id, "worker_id": worker.worker_id}


def test_a_populated_sqlite_database_round_trips_through_postgresql(
    postgres: TemporaryPostgres, local_aws: LocalAWS, tmp_path: Path
) -> None:
    with ServerProcess(virtual_clock=True, extra_args=["--aws-endpoint", local_aws.url]) as server:
        made = _populate(server, local_aws)
        balance = server.client("AKIDDBCOPY000001").get_account_balance()["AvailableBalance"]
        sqlite_url = server.db_url
        original = copy.sums(Database(sqlite_url))  # the server is stopped below; its file stays

        server.stop()
        copied = _db("copy", "--from", sqlite_url, "--to", postgres.url)
        assert copied.returncode == 0, copied.stderr + copied.stdout
        assert "every table's count and checksum match" in copied.stdout
        assert copy.sums(Database(postgres.url)) == original
        assert sum(entry.rows for entry in original) > 20

        # A second copy into the now full database is refused and changes nothing.
        again = _db("copy", "--from", sqlite_url, "--to", postgres.url)
        assert again.returncode == 2 and "not empty" in again.stdout
        assert copy.sums(Database(postgres.url)) == original

        # The deployment works on PostgreSQL: the same objects, and new ids continue after the copied ones.
        with ServerProcess(db_url=postgres.url, virtual_clock=True, extra_args=["--aws-endpoint", local_aws.url]) as pg:
            mturk = pg.client("AKIDDBCOPY000001")
            assert mturk.get_account_balance()["AvailableBalance"] == balance
            hit = mturk.get_hit(HITId=made["hit_id"])["HIT"]
            assert hit["HITTypeId"] == made["type_id"]
            answer = mturk.list_assignments_for_hit(HITId=made["hit_id"])["Assignments"][0]
            assert answer["AssignmentStatus"] == "Approved" and "a &lt;b&gt; &amp; c" in answer["Answer"]
            more = mturk.create_hit_with_hit_type(
                HITTypeId=made["type_id"], LifetimeInSeconds=600, Question=HTML_QUESTION
            )
            mturk.send_bonus(
                WorkerId=made["worker_id"],
                BonusAmount="0.05",
                AssignmentId=made["assignment_id"],
                Reason="again",
                UniqueRequestToken="b2",
            )
            assert len(mturk.list_bonus_payments(HITId=made["hit_id"])["BonusPayments"]) == 2
            assert more["HIT"]["HITId"] != made["hit_id"]

    # And back: PostgreSQL → a fresh SQLite file holds what PostgreSQL holds.
    back = f"sqlite:///{tmp_path / 'back.db'}"
    returned = _db("copy", "--from", postgres.url, "--to", back)
    assert returned.returncode == 0, returned.stderr + returned.stdout
    assert copy.sums(Database(back)) == copy.sums(Database(postgres.url))


def test_copy_refuses_a_source_behind_the_newest_revision(tmp_path: Path) -> None:
    (tmp_path / "never-migrated.db").touch()  # there, but never given the schema (a missing file is refused apart)
    empty = f"sqlite:///{tmp_path / 'never-migrated.db'}"
    refused = _db("copy", "--from", empty, "--to", f"sqlite:///{tmp_path / 'target.db'}")
    assert refused.returncode == 2 and "openturk db upgrade" in refused.stdout
    upgraded = _db("upgrade", "--db", empty)
    assert upgraded.returncode == 0 and f"→ {copy.head()}" in upgraded.stdout
