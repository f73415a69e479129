"""Separate ``openturk dispatch`` processes share the work and never send one message twice."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter

import httpx

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess
from tests.conftest import HTML_QUESTION
from tests.support.queues import drain, events_in, sqs_client


def test_two_dispatchers_deliver_each_message_once(local_aws: LocalAWS) -> None:
    queue = str(sqs_client(local_aws.url).create_queue(QueueName=f"multi-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    with ServerProcess(extra_args=["--no-dispatch", "--aws-endpoint", local_aws.url], virtual_clock=False) as server:
        dispatchers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "openturk.cli",
                    "dispatch",
                    "--db",
                    server.db_url,
                    "--aws-endpoint",
                    local_aws.url,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        try:
            client = server.client("AKIDDISPATCHERS1")
            type_id = client.create_hit_type(Title="t", Description="d", Reward="0.01", AssignmentDurationInSeconds=60)[
                "HITTypeId"
            ]
            client.update_notification_settings(
                HITTypeId=type_id,
                Notification={
                    "Destination": queue,
                    "Transport": "SQS",
                    "Version": "2014-08-15",
                    "EventTypes": ["HITCreated"],
                },
            )
            hit_ids = {
                client.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)[
                    "HIT"
                ]["HITId"]
                for _ in range(80)
            }
            documents = drain(
                sqs_client(local_aws.url), queue, lambda d: hit_ids <= {e["HITId"] for e in events_in(d)}, timeout=30
            )
            counts = Counter(e["HITId"] for e in events_in(documents))
            assert set(counts) == hit_ids and set(counts.values()) == {1}
            deadline = time.monotonic() + 10
            while True:  # a message can reach the queue a moment before its attempt is recorded
                messages = httpx.get(
                    server.base_url + "/api/deliveries", params={"HITTypeId": type_id, "Limit": "1000"}
                ).json()["Messages"]
                if all(m["State"] == "delivered" for m in messages) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert all(len(m["AttemptLog"]) == 1 and m["State"] == "delivered" for m in messages)
        finally:
            for process in dispatchers:
                process.terminate()
            for process in dispatchers:
                process.wait(timeout=10)
