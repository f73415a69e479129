"""`openturk route`, the context helpers and the reconciliation sweeper against real processes:
an openturk server delivering to moto's SQS/SNS server."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from openturk.consumer import Event, MemoryDedup, Router, parse_document, route_cli
from openturk.consumer import context as ctx
from openturk.consumer.context import Context
from openturk.consumer.reconcile import Reconciler
from openturk.notify.local_aws import LocalAWS
from openturk.ports import free_port
from openturk.testing import ServerProcess
from tests.conftest import HTML_QUESTION, new_worker
from tests.support.queues import drain, events_in, sns_client, sqs_client, wait_for

TYPE_PARAMS = {
    "Title": "Route me",
    "Description": "d",
    "Reward": "0.10",
    "AssignmentDurationInSeconds": 600,
    "AutoApprovalDelayInSeconds": 3600,
}
DOCUMENT_KEYS = ("EventDocVersion", "EventDocId", "CustomerId")


def route(*argv: str) -> int:
    """What `openturk route ARGS` runs, without a process: the command's parser and run()."""
    parser = argparse.ArgumentParser(prog="openturk")
    route_cli.register(parser.add_subparsers(dest="command", required=True))
    return route_cli.run(parser.parse_args(["route", *argv]))


def new_queue(local_aws: LocalAWS, name: str | None = None) -> str:
    name = name or f"q-{uuid.uuid4().hex[:12]}"
    return str(sqs_client(local_aws.url).create_queue(QueueName=name)["QueueUrl"])


def notify(mturk: Any, destination: str, events: list[str], transport: str = "SQS") -> str:
    type_id = str(mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"])
    mturk.update_notification_settings(
        HITTypeId=type_id,
        Notification={
            "Destination": destination,
            "Transport": transport,
            "Version": "2014-08-15",
            "EventTypes": events,
        },
        Active=True,
    )
    return type_id


def new_hit(mturk: Any, type_id: str, **extra: Any) -> str:
    return str(
        mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=3600, Question=HTML_QUESTION, **extra)[
            "HIT"
        ]["HITId"]
    )


def peek(sqs: Any, queue: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20) -> list[Any]:
    """The documents in ``queue``, read without taking them (visibility 0), once ``until`` holds."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0)
        for message in response.get("Messages", []):
            found[message["MessageId"]] = json.loads(message["Body"])
        if until(list(found.values())):
            return list(found.values())
    raise AssertionError(f"condition not met within {timeout}s; got {list(found.values())}")


def messages_in(sqs: Any, queue: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def expected_part(document: dict[str, Any], types: set[str]) -> dict[str, Any] | None:
    events = [{**e, "EventIndex": i} for i, e in enumerate(document["Events"]) if e["EventType"] in types]
    return {**{k: document[k] for k in DOCUMENT_KEYS}, "Events": events} if events else None


def test_a_mixed_queue_is_split_into_per_type_queues(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    source, assignments, reviewable, other = (new_queue(local_aws) for _ in range(4))
    type_id = notify(
        mturk,
        source,
        ["HITCreated", "AssignmentAccepted", "AssignmentSubmitted", "HITReviewable", "AssignmentApproved"],
    )
    hit_id = new_hit(mturk, type_id)
    mturk.approve_assignment(AssignmentId=new_worker(server).do(hit_id))
    originals = peek(sqs, source, lambda docs: len(events_in(docs)) == 5)

    status = route(
        "--from",
        source,
        "--to",
        f"AssignmentSubmitted,AssignmentApproved={assignments}",
        "--to",
        f"HITReviewable={reviewable}",
        "--default",
        other,
        "--aws-endpoint",
        local_aws.url,
        "--once",
    )

    assert status == 0
    assert messages_in(sqs, source) == 0, "every source message deleted once its parts were accepted"
    for queue, types in [
        (assignments, {"AssignmentSubmitted", "AssignmentApproved"}),
        (reviewable, {"HITReviewable"}),
        (other, {"HITCreated", "AssignmentAccepted"}),
    ]:
        wanted = [part for doc in originals if (part := expected_part(doc, types)) is not None]
        count = len(wanted)
        got = drain(sqs, queue, lambda docs, n=count: len(docs) >= n)  # type: ignore[misc]
        assert len(got) == len(wanted), "one document per source document"
        for document in got:
            attributes = document.pop("_attributes")
            assert document in wanted
            assert attributes["EventTypes"]["DataType"] == "String.Array"
            assert json.loads(attributes["EventTypes"]["StringValue"]) == list(
                dict.fromkeys(e["EventType"] for e in document["Events"])
            )
            assert json.loads(attributes["HITTypeId"]["StringValue"]) == [type_id]


def test_the_source_is_kept_until_every_target_accepted_and_rerunning_is_harmless(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    source, submitted = new_queue(local_aws), new_queue(local_aws)
    missing_name = f"missing-{uuid.uuid4().hex[:12]}"
    missing = submitted.rsplit("/", 1)[0] + "/" + missing_name
    document = {
        "EventDocVersion": "2014-08-15",
        "EventDocId": uuid.uuid4().hex,
        "CustomerId": "A1C",
        "Events": [
            {
                "EventType": "AssignmentSubmitted",
                "EventTimestamp": "2026-11-23T10:00:00Z",
                "HITTypeId": "T",
                "HITId": "H",
                "AssignmentId": "A",
            },
            {"EventType": "HITReviewable", "EventTimestamp": "2026-11-23T10:00:00Z", "HITTypeId": "T", "HITId": "H"},
        ],
    }
    sqs.send_message(QueueUrl=source, MessageBody=json.dumps(document))
    argv = [
        "--from",
        source,
        "--to",
        f"AssignmentSubmitted={submitted}",
        "--to",
        f"HITReviewable={missing}",
        "--aws-endpoint",
        local_aws.url,
        "--retry-delay",
        "0",
        "--once",
    ]

    assert route(*argv) == 1, "a target refused its part"
    assert messages_in(sqs, source) == 1, "the source message is not deleted"
    new_queue(local_aws, missing_name)  # the target appears
    assert route(*argv) == 0
    assert messages_in(sqs, source) == 0

    [part] = drain(sqs, missing, lambda docs: len(docs) >= 1)
    assert (part["EventDocId"], [e["EventIndex"] for e in part["Events"]]) == (document["EventDocId"], [1])
    copies = drain(sqs, submitted, lambda docs: len(docs) >= 2)
    assert [d["EventDocId"] for d in copies] == [document["EventDocId"]] * 2, "sent on both tries"
    router, handled = Router(dedup=MemoryDedup()), list[Event]()
    router.add("AssignmentSubmitted", handled.append)
    for copy in copies:
        router.handle_document(parse_document({k: v for k, v in copy.items() if k != "_attributes"}))
    assert len(handled) == 1, "the repeat is a duplicate its consumer drops"


def test_route_runs_for_a_while_and_unwraps_sns(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    sqs, sns = sqs_client(local_aws.url), sns_client(local_aws.url)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    source, created = new_queue(local_aws), new_queue(local_aws)
    arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    type_id = notify(mturk, topic, ["HITCreated"], transport="SNS")
    statuses: list[int] = []
    routing = threading.Thread(
        target=lambda: statuses.append(
            route("--from", source, "--to", f"HITCreated={created}", "--aws-endpoint", local_aws.url, "--seconds", "4")
        )
    )
    routing.start()
    hit_ids = {new_hit(mturk, type_id) for _ in range(3)}
    documents = drain(sqs, created, lambda docs: len(events_in(docs)) >= 3)
    routing.join(timeout=30)
    assert statuses == [0]
    assert {e["HITId"] for e in events_in(documents)} == hit_ids
    assert all("Type" not in d and d["Events"][0]["EventIndex"] == 0 for d in documents), "bare documents"


def test_context_helpers_read_the_hit_and_its_answers(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    sqs, queue = sqs_client(local_aws.url), new_queue(local_aws)
    type_id = notify(mturk, queue, ["HITReviewable"])
    hit_id = new_hit(mturk, type_id, MaxAssignments=3, RequesterAnnotation="row-42")
    workers = {new_worker(server).do(hit_id, {"answer": label}): label for label in ("cat", "dog", "cat")}
    [document] = drain(sqs, queue, lambda docs: len(docs) >= 1)
    [event] = parse_document({k: v for k, v in document.items() if k != "_attributes"}).events

    assert ctx.requester_annotation(mturk, event) == "row-42"
    assert ctx.hit(mturk, event)["HITStatus"] == "Reviewable"
    found = ctx.assignments_for(mturk, event)
    assert {a.assignment_id: a.answers for a in found} == {aid: {"answer": label} for aid, label in workers.items()}
    assert {a.status for a in found} == {"Submitted"} and all(a.worker_id and a.submit_time for a in found)

    first = sorted(workers)[0]
    mturk.approve_assignment(AssignmentId=first)
    paged = Context(mturk, page_size=2)  # three assignments: two pages
    assert len(paged.assignments_for(hit_id)) == 3
    assert [a.assignment_id for a in paged.assignments_for(hit_id, ["Approved"])] == [first]
    assert len(paged.assignments_for(hit_id, ["Submitted"])) == 2
    assert paged.requester_annotation(hit_id) == "row-42"


def recording_router() -> tuple[Router, list[Event]]:
    router, handled = Router(dedup=MemoryDedup()), list[Event]()
    router.add("AssignmentSubmitted", handled.append)
    router.add("HITReviewable", handled.append)
    return router, handled


def test_the_sweeper_makes_up_what_notifications_never_delivered_once(server: ServerProcess, mturk: Any) -> None:
    type_id = str(mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"])  # no notification settings at all
    hit_id = new_hit(mturk, type_id)
    assignment_id = new_worker(server).do(hit_id)
    router, handled = recording_router()
    reconciler = Reconciler(mturk, router, hit_type_ids=[type_id], grace_s=0)

    first = reconciler.run_once()
    assert [(e.event_type, e.hit_id, e.assignment_id) for e in first.synthesized] == [
        ("AssignmentSubmitted", hit_id, assignment_id),
        ("HITReviewable", hit_id, None),
    ]
    assert all(e.synthesized and e.hit_type_id == type_id for e in handled)
    assert reconciler.run_once().synthesized == [], "handled once across sweeps"
    assert len(handled) == 2


def test_the_sweeper_leaves_alone_what_real_notifications_delivered(
    server: ServerProcess, mturk: Any, local_aws: LocalAWS
) -> None:
    sqs, queue = sqs_client(local_aws.url), new_queue(local_aws)
    type_id = notify(mturk, queue, ["AssignmentSubmitted", "HITReviewable"])
    delivered, lost = new_hit(mturk, type_id), new_hit(mturk, type_id)
    for hit_id in (delivered, lost):
        new_worker(server).do(hit_id)
    documents = drain(sqs, queue, lambda docs: len(events_in(docs)) >= 4)
    router, handled = recording_router()
    reconciler = Reconciler(mturk, router, grace_s=0)
    for document in documents:  # the consumer; the HITReviewable of `lost` never reaches it
        events = parse_document({k: v for k, v in document.items() if k != "_attributes"}).events
        reconciler.router.handle_events(e for e in events if (e.event_type, e.hit_id) != ("HITReviewable", lost))
    assert len(handled) == 3 and not any(e.synthesized for e in handled)

    [made_up] = reconciler.run_once().synthesized
    assert (made_up.event_type, made_up.hit_id, made_up.synthesized) == ("HITReviewable", lost, True)
    assert reconciler.run_once().synthesized == []
    assert len(handled) == 4


# What the `openturk` script runs (`python -m openturk` drops main()'s exit status).
OPENTURK = "import sys; from openturk.cli import main; sys.exit(main(sys.argv[1:]))"


def route_process(*argv: str, stderr: int = subprocess.PIPE) -> subprocess.Popen[str]:
    """`openturk route ARGS` as its own process, with no AWS identity in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-c", OPENTURK, "route", *argv],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )


def test_route_ends_with_one_error_line_when_the_source_queue_does_not_exist(local_aws: LocalAWS) -> None:
    target = new_queue(local_aws)
    missing = target.rsplit("/", 1)[0] + f"/missing-{uuid.uuid4().hex[:12]}"
    routing = route_process("--from", missing, "--to", f"HITReviewable={target}", "--aws-endpoint", local_aws.url)
    try:
        _, stderr = routing.communicate(timeout=60)  # no --once: only the error can end it
    finally:
        routing.kill()
    assert routing.returncode == 1, stderr
    assert "Traceback" not in stderr
    [error] = [line for line in stderr.splitlines() if " ERROR " in line]
    assert f"cannot read the source queue {missing}" in error and "NonExistentQueue" in error


def test_route_retries_an_unreachable_endpoint_with_a_backoff_until_sigterm() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    queues = f"{endpoint}/123456789012"
    routing = route_process(
        "--from", f"{queues}/src", "--to", f"HITReviewable={queues}/dst", "--aws-endpoint", endpoint
    )
    assert routing.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(routing.stderr or []), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("retrying in 1s" in line for line in lines), timeout=30, what="a retried receive")
        assert routing.poll() is None, "a transient error does not end route"
        routing.send_signal(signal.SIGTERM)
        assert routing.wait(timeout=15) == 0
        reader.join(timeout=5)
    finally:
        routing.kill()
    text = "".join(lines)
    assert "Traceback" not in text and " ERROR " not in text
    assert "ReceiveMessage on" in text and "Could not connect to the endpoint URL" in text


def test_route_refuses_a_name_that_is_no_mturk_event_type() -> None:
    routing = route_process(
        "--from", "http://127.0.0.1:1/1/src", "--to", "HITExpired,HITReviewabel=http://127.0.0.1:1/1/b"
    )
    try:
        _, stderr = routing.communicate(timeout=60)
    finally:
        routing.kill()
    assert routing.returncode == 2, stderr
    assert "Traceback" not in stderr
    [error] = [line for line in stderr.splitlines() if " ERROR " in line]
    assert "'HITReviewabel' is not an MTurk event type (did you mean HITReviewable?)" in error
