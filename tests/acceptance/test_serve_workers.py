"""``openturk serve --workers N``: N whole server processes behind the two listening sockets the
parent opened; one killed is replaced, and the others answer meanwhile."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess
from tests.conftest import HTML_QUESTION, hit_params
from tests.support.queues import drain, events_in, sqs_client


def server_processes(parent: int) -> set[int]:
    """The parent's children that are servers (multiprocessing's spawned processes)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        if ppid == parent and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def wait_for_servers(parent: int, count: int, not_these: frozenset[int] = frozenset(), timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = server_processes(parent)
        if len(found) == count and not found & not_these:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not {count} server processes within {timeout}s: {server_processes(parent)}")


def test_two_server_processes_share_the_listeners_and_replace_a_dead_one(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue = sqs.create_queue(QueueName=f"workers-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    with ServerProcess(extra_args=["--workers", "2", "--aws-endpoint", local_aws.url]) as server:
        assert server.process is not None
        first = wait_for_servers(server.process.pid, 2)
        mturk = server.client("AKIDSERVEWORKERS1")
        type_id = mturk.create_hit_type(Title="t", Description="d", Reward="0.05", AssignmentDurationInSeconds=60)[
            "HITTypeId"
        ]
        mturk.update_notification_settings(
            HITTypeId=type_id,
            Notification={
                "Destination": queue,
                "Transport": "SQS",
                "Version": "2014-08-15",
                "EventTypes": ["HITCreated"],
            },
        )
        created = {
            mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)["HIT"][
                "HITId"
            ]
            for _ in range(10)
        }

        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # The other process answers while the dead one is replaced.
        created |= {mturk.create_hit(**hit_params())["HIT"]["HITId"] for _ in range(5)}
        replaced = wait_for_servers(server.process.pid, 2, not_these=frozenset({victim}))
        assert len(replaced - first) == 1
        type_hits = {h for h in created if mturk.get_hit(HITId=h)["HIT"]["HITTypeId"] == type_id}
        assert len(type_hits) == 10
        documents = drain(sqs, queue, lambda docs: {e["HITId"] for e in events_in(docs)} >= type_hits, timeout=30)
        assert {e["HITId"] for e in events_in(documents)} == type_hits

    assert server.process.poll() is not None
    assert server_processes(server.process.pid) == set()  # SIGTERM stopped them all
