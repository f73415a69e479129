"""Scale-out on PostgreSQL under load and failure: two ``openturk serve`` processes and two
``openturk dispatch`` processes share one database; one of each is killed with SIGKILL mid-flight.

Shown from outside: every event the database committed (and so every one the API acknowledged) is
received from SQS; no notification document is ever in flight at two dispatchers at once (a proxy in
front of the SQS endpoint records every send); the sends the killed dispatcher had in flight are taken
over by the other once their lease lapses; every timer — expiry and auto-approval, raced by a
virtual-clock advance killed half-way, the other server's real-time loop and a second advance — fired
exactly once, and each approved assignment was paid once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from openturk.notify.local_aws import LocalAWS
from openturk.store.database import normalise_url
from openturk.testing import ServerProcess, Worker
from tests.conftest import HTML_QUESTION
from tests.support.postgres import TemporaryPostgres
from tests.support.queues import sqs_client
from tests.support.recording_proxy import RecordingProxy

pytestmark = pytest.mark.timeout(600)

EVENT_TYPES = [
    "HITCreated",
    "AssignmentAccepted",
    "AssignmentSubmitted",
    "AssignmentApproved",
    "HITExpired",
    "HITReviewable",
]
LOAD_S = 8.0
LEASE_S = 3.0
KEY = "AKIDSCALEOUT0001"


@pytest.fixture(scope="module")
def postgres() -> Iterator[TemporaryPostgres]:
    database = TemporaryPostgres().start()
    yield database
    database.stop()


class Deployment:
    def __init__(self, postgres: TemporaryPostgres, aws: str, tmp: Path) -> None:
        self.url = postgres.url
        self.servers = [
            ServerProcess(db_url=postgres.url, extra_args=["--aws-endpoint", aws, "--no-dispatch"]) for _ in range(2)
        ]
        self.dispatch_args = [
            *("--db", postgres.url, "--aws-endpoint", aws, "--lease", str(LEASE_S)),
            *("--retry-base", "0.2", "--retry-cap", "1.0", "--max-attempts", "20"),
        ]
        self.tmp = tmp
        self.dispatchers: list[subprocess.Popen[bytes]] = []
        self.engine = sqlalchemy.create_engine(normalise_url(postgres.url))

    def start(self) -> Deployment:
        for server in self.servers:
            server.start()
        for n in range(2):
            log = open(self.tmp / f"dispatch-{n}.log", "wb")
            self.dispatchers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "openturk.cli", "dispatch", *self.dispatch_args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        for process in self.dispatchers:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=10)
        self.engine.dispose()

    def rows(self, query: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sqlalchemy.text(query), params))


def wait_until(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout}s")


@pytest.fixture
def deployment(postgres: TemporaryPostgres, local_aws: LocalAWS, tmp_path: Path) -> Iterator[Deployment]:
    proxy = RecordingProxy(local_aws.url, delay_s=0.15).start()
    running = Deployment(postgres, proxy.url, tmp_path).start()
    running.proxy = proxy  # type: ignore[attr-defined]
    yield running
    running.stop()
    proxy.stop()


class Load:
    """Producer threads: CreateHIT through either server, and workers doing some of the HITs."""

    def __init__(self, servers: list[ServerProcess], type_id: str) -> None:
        self.servers, self.type_id = servers, type_id
        self.alive = [True, True]
        self.hits: list[str] = []
        self.assignments: list[tuple[str, str]] = []  # (HITId, AssignmentId) submitted and acknowledged
        self.refused: list[str] = []  # calls that failed (the killed server's): for the failure message
        self._lock = threading.Lock()

    def produce(self, n: int, until: float) -> None:
        clients = [server.client(KEY) for server in self.servers]
        turn = n
        while time.monotonic() < until:
            turn += 1
            index = turn % 2 if self.alive[1] else 0
            try:
                hit_id = clients[index].create_hit_with_hit_type(
                    HITTypeId=self.type_id, LifetimeInSeconds=600, Question=HTML_QUESTION
                )["HIT"]["HITId"]
            except Exception as error:  # not acknowledged (the server was killed): it may or may not have committed
                self.refused.append(repr(error))
                continue
            with self._lock:
                self.hits.append(hit_id)
            if turn % 3:
                continue
            worker = Worker(self.servers[index].base_url, "A" + uuid.uuid4().hex[:13].upper())
            try:
                assignment_id = worker.do(hit_id)
            except Exception as error:
                self.refused.append(repr(error))
                continue
            with self._lock:
                self.assignments.append((hit_id, assignment_id))


def test_two_servers_two_dispatchers_survive_kill_9(deployment: Deployment, local_aws: LocalAWS) -> None:
    first, second = deployment.servers
    proxy: RecordingProxy = deployment.proxy  # type: ignore[attr-defined]
    sqs = sqs_client(local_aws.url)
    queue = sqs.create_queue(QueueName=f"scale-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    mturk = first.client(KEY)
    type_id = mturk.create_hit_type(
        Title="Scale", Description="d", Reward="0.05", AssignmentDurationInSeconds=600, AutoApprovalDelayInSeconds=1200
    )["HITTypeId"]
    mturk.update_notification_settings(
        HITTypeId=type_id,
        Notification={"Destination": queue, "Transport": "SQS", "Version": "2014-08-15", "EventTypes": EVENT_TYPES},
    )

    load = Load(deployment.servers, type_id)
    until = time.monotonic() + LOAD_S
    producers = [threading.Thread(target=load.produce, args=(n, until)) for n in range(4)]
    for producer in producers:
        producer.start()

    # 1. SIGKILL a dispatcher while it has sends in flight (claimed, leased, not finished): whichever
    # is caught sending first (owners are "host:pid:object").
    in_flight_query = "SELECT message_id, lease_owner FROM messages WHERE state = 'sending'"
    sending = wait_until(lambda: deployment.rows(in_flight_query), 30, "a dispatcher sending")
    pid = int(sending[0].lease_owner.split(":")[1])
    [killed_dispatcher] = [process for process in deployment.dispatchers if process.pid == pid]
    killed_dispatcher.kill()
    killed_dispatcher.wait(timeout=10)
    orphaned = {row.message_id for row in deployment.rows(in_flight_query) if f":{pid}:" in row.lease_owner}
    assert orphaned, "the killed dispatcher had nothing in flight"

    # 2. SIGKILL a server half-way through a virtual-clock advance (its replay fires items one by one,
    # storing the clock's offset with each), while the other server's timer loop races it.
    offset_query = "SELECT COALESCE(MAX(offset_ms), 0) AS offset FROM clock_state"
    offset_before = deployment.rows(offset_query)[0].offset
    time.sleep(1.0)  # more HITs and assignments to replay
    advanced: list[Any] = []

    def advance() -> None:
        try:
            advanced.append(second.advance(3600))
        except Exception as error:
            advanced.append(error)

    replay = threading.Thread(target=advance)
    replay.start()
    wait_until(lambda: deployment.rows(offset_query)[0].offset > offset_before, 30, "the replay firing")
    load.alive[1] = False
    second.stop(kill=True)
    replay.join(timeout=30)
    assert isinstance(advanced[0], Exception), "the advance finished before the server was killed"

    for producer in producers:
        producer.join(timeout=60)
    assert len(load.hits) > 20 and load.assignments, (len(load.hits), load.assignments, load.refused[:5])

    # 3. The survivors finish: another advance expires every HIT and auto-approves every submission.
    first.advance(3 * 3600)
    unfinished = (
        "SELECT (SELECT COUNT(*) FROM outbox) + "
        "(SELECT COUNT(*) FROM messages WHERE state IN ('pending', 'sending')) AS n"
    )
    wait_until(lambda: deployment.rows(unfinished)[0].n == 0, 90, "every message delivered")

    committed = {
        (row.event_type, row.hit_id, row.assignment_id)
        for row in deployment.rows(
            "SELECT event_type, hit_id, assignment_id FROM events WHERE hit_type_id = :type_id", type_id=type_id
        )
        if row.event_type in EVENT_TYPES
    }
    received: set[tuple[str, str, str | None]] = set()

    def receive_all() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            for event in json.loads(message["Body"])["Events"]:
                received.add((event["EventType"], event["HITId"], event.get("AssignmentId")))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return committed <= received

    wait_until(receive_all, 120, "every committed event received")
    assert received == committed  # nothing received that was not committed
    assert {("HITCreated", hit_id, None) for hit_id in load.hits} <= received  # every acknowledged call
    for hit_id, assignment_id in load.assignments:
        assert ("AssignmentSubmitted", hit_id, assignment_id) in received

    # Never in flight at two dispatchers at once; the killed one's sends finished by the other.
    assert proxy.overlapping() == []
    finished_by = deployment.rows(
        "SELECT DISTINCT m.message_id, m.state, a.dispatcher FROM messages m "
        "JOIN delivery_attempts a ON a.message_id = m.message_id WHERE m.message_id = ANY(:ids)",
        ids=sorted(orphaned),
    )
    assert {row.message_id for row in finished_by} == orphaned
    assert {row.state for row in finished_by} == {"delivered"}
    assert all(f":{killed_dispatcher.pid}:" not in row.dispatcher for row in finished_by)

    # Every timer fired once: each HIT's expiry processed once (HITExpired for those with work still
    # outstanding at their end; a HIT whose one assignment was submitted emits none), one approval
    # and one reward payment per submission.
    hits = "SELECT hit_id FROM hits WHERE hit_type_id = :t"
    assert deployment.rows(hits + " AND NOT expiry_processed", t=type_id) == []
    submitted = deployment.rows(
        f"SELECT hit_id, assignment_id, status FROM assignments WHERE hit_id IN ({hits}) AND submit_time IS NOT NULL",
        t=type_id,
    )
    assert submitted and {row.status for row in submitted} == {"Approved"}
    expiries = deployment.rows(
        "SELECT hit_id, COUNT(*) AS n FROM events WHERE event_type = 'HITExpired' AND hit_type_id = :t GROUP BY hit_id",
        t=type_id,
    )
    unfinished_hits = {row.hit_id for row in deployment.rows(hits, t=type_id)} - {row.hit_id for row in submitted}
    assert {row.hit_id for row in expiries} == unfinished_hits
    assert {row.n for row in expiries} == {1}
    approvals = deployment.rows(
        "SELECT assignment_id, COUNT(*) AS n FROM events WHERE event_type = 'AssignmentApproved' "
        "AND hit_type_id = :t GROUP BY assignment_id",
        t=type_id,
    )
    assert {row.assignment_id for row in approvals} == {row.assignment_id for row in submitted}
    assert {row.n for row in approvals} == {1}
    payments = deployment.rows(
        "SELECT reference, COUNT(*) AS n FROM ledger WHERE kind = 'reward' AND to_account = 'paid' GROUP BY reference"
    )
    assert {row.reference for row in payments} == {row.assignment_id for row in submitted}
    assert {row.n for row in payments} == {1}
