"""The same server on PostgreSQL: lifecycle, notifications, and two server processes sharing it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess, Worker
from tests.acceptance.test_qualifications import QUESTION_FORM
from tests.conftest import HTML_QUESTION, cli_keys, hit_params
from tests.support.postgres import TemporaryPostgres
from tests.support.queues import drain, events_in, sqs_client


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    database = TemporaryPostgres().start()
    yield database
    database.stop()


@pytest.fixture(scope="module")
def pg_servers(postgres: TemporaryPostgres, local_aws: LocalAWS) -> Iterator[list[ServerProcess]]:
    args = ["--aws-endpoint", local_aws.url]
    first = ServerProcess(db_url=postgres.url, extra_args=args).start()
    second = ServerProcess(db_url=postgres.url, extra_args=args).start()
    yield [first, second]
    second.stop()
    first.stop()


def test_lifecycle_and_notifications_on_postgres(pg_servers: list[ServerProcess], local_aws: LocalAWS) -> None:
    server = pg_servers[0]
    mturk = server.client("AKIDPOSTGRES0001")
    queue = sqs_client(local_aws.url).create_queue(QueueName=f"pg-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    type_id = mturk.create_hit_type(
        Title="t", Description="d", Reward="0.25", AssignmentDurationInSeconds=60, AutoApprovalDelayInSeconds=100
    )["HITTypeId"]
    assert (
        mturk.create_hit_type(
            Title="t", Description="d", Reward="0.25", AssignmentDurationInSeconds=60, AutoApprovalDelayInSeconds=100
        )["HITTypeId"]
        == type_id
    )
    mturk.update_notification_settings(
        HITTypeId=type_id,
        Notification={
            "Destination": queue,
            "Transport": "SQS",
            "Version": "2014-08-15",
            "EventTypes": ["HITCreated", "AssignmentSubmitted", "AssignmentApproved", "HITReviewable"],
        },
    )
    hit = mturk.create_hit_with_hit_type(
        HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION, UniqueRequestToken="pg-token"
    )["HIT"]
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.create_hit_with_hit_type(
            HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION, UniqueRequestToken="pg-token"
        )
    assignment_id = Worker(server.base_url, "APGWORKER00001").do(hit["HITId"])
    server.advance(101)  # auto-approval
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"
    wanted = ["HITCreated", "AssignmentSubmitted", "HITReviewable", "AssignmentApproved"]
    documents = drain(sqs_client(local_aws.url), queue, lambda d: len(events_in(d)) >= 4)
    assert sorted(e["EventType"] for e in events_in(documents)) == sorted(wanted)
    pages = [
        h for page in mturk.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": 1}) for h in page["HITs"]
    ]
    assert [h["HITId"] for h in pages] == [hit["HITId"]]


def test_two_servers_never_oversell_a_slot(pg_servers: list[ServerProcess]) -> None:
    mturk = pg_servers[0].client("AKIDPOSTGRES0002")
    hit = mturk.create_hit(**hit_params(MaxAssignments=3))["HIT"]
    workers = [Worker(pg_servers[i % 2].base_url, f"APGRACE{i:07d}") for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda w: w.accept(hit["HITId"]).status_code, workers))
    assert statuses.count(200) == 3
    assert set(statuses) == {200, 409}
    seen = pg_servers[1].client("AKIDPOSTGRES0002").get_hit(HITId=hit["HITId"])["HIT"]
    assert (seen["NumberOfAssignmentsPending"], seen["NumberOfAssignmentsAvailable"], seen["HITStatus"]) == (
        3,
        0,
        "Unassignable",
    )


def test_qualifications_on_postgres(pg_servers: list[ServerProcess]) -> None:
    first, second = pg_servers
    mturk = first.client("AKIDPOSTGRESQUAL")
    name = f"PG Skill {uuid.uuid4().hex[:6]}"
    type_id = mturk.create_qualification_type(
        Name=name, Description="50% done", Keywords="Pg", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    with pytest.raises(mturk.exceptions.RequestError):
        second.client("AKIDPOSTGRESQUAL").create_qualification_type(
            Name=name, Description="again", QualificationTypeStatus="Active"
        )
    listed = mturk.list_qualification_types(MustBeRequestable=True, MustBeOwnedByCaller=True, Query="50%")
    assert [t["QualificationTypeId"] for t in listed["QualificationTypes"]] == [type_id]
    assert mturk.list_qualification_types(MustBeRequestable=True, Query="5_%")["NumResults"] == 0
    hit_id = mturk.create_hit(
        **hit_params(QualificationRequirements=[{"QualificationTypeId": type_id, "Comparator": "Exists"}])
    )["HIT"]["HITId"]
    worker = Worker(second.base_url, "A" + uuid.uuid4().hex[:13].upper())
    assert worker.accept(hit_id).status_code == 403
    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id)
    assert worker.accept(hit_id).status_code == 200
    mturk.delete_qualification_type(QualificationTypeId=type_id)
    assert mturk.create_qualification_type(Name=name, Description="reused", QualificationTypeStatus="Active")


def test_profiles_and_timed_tests_on_postgres(pg_servers: list[ServerProcess]) -> None:
    first, second = pg_servers
    mturk = first.client("AKIDPOSTGRESPROFILE")
    created = cli_keys(first.db_url, "workers", "create", "pg")
    worker = Worker(second.base_url, created["WorkerId"], token=created["Token"])
    shown = cli_keys(first.db_url, "workers", "profile", worker.worker_id, "--country", "CA", "--subdivision", "QC")
    assert (shown["Country"], shown["Subdivision"]) == ("CA", "QC")
    assert cli_keys(first.db_url, "workers", "masters", "grant", worker.worker_id)["Masters"] == "yes"
    requirements = [
        {"QualificationTypeId": "00000000000000000071", "Comparator": "In", "LocaleValues": [{"Country": "CA"}]},
        {"QualificationTypeId": "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "Comparator": "Exists"},
    ]
    hit_id = mturk.create_hit(**hit_params(QualificationRequirements=requirements))["HIT"]["HITId"]
    assert worker.http.get(f"/api/worker/hits/{hit_id}", params={"WorkerId": worker.worker_id}).json()["Qualified"]
    assert worker.accept(hit_id).status_code == 200
    type_id = mturk.create_qualification_type(
        Name=f"PG Test {uuid.uuid4().hex[:6]}",
        Description="d",
        QualificationTypeStatus="Active",
        Test=QUESTION_FORM,
        TestDurationInSeconds=600,
    )["QualificationType"]["QualificationTypeId"]
    for _ in range(2):  # a restart updates the start row
        started = worker.http.get(f"/api/worker/qualifications/{type_id}/test", params={"WorkerId": worker.worker_id})
        assert started.status_code == 200
    answered = worker.http.post(
        f"/api/worker/qualifications/{type_id}/request", json={"WorkerId": worker.worker_id, "Answers": {"q1": "x"}}
    )
    assert answered.json()["Status"] == "Pending"
    own = worker.http.get("/api/worker/qualifications", params={"WorkerId": worker.worker_id}).json()
    assert [r["QualificationTypeId"] for r in own["QualificationRequests"]] == [type_id]


def test_one_virtual_clock_for_every_server(pg_servers: list[ServerProcess]) -> None:
    """An advance through one server is the time of the other's very next request: the offset is stored."""
    first, second = pg_servers
    mturk = second.client("AKIDPOSTGRESCLOCK")
    hit_id = mturk.create_hit(**hit_params(LifetimeInSeconds=3600, MaxAssignments=1))["HIT"]["HITId"]
    before = second.clock_now()
    first.advance(2 * 3600)
    assert second.clock_now() >= before + 2 * 3600
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert hit["HITStatus"] == "Reviewable"  # expired by the advance's replay, seen through the other server
    late = Worker(second.base_url, "A" + uuid.uuid4().hex[:13].upper())
    assert late.accept(hit_id).status_code != 200
    first.advance(0)  # an advance of nothing keeps the time where it is, for both
    assert abs(first.clock_now() - second.clock_now()) < 5


def test_a_signed_url_from_one_server_is_good_at_the_other(pg_servers: list[ServerProcess]) -> None:
    """Download URLs and task tokens are signed with the deployment's key (kept in the database), not
    a key per process: behind a proxy the next request may reach another server."""
    from tests.acceptance.test_uploads import QUESTION as UPLOAD_QUESTION

    first, second = pg_servers
    mturk = first.client("AKIDPOSTGRESFILES")
    worker = Worker(first.base_url, "A" + uuid.uuid4().hex[:13].upper())
    hit_id = mturk.create_hit(**hit_params(Question=UPLOAD_QUESTION))["HIT"]["HITId"]
    assignment_id = worker.accept(hit_id).json()["AssignmentId"]
    uploaded = worker.http.put(
        f"/api/worker/assignments/{assignment_id}/files/photo", params={"WorkerId": worker.worker_id}, content=b"ok!"
    )
    worker.submit(assignment_id, {"photo": {"UploadedFileKey": uploaded.json()["UploadedFileKey"]}, "note": "n"})
    url = mturk.get_file_upload_url(AssignmentId=assignment_id, QuestionIdentifier="photo")["FileUploadURL"]
    assert url.startswith(first.base_url)
    elsewhere = httpx.get(second.base_url + url[len(first.base_url) :])
    assert (elsewhere.status_code, elsewhere.content) == (200, b"ok!")


def test_concurrent_hits_of_one_requester_never_deadlock(pg_servers: list[ServerProcess]) -> None:
    # Each CreateHIT inserts rows that reference the requester (a KEY SHARE lock on PostgreSQL) and
    # then locks its balance FOR UPDATE: unless the balance is locked first, two such transactions
    # wait for each other and PostgreSQL aborts one (a 500), as bench/scale.py found under load.
    first = pg_servers[0].client("AKIDPOSTGRES0009")
    balance_before = float(first.get_account_balance()["AvailableBalance"])
    type_id = first.create_hit_type(
        Title="Concurrent", Description="d", Reward="0.01", AssignmentDurationInSeconds=600
    )["HITTypeId"]
    threads, calls = 8, 15

    def create(index: int) -> list[str]:
        mturk = pg_servers[index % 2].client("AKIDPOSTGRES0009")
        failures = []
        for _ in range(calls):
            try:
                mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=3600, Question=HTML_QUESTION)
            except Exception as error:  # a deadlock comes back as an InternalServerError
                failures.append(f"{type(error).__name__}: {error}")
        return failures

    with ThreadPoolExecutor(threads) as pool:
        failures = [f for found in pool.map(create, range(threads)) for f in found]
    assert failures == []
    # Every HIT holds its reward and the 20 % fee (at least $0.01): 120 × $0.02.
    balance_after = float(first.get_account_balance()["AvailableBalance"])
    assert round(balance_before - balance_after, 2) == round(threads * calls * 0.02, 2)
