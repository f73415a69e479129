"""The embedded local AWS keeps its URL, queues, topics, subscriptions and messages across restarts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from typing import Any

import pytest

from openturk.notify.local_aws import identify
from openturk.testing import ServerProcess
from tests.conftest import HTML_QUESTION
from tests.support.queues import drain, sns_client, sqs_client

TYPE_PARAMS = {
    "Title": "Kept",
    "Description": "d",
    "Reward": "0.10",
    "AssignmentDurationInSeconds": 60,
    "AutoApprovalDelayInSeconds": 3600,
}


def endpoint_of(server: ServerProcess) -> str:
    return str(server.http.get("/health").json()["aws_endpoint"])


def notify(mturk: Any, destination: str, transport: str) -> str:
    # Equal parameters would name the same HIT type: the transport makes each title its own.
    type_id = str(mturk.create_hit_type(**{**TYPE_PARAMS, "Title": f"Kept by {transport}"})["HITTypeId"])
    mturk.update_notification_settings(
        HITTypeId=type_id,
        Notification={
            "Destination": destination,
            "Transport": transport,
            "Version": "2014-08-15",
            "EventTypes": ["HITCreated"],
        },
    )
    return type_id


def new_hit(mturk: Any, type_id: str) -> str:
    return str(
        mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)["HIT"]["HITId"]
    )


def wait_delivered(server: ServerProcess, type_id: str, count: int, timeout: float = 20.0) -> None:
    """Until openturk recorded ``count`` messages of the HIT type as acknowledged by the endpoint."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = server.http.get("/api/deliveries", params={"HITTypeId": type_id}).json()["Messages"]
        if sum(message["State"] == "delivered" for message in listed) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} message(s) of {type_id} not delivered within {timeout}s: {listed}")


def restart(server: ServerProcess, how: str) -> None:
    if how == "kill -9 both":
        # The local AWS first, so it cannot save anything on its way out; then serve.
        owner = identify(endpoint_of(server))
        assert owner is not None, "the endpoint should say it is openturk's local AWS"
        os.kill(int(owner["pid"]), signal.SIGKILL)
        server.stop(kill=True)
    elif how == "kill -9 serve":
        # The orphaned local AWS is told to stop and may still hold the port as the new one starts.
        server.stop(kill=True)
    else:
        server.stop()
    server.start()


@pytest.mark.parametrize("how", ["sigterm", "kill -9 serve", "kill -9 both"])
def test_queues_topics_subscriptions_and_messages_survive_a_restart(how: str) -> None:
    with ServerProcess(virtual_clock=False) as server:
        endpoint = endpoint_of(server)
        assert endpoint == f"http://127.0.0.1:{server.local_aws_port}"
        sqs, sns = sqs_client(endpoint), sns_client(endpoint)
        policy = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage", "Resource": "*"}
                ],
            }
        )
        queue = sqs.create_queue(QueueName="kept", Attributes={"VisibilityTimeout": "7", "Policy": policy})["QueueUrl"]
        fanout = sqs.create_queue(QueueName="fanout")["QueueUrl"]
        held = sqs.create_queue(QueueName="held")["QueueUrl"]
        fanout_arn = sqs.get_queue_attributes(QueueUrl=fanout, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = sns.create_topic(Name="kept")["TopicArn"]
        mturk = server.client("AKIDLOCALAWSKEPT01")
        to_queue, to_topic = notify(mturk, queue, "SQS"), notify(mturk, topic, "SNS")
        filter_policy = json.dumps({"HITTypeId": [to_topic]})
        subscription = sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=fanout_arn, Attributes={"FilterPolicy": filter_policy}
        )["SubscriptionArn"]
        before_queue, before_topic = new_hit(mturk, to_queue), new_hit(mturk, to_topic)
        wait_delivered(server, to_queue, 1)
        wait_delivered(server, to_topic, 1)
        # A message received and not deleted: in flight across the restart, its receipt handle still valid.
        sqs.send_message(QueueUrl=held, MessageBody="in flight")
        [in_flight] = sqs.receive_message(QueueUrl=held, VisibilityTimeout=600)["Messages"]

        restart(server, how)

        assert endpoint_of(server) == endpoint
        assert sqs.get_queue_url(QueueName="kept")["QueueUrl"] == queue
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        assert attributes["VisibilityTimeout"] == "7" and json.loads(attributes["Policy"]) == json.loads(policy)
        assert topic in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
        [kept] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert kept["SubscriptionArn"] == subscription and kept["Endpoint"] == fanout_arn
        assert json.loads(
            sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]["FilterPolicy"]
        ) == json.loads(filter_policy)
        sqs.delete_message(QueueUrl=held, ReceiptHandle=in_flight["ReceiptHandle"])  # moto refuses unknown handles

        # The messages delivered before the restart were never consumed: they are still there, and
        # new notifications reach the old queue URL and topic.
        after_queue, after_topic = new_hit(mturk, to_queue), new_hit(mturk, to_topic)
        received = drain(sqs, queue, lambda d: {before_queue, after_queue} <= hits_in(d))
        assert len(received) == 2
        fanned = drain(sqs, fanout, lambda d: {before_topic, after_topic} <= hits_in(d), unwrap_sns=True)
        assert len(fanned) == 2
        assert "local SQS/SNS state:" in server.log() and "openturk.db.local-aws" in server.log()


def hits_in(documents: list[dict[str, Any]]) -> set[str]:
    return {event["HITId"] for document in documents for event in document["Events"]}


def test_a_long_poll_does_not_hold_up_other_requests() -> None:
    with ServerProcess(virtual_clock=False) as server:
        sqs = sqs_client(endpoint_of(server))
        waiting, other = (sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("waiting", "other"))
        polled: list[Any] = []
        poll = threading.Thread(
            target=lambda: polled.extend(
                sqs_client(endpoint_of(server))
                .receive_message(QueueUrl=waiting, WaitTimeSeconds=10)
                .get("Messages", [])
            )
        )
        poll.start()
        time.sleep(0.5)  # not a wait for a result: gives the long poll time to start waiting
        started = time.monotonic()
        sqs.send_message(QueueUrl=other, MessageBody="meanwhile")
        sqs.send_message(QueueUrl=waiting, MessageBody="wake up")
        assert time.monotonic() - started < 4.0, "the long poll held every other request"
        poll.join(timeout=15)
        assert [message["Body"] for message in polled] == ["wake up"]


def test_a_port_taken_by_another_program_is_a_clear_error_at_start() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = ServerProcess(local_aws_port=port)
        try:
            with pytest.raises(RuntimeError, match="exited early") as raised:
                server.start()
            assert f"port {port} is taken by another program (not openturk's local AWS)" in str(raised.value)
            assert "--local-aws-port" in str(raised.value) and "Traceback" not in str(raised.value)
            assert server.process is not None and server.process.returncode == 2
        finally:
            with contextlib.suppress(Exception):
                server.__exit__(None, None, None)


def test_serve_on_an_in_memory_database() -> None:
    """``--db sqlite:///:memory:``: one database for the whole server (its schema made once), gone with it."""
    with ServerProcess(db_url="sqlite:///:memory:") as server:
        mturk = server.client("AKIDINMEMORY")
        type_id = str(mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"])
        hit_id = new_hit(mturk, type_id)
        assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Assignable"
        assert [hit["HITId"] for hit in mturk.list_hits()["HITs"]] == [hit_id]
        assert mturk.get_account_balance()["OnHoldBalance"] == "0.12"
        assert "Traceback" not in server.log()
