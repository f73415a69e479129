"""Timers against a real server: HITExpired exactly once, at the expiration, when a worker or
requester acts between a HIT's expiration and the next timer pass; a failing timer item neither
blocks the others nor breaks a clock advance, and fires once its cause is gone.

The server here runs its timer loop once an hour: after its start-up pass, a HIT's lifetime can
pass (the virtual clock runs on with real time) with no timer pass, which is the window the real
one-second loop leaves open in production, and only clock advances fire timers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess, Worker
from tests.conftest import FAST_RETRIES, events_of, hit_params
from tests.support.queues import drain, events_in, sqs_client, wait_for


@pytest.fixture(scope="module")
def server(local_aws: LocalAWS) -> Iterator[ServerProcess]:
    """This module's own server (conftest's ``mturk`` and ``worker`` use it here)."""
    args = ["--aws-endpoint", local_aws.url, "--timer-interval", "3600", *FAST_RETRIES]
    with ServerProcess(virtual_clock=True, extra_args=args) as running:
        yield running


def _clock_ms(server: ServerProcess) -> int:
    return int(server.http.get("/api/clock", timeout=10).json()["Now"] * 1000)


def _let_the_lifetime_pass(server: ServerProcess, hit: dict[str, Any]) -> int:
    """Advance the virtual clock to a second before the HIT's expiration, then let real time carry it
    past with no timer pass; return the expiration in epoch ms."""
    expiration = hit["Expiration"]
    assert isinstance(expiration, datetime)
    expires_ms = round(expiration.timestamp() * 1000)
    server.advance(max(0.0, (expires_ms - _clock_ms(server) - 1000) / 1000))
    assert "HITExpired" not in [kind for kind, _ in events_of(server, hit["HITId"])], "advanced too far"
    wait_for(lambda: _clock_ms(server) > expires_ms, timeout=10, what="the lifetime to pass")
    return expires_ms


def _expired_at(server: ServerProcess, hit_id: str) -> list[int]:
    rows = server.sql(
        "SELECT event_time FROM events WHERE hit_id = :hit_id AND event_type = 'HITExpired' ORDER BY event_id",
        hit_id=hit_id,
    )
    return [int(row[0]) for row in rows]


def test_submit_after_the_lifetime_yields_one_hit_expired(
    server: ServerProcess, mturk: Any, worker: Worker, local_aws: LocalAWS
) -> None:
    sqs = sqs_client(local_aws.url)
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    hit = mturk.create_hit(**hit_params(LifetimeInSeconds=30, AssignmentDurationInSeconds=600))["HIT"]
    mturk.update_notification_settings(
        HITTypeId=hit["HITTypeId"],
        Notification={
            "Destination": queue,
            "Transport": "SQS",
            "Version": "2014-08-15",
            "EventTypes": ["HITExpired", "AssignmentSubmitted", "HITReviewable"],
        },
        Active=True,
    )
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    expires_ms = _let_the_lifetime_pass(server, hit)

    worker.submit(assignment_id, {"answer": "late but in time"}).raise_for_status()
    server.advance(3600)  # the timer pass, late: finds the expiry already processed

    assert [kind for kind, _ in events_of(server, hit["HITId"])] == [
        "HITCreated",
        "AssignmentAccepted",
        "HITExpired",
        "AssignmentSubmitted",
        "HITReviewable",
    ]
    assert _expired_at(server, hit["HITId"]) == [expires_ms]
    documents = drain(sqs, queue, lambda docs: any(e["EventType"] == "HITReviewable" for e in events_in(docs)))
    assert [e["EventType"] for e in events_in(documents)].count("HITExpired") == 1
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"


def test_return_after_the_lifetime_yields_one_hit_expired(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(LifetimeInSeconds=30))["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    expires_ms = _let_the_lifetime_pass(server, hit)
    worker.return_(assignment_id).raise_for_status()
    server.advance(3600)
    assert [kind for kind, _ in events_of(server, hit["HITId"])][2:] == [
        "HITExpired",
        "AssignmentReturned",
        "HITReviewable",
    ]
    assert _expired_at(server, hit["HITId"]) == [expires_ms]


def test_accept_after_the_lifetime_is_refused(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(LifetimeInSeconds=30))["HIT"]
    expires_ms = _let_the_lifetime_pass(server, hit)
    assert worker.accept(hit["HITId"]).status_code == 410
    server.advance(1)
    assert [kind for kind, _ in events_of(server, hit["HITId"])] == ["HITCreated", "HITExpired", "HITReviewable"]
    assert _expired_at(server, hit["HITId"]) == [expires_ms]


def test_extension_after_the_lifetime_expires_the_first_lifetime(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(LifetimeInSeconds=30))["HIT"]
    expires_ms = _let_the_lifetime_pass(server, hit)
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime.fromtimestamp(expires_ms / 1000 + 7200))
    server.advance(60)
    assert [kind for kind, _ in events_of(server, hit["HITId"])] == [
        "HITCreated",
        "HITExpired",
        "HITReviewable",
        "HITExtended",
    ]
    assert _expired_at(server, hit["HITId"]) == [expires_ms]
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Assignable"


def test_expire_now_after_the_lifetime_records_the_expiration(
    server: ServerProcess, mturk: Any, worker: Worker
) -> None:
    hit = mturk.create_hit(**hit_params(LifetimeInSeconds=30))["HIT"]
    worker.accept(hit["HITId"]).raise_for_status()
    expires_ms = _let_the_lifetime_pass(server, hit)
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime.fromtimestamp(0))
    server.advance(60)
    assert _expired_at(server, hit["HITId"]) == [expires_ms]


def test_a_rejection_after_the_auto_approval_time_finds_the_assignment_approved(
    server: ServerProcess, mturk: Any, worker: Worker
) -> None:
    hit = mturk.create_hit(**hit_params(AutoApprovalDelayInSeconds=1))["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    worker.submit(assignment_id, {"answer": "done"}).raise_for_status()
    due = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AutoApprovalTime"]
    due_ms = round(due.timestamp() * 1000)
    # The approval is due, and no timer pass has run (the virtual clock runs on with real time).
    wait_for(lambda: _clock_ms(server) > due_ms, timeout=10, what="the auto-approval time to pass")
    with pytest.raises(mturk.exceptions.RequestError, match="Submitted"):
        mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="too late")
    with pytest.raises(mturk.exceptions.RequestError, match="Submitted"):
        mturk.approve_assignment(AssignmentId=assignment_id)
    server.advance(3600)  # the timer pass, late: finds the approval already recorded
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved"
    assert round(assignment["ApprovalTime"].timestamp() * 1000) == due_ms  # at its own time, not the refusal's
    kinds = [kind for kind, _ in events_of(server, hit["HITId"])]
    assert kinds.count("AssignmentApproved") == 1 and "AssignmentRejected" not in kinds


def _set_hit_type(server: ServerProcess, hit_id: str, hit_type_id: str) -> None:
    """Even to a HIT type that does not exist: this test's own SQLite connection does not check foreign keys
    (a per-connection pragma); PostgreSQL's are triggers, which the cluster's owner (a superuser) turns off."""
    postgres = not server.db_url.startswith("sqlite")
    if postgres:
        server.sql("ALTER TABLE hits DISABLE TRIGGER ALL")
    try:
        server.sql("UPDATE hits SET hit_type_id = :type_id WHERE hit_id = :hit_id", type_id=hit_type_id, hit_id=hit_id)
    finally:
        if postgres:
            server.sql("ALTER TABLE hits ENABLE TRIGGER ALL")


def test_a_failing_timer_item_is_backed_off_and_fires_once_healthy(server: ServerProcess, mturk: Any) -> None:
    poisoned = mturk.create_hit(**hit_params(LifetimeInSeconds=60))["HIT"]
    healthy = mturk.create_hit(**hit_params(LifetimeInSeconds=120))["HIT"]
    # A row the transition code cannot process (its HIT type is gone): every attempt to expire it raises.
    _set_hit_type(server, poisoned["HITId"], "MISSING")

    server.advance(300)  # no 500, no endless retrying within the advance
    assert [kind for kind, _ in events_of(server, healthy["HITId"])][-2:] == ["HITExpired", "HITReviewable"]
    assert events_of(server, poisoned["HITId"]) == [("HITCreated", None)]
    [[attempts, retry_at]] = server.sql(
        "SELECT attempts, retry_at FROM timer_failures WHERE kind = 'expire' AND item_id = :hit_id",
        hit_id=poisoned["HITId"],
    )
    assert attempts == 1 and retry_at > _clock_ms(server)

    _set_hit_type(server, poisoned["HITId"], poisoned["HITTypeId"])
    server.advance(2)  # past the first backoff (at most a second)
    assert [kind for kind, _ in events_of(server, poisoned["HITId"])] == ["HITCreated", "HITExpired", "HITReviewable"]
    assert _expired_at(server, poisoned["HITId"]) == [round(poisoned["Expiration"].timestamp() * 1000)]
    assert server.sql("SELECT count(*) FROM timer_failures") == [(0,)]
