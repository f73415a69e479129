"""Dispatchers share the work, never send one message twice, and one slow destination delays no other.

Separate ``openturk dispatch`` processes deliver from the server's database; a TCP proxy with a delay
in front of moto is a destination slower than the dispatchers' lease.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from openturk.notify import forming_lead
from openturk.notify.local_aws import LocalAWS
from openturk.store.database import Database
from openturk.testing import ServerProcess
from tests.conftest import HTML_QUESTION
from tests.support import stores
from tests.support.proxy import TCPProxy
from tests.support.queues import drain, events_in, queue_counts, sqs_client, wait_for


def start_dispatcher(server: ServerProcess, endpoint: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "openturk.cli", "dispatch", "--db", server.db_url, "--aws-endpoint", endpoint, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def notified_type(client: Any, destination: str, transport: str = "SQS") -> str:
    type_id = str(
        client.create_hit_type(Title="t", Description="d", Reward="0.01", AssignmentDurationInSeconds=60)["HITTypeId"]
    )
    client.update_notification_settings(
        HITTypeId=type_id,
        Notification={
            "Destination": destination,
            "Transport": transport,
            "Version": "2014-08-15",
            "EventTypes": ["HITCreated"],
        },
    )
    return type_id


def create_hits(client: Any, type_id: str, count: int) -> set[str]:
    return {
        client.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)["HIT"][
            "HITId"
        ]
        for _ in range(count)
    }


def messages_of(server: ServerProcess, type_id: str) -> list[dict[str, Any]]:
    response = server.http.get("/api/deliveries", params={"HITTypeId": type_id, "Limit": "1000"})
    return list(response.json()["Messages"])


def all_delivered(server: ServerProcess, type_id: str) -> bool:
    messages = messages_of(server, type_id)
    return bool(messages) and all(m["State"] == "delivered" for m in messages)


def test_two_dispatchers_deliver_each_message_once(local_aws: LocalAWS) -> None:
    queue = str(sqs_client(local_aws.url).create_queue(QueueName=f"multi-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    with ServerProcess(extra_args=["--no-dispatch", "--aws-endpoint", local_aws.url], virtual_clock=False) as server:
        dispatchers = [start_dispatcher(server, local_aws.url) for _ in range(2)]
        try:
            client = server.client("AKIDDISPATCHERS1")
            type_id = notified_type(client, queue)
            hit_ids = create_hits(client, type_id, 80)
            documents = drain(
                sqs_client(local_aws.url), queue, lambda d: hit_ids <= {e["HITId"] for e in events_in(d)}, timeout=30
            )
            counts = Counter(e["HITId"] for e in events_in(documents))
            assert set(counts) == hit_ids and set(counts.values()) == {1}
            # A message can reach the queue a moment before its attempt is recorded.
            wait_for(lambda: all_delivered(server, type_id), timeout=10, what="every message recorded delivered")
            messages = messages_of(server, type_id)
            assert sum(m["EventCount"] for m in messages) == 80
            assert {d["EventDocId"] for d in documents} == {m["EventDocId"] for m in messages}
            assert [len(m["AttemptLog"]) for m in messages] == [1] * len(messages)
        finally:
            stop(dispatchers)


def test_a_send_slower_than_the_lease_is_not_taken_over(local_aws: LocalAWS) -> None:
    """Two dispatchers, a 1 s lease and a destination that answers after 2 s or more: each message goes once."""
    sqs = sqs_client(local_aws.url)
    queue = str(sqs.create_queue(QueueName=f"slow-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    slow = TCPProxy(local_aws.port, delay_s=2.0).open()
    with ServerProcess(extra_args=["--no-dispatch", "--aws-endpoint", local_aws.url], virtual_clock=False) as server:
        dispatchers = [start_dispatcher(server, slow.url, "--lease", "1") for _ in range(2)]
        try:
            client = server.client("AKIDSLOWLEASE0001")
            type_id = notified_type(client, queue)
            hit_ids = create_hits(client, type_id, 6)
            wait_for(lambda: all_delivered(server, type_id), timeout=60, what="every message delivered")
            # Every send has returned: whatever was sent twice is in the queue now.
            documents = drain(sqs, queue, lambda d: bool(d) and queue_counts(sqs, queue) == (0, 0), timeout=30)
            counts = Counter(e["HITId"] for e in events_in(documents))
            assert set(counts) == hit_ids and set(counts.values()) == {1}, counts
            messages = messages_of(server, type_id)
            assert [len(m["AttemptLog"]) for m in messages] == [1] * len(messages)
            assert max(m["AttemptLog"][0]["LatencyMs"] for m in messages) > 1000, "the sends outlasted the lease"
        finally:
            stop(dispatchers)
            slow.close()


def test_a_dead_dispatchers_lease_is_taken_over(local_aws: LocalAWS) -> None:
    """A dispatcher killed mid-send stops renewing; another takes the message over and sends it."""
    sqs = sqs_client(local_aws.url)
    queue = str(sqs.create_queue(QueueName=f"dead-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    stuck = TCPProxy(local_aws.port, delay_s=120).open()  # answers long after this test ends
    with ServerProcess(extra_args=["--no-dispatch", "--aws-endpoint", local_aws.url], virtual_clock=False) as server:
        doomed = start_dispatcher(server, stuck.url, "--lease", "1")
        survivor: list[subprocess.Popen[bytes]] = []
        try:
            client = server.client("AKIDDEADLEASE0001")
            type_id = notified_type(client, queue)
            [hit_id] = create_hits(client, type_id, 1)
            wait_for(
                lambda: [m["State"] for m in messages_of(server, type_id)] == ["sending"],
                timeout=20,
                what="the doomed dispatcher's claim",
            )
            doomed.kill()
            doomed.wait(timeout=10)
            survivor.append(start_dispatcher(server, local_aws.url, "--lease", "1"))
            # The doomed dispatcher's request may have reached the queue too: at least once, same EventDocId.
            documents = drain(sqs, queue, lambda d: bool(d), timeout=30)
            assert {e["HITId"] for e in events_in(documents)} == {hit_id}
            wait_for(lambda: all_delivered(server, type_id), timeout=30, what="the take-over recorded")
            [message] = messages_of(server, type_id)
            assert {d["EventDocId"] for d in documents} == {message["EventDocId"]}
            [attempt] = message["AttemptLog"]
            assert attempt["Outcome"] == "delivered" and f":{survivor[0].pid}:" in attempt["Dispatcher"]
        finally:
            stop([doomed, *survivor])
            stuck.close()


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers: a dead SMTP server."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def test_a_dead_destination_does_not_delay_another_tenants_deliveries(local_aws: LocalAWS) -> None:
    """Tenant A's email server never answers (each try hangs 10 s); tenant B's SQS events arrive within 5 s."""
    sqs = sqs_client(local_aws.url)
    queue = str(sqs.create_queue(QueueName=f"prompt-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    with (
        black_hole() as smtp_port,
        ServerProcess(
            extra_args=["--aws-endpoint", local_aws.url, "--smtp-port", str(smtp_port)], virtual_clock=False
        ) as server,
    ):
        tenant_a, tenant_b = server.client("AKIDDEADMAILTENANT"), server.client("AKIDPROMPTSQSTENANT")
        type_a = notified_type(tenant_a, "lab@example.org", "Email")
        for count in (1, 2):  # two separate claims, each hanging on the dead destination
            create_hits(tenant_a, type_a, 1)
            wait_for(
                lambda count=count: [m["State"] for m in messages_of(server, type_a)] == ["sending"] * count,
                timeout=10,
                what="tenant A's message claimed",
            )
        create_hits(tenant_a, type_a, 1)  # tenant A has its share in flight: this one waits
        type_b = notified_type(tenant_b, queue)
        began = time.monotonic()
        hit_ids = create_hits(tenant_b, type_b, 3)
        documents = drain(sqs, queue, lambda d: hit_ids <= {e["HITId"] for e in events_in(d)}, timeout=30)
        assert time.monotonic() - began < 5.0, "tenant B waited for tenant A's dead destination (10 s a try)"
        assert len(events_in(documents)) == 3
        states = Counter(m["State"] for m in messages_of(server, type_a))
        assert states["delivered"] == 0 and states["sending"] <= 2, states


def test_a_dispatcher_without_an_endpoint_or_credentials_sends_to_the_servers_local_aws(
    local_aws: LocalAWS, tmp_path: Any
) -> None:
    """serve's defaults run the embedded SQS/SNS endpoint; ``openturk dispatch`` beside it with no
    --aws-endpoint sent to real AWS, where, with no credentials, every send failed."""
    queue = str(sqs_client(local_aws.url).create_queue(QueueName=f"bare-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    with ServerProcess(extra_args=["--no-dispatch", "--aws-endpoint", local_aws.url], virtual_clock=False) as server:
        argv = [sys.executable, "-m", "openturk.cli", "dispatch", "--db", server.db_url]
        dispatcher = subprocess.Popen(
            [*argv, "--local-aws-port", str(local_aws.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        try:
            assert dispatcher.stdout is not None
            banner = dispatcher.stdout.readline() + dispatcher.stdout.readline()
            assert f"SQS/SNS at {local_aws.url}" in banner
            client = server.client("AKIDBAREDISPATCH1")
            type_id = notified_type(client, queue)
            hit_ids = create_hits(client, type_id, 3)
            drain(sqs_client(local_aws.url), queue, lambda d: hit_ids <= {e["HITId"] for e in events_in(d)}, timeout=30)
        finally:
            stop([dispatcher])


@pytest.mark.skipif(not stores.on_postgres(), reason="the forming lead is PostgreSQL's")
def test_a_leading_dispatcher_stopped_by_sigterm_gives_the_lead_up(local_aws: LocalAWS) -> None:
    """systemd and container runtimes stop a process with SIGTERM: a leading ``openturk dispatch``
    must give the lead up then, or forming waits for the lead to lapse at every restart."""
    with ServerProcess(extra_args=["--no-dispatch", "--aws-endpoint", local_aws.url], virtual_clock=False) as server:
        dispatcher = start_dispatcher(server, local_aws.url)
        db = Database(server.db_url)
        try:

            def lead() -> forming_lead.Lead:
                with db.read() as conn:
                    return forming_lead.held(conn)

            wait_for(lambda: f":{dispatcher.pid}:" in (lead().owner or ""), timeout=30)
            assert lead().until > time.time() * 1000
            dispatcher.send_signal(signal.SIGTERM)
            assert dispatcher.wait(timeout=20) == 0
            assert lead().until == 0  # given up: the next dispatcher to look takes it
        finally:
            stop([dispatcher])
            db.dispose()
