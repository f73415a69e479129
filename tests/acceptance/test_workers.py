"""Worker blocks and NotifyWorkers through boto3, with the worker API's view of both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError
from sqlalchemy import insert, select

from openturk.domain.worker_notices import MAX_BLOCKS
from openturk.store.database import Database
from openturk.store.schema import worker_blocks
from openturk.testing import ServerProcess, Worker, free_port
from tests.conftest import cli_keys, error_code, hit_params, new_worker
from tests.support.smtp import SMTPServer


def _messages(worker: Worker) -> list[dict[str, Any]]:
    response = worker.http.get("/api/worker/messages", params={"WorkerId": worker.worker_id})
    response.raise_for_status()
    return list(response.json()["Messages"])


def test_block_hides_the_requesters_hits_and_refuses_accept(server: ServerProcess, mturk: Any) -> None:
    other = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    mine = mturk.create_hit(**hit_params(MaxAssignments=3))["HIT"]
    theirs = other.create_hit(**hit_params(MaxAssignments=3))["HIT"]
    worker, bystander = new_worker(server), new_worker(server)
    in_progress = worker.accept(mine["HITId"]).json()["AssignmentId"]
    second = mturk.create_hit(**hit_params(MaxAssignments=3))["HIT"]

    mturk.create_worker_block(WorkerId=worker.worker_id, Reason="Spam answers")
    seen = {hit["HITId"] for hit in worker.hits()}
    assert second["HITId"] not in seen and theirs["HITId"] in seen
    assert second["HITId"] in {hit["HITId"] for hit in bystander.hits()}
    refused = worker.accept(second["HITId"])
    missing = worker.accept("3" * 30)
    # Exactly the answer of a HIT that does not exist, save the id: the block is not revealed.
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["Error"] == missing.json()["Error"] == "HITNotFound"
    assert "block" not in refused.text.lower()
    assert worker.accept(theirs["HITId"]).status_code == 200
    # Work accepted before the block can still be submitted (the requester may reject it).
    assert worker.submit(in_progress, {"answer": "late"}).status_code == 200

    mturk.delete_worker_block(WorkerId=worker.worker_id, Reason="Appealed")
    assert second["HITId"] in {hit["HITId"] for hit in worker.hits()}
    assert worker.accept(second["HITId"]).status_code == 200


def test_a_blocked_worker_cannot_request_or_test_for_the_requesters_qualification(
    server: ServerProcess, mturk: Any
) -> None:
    worker = new_worker(server)
    type_id = mturk.create_qualification_type(
        Name=f"screener {uuid.uuid4().hex[:8]}", Description="d", QualificationTypeStatus="Active", AutoGranted=True
    )["QualificationType"]["QualificationTypeId"]
    mturk.create_worker_block(WorkerId=worker.worker_id, Reason="spam")
    for method, path in (("POST", "request"), ("GET", "test")):
        refused = worker.http.request(
            method,
            f"/api/worker/qualifications/{type_id}/{path}",
            params={"WorkerId": worker.worker_id},
            json={"WorkerId": worker.worker_id} if method == "POST" else None,
        )
        assert refused.status_code == 404 and "does not exist" in refused.text, (path, refused.text)
    with pytest.raises(mturk.exceptions.RequestError):  # nothing was granted
        mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)
    mturk.delete_worker_block(WorkerId=worker.worker_id, Reason="ok")
    granted = worker.http.post(f"/api/worker/qualifications/{type_id}/request", json={"WorkerId": worker.worker_id})
    assert granted.status_code == 200 and granted.json()["Status"] == "Granted"


def test_list_worker_blocks_pages_with_a_token_on_every_non_empty_page(mturk: Any) -> None:
    blocked = sorted(f"AB{uuid.uuid4().hex[:12].upper()}" for _ in range(3))
    for worker_id in blocked:
        mturk.create_worker_block(WorkerId=worker_id, Reason="first")
    mturk.create_worker_block(WorkerId=blocked[0], Reason="updated")  # re-block replaces the Reason
    first = mturk.list_worker_blocks(MaxResults=2)
    assert first["NumResults"] == 2 and first["NextToken"]
    last = mturk.list_worker_blocks(MaxResults=2, NextToken=first["NextToken"])
    assert last["NumResults"] == 1 and last["NextToken"]
    after = mturk.list_worker_blocks(MaxResults=2, NextToken=last["NextToken"])
    assert after["NumResults"] == 0 and "NextToken" not in after
    listed = first["WorkerBlocks"] + last["WorkerBlocks"]
    assert [b["WorkerId"] for b in listed] == blocked
    assert listed[0]["Reason"] == "updated"
    paged = [b for page in mturk.get_paginator("list_worker_blocks").paginate() for b in page["WorkerBlocks"]]
    assert [b["WorkerId"] for b in paged] == blocked

    mturk.delete_worker_block(WorkerId=blocked[1])
    mturk.delete_worker_block(WorkerId=blocked[1])  # not blocked any more: succeeds, as MTurk
    mturk.delete_worker_block(WorkerId="ANEVERBLOCKED01")
    assert [b["WorkerId"] for b in mturk.list_worker_blocks()["WorkerBlocks"]] == [blocked[0], blocked[2]]


def test_worker_block_errors_write_nothing(mturk: Any) -> None:
    with pytest.raises(ParamValidationError):
        mturk.create_worker_block(WorkerId="ANOREASON00001")
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_worker_block(WorkerId="ANOREASON00001", Reason="  ")
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue"
    assert "Reason" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_worker_block(WorkerId="ANOREASON00001", Reason="x" * 100_001)
    assert error_code(excinfo) == "AWS.ParameterOutOfRange"
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_worker_block(WorkerId="not-a-worker", Reason="bad")
    assert "WorkerId" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.list_worker_blocks(NextToken="forged")
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue"
    assert mturk.list_worker_blocks()["WorkerBlocks"] == []


def test_a_requester_blocks_at_most_100000_workers(server: ServerProcess, mturk: Any) -> None:
    """CreateWorkerBlock's documentation: "You can block up to 100,000 Workers"."""
    # Both sort before the filler ids ("AFILL…"), so they are on the first page of ListWorkerBlocks.
    first, one_more = "A0" + uuid.uuid4().hex[:12].upper(), "A1" + uuid.uuid4().hex[:12].upper()
    mturk.create_worker_block(WorkerId=first, Reason="first")
    database = Database(server.db_url)
    try:
        with database.write() as conn:
            customer_id = conn.execute(
                select(worker_blocks.c.customer_id).where(worker_blocks.c.worker_id == first)
            ).scalar_one()
            conn.execute(
                insert(worker_blocks),
                [
                    {"customer_id": customer_id, "worker_id": f"AFILL{i:09d}", "reason": "filler", "created_at": 0}
                    for i in range(MAX_BLOCKS - 1)
                ],
            )
    finally:
        database.dispose()
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_worker_block(WorkerId=one_more, Reason="one too many")
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue"
    assert "up to 100,000 Workers" in excinfo.value.response["Error"]["Message"]
    mturk.create_worker_block(WorkerId=first, Reason="still there")  # a blocked worker: its Reason is replaced
    mturk.delete_worker_block(WorkerId="AFILL000000000")
    mturk.create_worker_block(WorkerId=one_more, Reason="room again")
    blocked = {block["WorkerId"]: block["Reason"] for block in mturk.list_worker_blocks(MaxResults=100)["WorkerBlocks"]}
    assert blocked[first] == "still there" and blocked[one_more] == "room again"


@pytest.mark.parametrize("worker_id", [None, "", "not-a-worker", "A" * 65])
def test_delete_worker_block_answers_its_documented_message_for_a_missing_or_invalid_worker_id(
    server: ServerProcess, worker_id: str | None
) -> None:
    """The operation's documentation: "If the Worker ID is missing or invalid, this operation fails and
    returns the message 'WorkerId is invalid.'" (the client's own checks off, so the server answers)."""
    mturk = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}", parameter_validation=False)
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.delete_worker_block(**({} if worker_id is None else {"WorkerId": worker_id}))
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue"
    assert excinfo.value.response["Error"]["Message"].startswith("WorkerId is invalid. (")


def test_notify_workers_reaches_only_workers_who_did_work(server: ServerProcess, mturk: Any, smtp: SMTPServer) -> None:
    address = f"w{uuid.uuid4().hex[:8]}@example.org"
    created = cli_keys(server.db_url, "workers", "create", "mailable", "--email", address)
    mailable = Worker(server.base_url, created["WorkerId"], token=created["Token"])
    plain, idle, stranger = new_worker(server), new_worker(server), new_worker(server)
    hit = mturk.create_hit(**hit_params(MaxAssignments=4))["HIT"]
    mailable.do(hit["HITId"])
    plain.do(hit["HITId"])
    idle.accept(hit["HITId"]).raise_for_status()  # accepted, never submitted: no work done
    other = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    other.create_hit(**hit_params())

    ids = [mailable.worker_id, plain.worker_id, idle.worker_id, stranger.worker_id, plain.worker_id]
    answer = mturk.notify_workers(Subject="Bonus round", MessageText="New HITs tomorrow.", WorkerIds=ids)
    failures = answer["NotifyWorkersFailureStatuses"]
    assert [f["WorkerId"] for f in failures] == [idle.worker_id, stranger.worker_id]
    assert {f["NotifyWorkersFailureCode"] for f in failures} == {"HardFailure"}
    assert {f["NotifyWorkersFailureMessage"] for f in failures} == {
        "Cannot send a notification to a worker who has not done any work for you"  # MTurk's words
    }

    for reached in (mailable, plain):
        [message] = _messages(reached)
        assert (message["Subject"], message["MessageText"]) == ("Bonus round", "New HITs tomorrow.")
    assert _messages(idle) == [] and _messages(stranger) == []
    # Someone else's NotifyWorkers does not reach a worker who never worked for them.
    foreign = other.notify_workers(Subject="s", MessageText="t", WorkerIds=[plain.worker_id])
    assert [f["WorkerId"] for f in foreign["NotifyWorkersFailureStatuses"]] == [plain.worker_id]
    assert len(_messages(plain)) == 1

    mails = [m for m in smtp.inbox.received() if m["To"] == address]
    assert len(mails) == 1 and mails[0]["Subject"] == "Bonus round"
    assert "New HITs tomorrow." in mails[0].get_payload()


def test_notify_workers_limits_write_nothing(server: ServerProcess, mturk: Any) -> None:
    worker = new_worker(server)
    worker.do(mturk.create_hit(**hit_params())["HIT"]["HITId"])
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"Subject": "s" * 201}, "AWS.ParameterOutOfRange", "Subject"),
        ({"MessageText": "m" * 4097}, "AWS.ParameterOutOfRange", "MessageText"),
        ({"Subject": " "}, "AWS.MechanicalTurk.InvalidParameterValue", "Subject"),
        ({"MessageText": ""}, "AWS.MechanicalTurk.InvalidParameterValue", "MessageText"),
        ({"WorkerIds": []}, "AWS.ParameterOutOfRange", "WorkerIds"),
        ({"WorkerIds": [worker.worker_id] * 101}, "AWS.ParameterOutOfRange", "WorkerIds"),
        ({"WorkerIds": ["bad id"]}, "AWS.MechanicalTurk.InvalidParameterValue", "WorkerIds"),
    ]
    for override, code, field in cases:
        params = {"Subject": "s" * 200, "MessageText": "m" * 4096, "WorkerIds": [worker.worker_id], **override}
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            mturk.notify_workers(**params)
        assert error_code(excinfo) == code, override
        assert field in excinfo.value.response["Error"]["Message"]
    assert _messages(worker) == []
    mturk.notify_workers(Subject="s" * 200, MessageText="m" * 4096, WorkerIds=[worker.worker_id] * 100)
    assert len(_messages(worker)) == 1


@pytest.fixture(scope="module")
def server_without_smtp(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, extra_args=["--smtp-port", str(free_port()), *aws_args]) as running:
        yield running


def test_failed_email_keeps_the_inbox_message(server_without_smtp: ServerProcess) -> None:
    server = server_without_smtp
    mturk = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    created = cli_keys(server.db_url, "workers", "create", "unreachable", "--email", "nobody@example.org")
    worker = Worker(server.base_url, created["WorkerId"], token=created["Token"])
    worker.do(mturk.create_hit(**hit_params())["HIT"]["HITId"])
    answer = mturk.notify_workers(Subject="Hello", MessageText="Still here.", WorkerIds=[worker.worker_id])
    assert answer["NotifyWorkersFailureStatuses"] == []
    assert [m["Subject"] for m in _messages(worker)] == ["Hello"]
    [[emailed_at, error]] = server.sql(
        "SELECT emailed_at, email_error FROM worker_messages WHERE worker_id = :worker_id", worker_id=worker.worker_id
    )
    assert emailed_at is None and error
    assert "NotifyWorkers email" in server.log()


def test_inbox_is_the_token_holders_own_under_sigv4(aws_args: list[str]) -> None:
    with ServerProcess(auth="sigv4", virtual_clock=False, extra_args=aws_args) as server:
        keys = cli_keys(server.db_url, "requesters", "create", "lab")
        mturk = server.client(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])
        created = cli_keys(server.db_url, "workers", "create", "bob")
        bob = Worker(server.base_url, created["WorkerId"], token=created["Token"])
        bob.do(mturk.create_hit(**hit_params())["HIT"]["HITId"])
        mturk.notify_workers(Subject="Hi Bob", MessageText="Thanks.", WorkerIds=[bob.worker_id])
        assert [m["Subject"] for m in _messages(bob)] == ["Hi Bob"]
        anonymous = Worker(server.base_url, bob.worker_id)
        assert anonymous.http.get("/api/worker/messages", params={"WorkerId": bob.worker_id}).status_code == 401
        impostor = Worker(server.base_url, "AIMPOSTOR00001", token=created["Token"])
        peek = impostor.http.get("/api/worker/messages", params={"WorkerId": "AIMPOSTOR00001"})
        assert peek.status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/api/worker/hits/AB%00C", "hit_id"),
        ("POST", "/api/worker/hits/AB%00C/accept", "hit_id"),
        ("POST", "/api/worker/assignments/AB%00C/submit", "assignment_id"),
        ("POST", "/api/worker/assignments/AB%00C/return", "assignment_id"),
        ("POST", "/api/worker/qualifications/AB%00C/request", "qualification_type_id"),
    ],
)
def test_an_id_holding_nul_is_a_400_naming_it(worker: Worker, method: str, path: str, field: str) -> None:
    """PostgreSQL's text cannot hold NUL: looking such an id up was a 500 there."""
    response = worker.http.request(method, path, json={"WorkerId": worker.worker_id} if method == "POST" else None)
    assert response.status_code == 400, response.text
    assert response.json()["Error"] == "InvalidParameter" and field in response.json()["Message"]
