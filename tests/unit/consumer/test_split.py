"""Splitting a mixed document by event type, and the republisher's delete-only-when-all-accepted rule."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from openturk.consumer import Event, MalformedNotification, MemoryDedup, Router, parse_document
from openturk.consumer.split import (
    RouteError,
    RouteTable,
    SourceUnavailable,
    Splitter,
    event_types,
    retry_delay,
    split,
)

DOC: dict[str, Any] = {
    "EventDocVersion": "2014-08-15",
    "EventDocId": "doc-1",
    "CustomerId": "A1CUSTOMER",
    "Events": [
        {
            "EventType": "AssignmentAccepted",
            "EventTimestamp": "2026-11-23T10:00:00Z",
            "HITTypeId": "T1",
            "HITId": "H1",
            "AssignmentId": "A1",
        },
        {
            "EventType": "AssignmentSubmitted",
            "EventTimestamp": "2026-11-23T10:00:05Z",
            "HITTypeId": "T1",
            "HITId": "H1",
            "AssignmentId": "A1",
            "Future": "kept",
        },
        {"EventType": "HITReviewable", "EventTimestamp": "2026-11-23T10:00:05Z", "HITTypeId": "T1", "HITId": "H1"},
        {"EventType": "HITExpired", "EventTimestamp": "2026-11-23T10:00:09Z", "HITTypeId": "T2", "HITId": "H2"},
    ],
}
SUBMITTED, REVIEW, OTHER = "https://sqs.us-east-1.amazonaws.com/1/submitted", "https://q/review", "https://q/other"


def table(default: str | None = None) -> RouteTable:
    return RouteTable.parse(
        [f"AssignmentSubmitted={SUBMITTED}", f"HITReviewable,HITExpired={REVIEW}"], default, source="https://q/src"
    )


def test_each_target_gets_one_document_with_only_its_events_and_the_original_ids() -> None:
    result = split(json.dumps(DOC), table())
    parts = {part.target: part for part in result.parts}
    assert set(parts) == {SUBMITTED, REVIEW}
    submitted, review = json.loads(parts[SUBMITTED].body), json.loads(parts[REVIEW].body)
    for document in (submitted, review):
        assert {k: document[k] for k in ("EventDocVersion", "EventDocId", "CustomerId")} == {
            "EventDocVersion": "2014-08-15",
            "EventDocId": "doc-1",
            "CustomerId": "A1CUSTOMER",
        }
    assert submitted["Events"] == [{**DOC["Events"][1], "EventIndex": 1}]  # every original field kept
    assert review["Events"] == [{**DOC["Events"][2], "EventIndex": 2}, {**DOC["Events"][3], "EventIndex": 3}]
    assert parts[REVIEW].attributes() == {
        "EventTypes": {"DataType": "String.Array", "StringValue": '["HITReviewable", "HITExpired"]'},
        "HITTypeId": {"DataType": "String.Array", "StringValue": '["T1", "T2"]'},
    }
    assert [e["EventType"] for e in result.dropped] == ["AssignmentAccepted"]


def test_unnamed_types_go_to_the_default_and_a_type_may_go_to_two_targets() -> None:
    routes = RouteTable.parse([f"HITReviewable={REVIEW}", f"HITReviewable,AssignmentSubmitted={SUBMITTED}"], OTHER)
    result = split(DOC, routes)
    events = {p.target: [e["EventIndex"] for e in json.loads(p.body)["Events"]] for p in result.parts}
    assert events == {OTHER: [0, 3], SUBMITTED: [1, 2], REVIEW: [2]}
    assert result.dropped == []


def test_splitting_a_split_document_keeps_the_original_indexes_and_unwraps_sns() -> None:
    first = {p.target: p for p in split(DOC, table()).parts}[REVIEW]
    envelope = {"Type": "Notification", "MessageId": "m", "Message": first.body}
    again = split(json.dumps(envelope), RouteTable.parse([f"HITExpired={OTHER}"]))
    [part] = again.parts
    assert [e["EventIndex"] for e in json.loads(part.body)["Events"]] == [3]
    assert [e["EventType"] for e in again.dropped] == ["HITReviewable"]


def test_fifo_targets_get_a_group_and_a_deduplication_id() -> None:
    fifo = "https://q/review.fifo"
    [part] = split(DOC, RouteTable.parse([f"HITReviewable={fifo}"])).parts
    entry = part.entry("0-0")
    assert entry["MessageGroupId"] == "H1" and len(entry["MessageDeduplicationId"]) == 64
    assert "MessageGroupId" not in split(DOC, table()).parts[0].entry("0-0")


@pytest.mark.parametrize(
    ("specs", "default", "message"),
    [
        (["HITReviewable"], None, "must look like"),
        (["=https://q/x"], None, "must look like"),
        (["HITReviewable="], None, "must look like"),
        (["HITReviewable=https://q/src"], None, "routed forever"),
        (["HITReviewable=https://q/x"], "https://q/src", "routed forever"),
    ],
)
def test_a_route_table_that_cannot_work_is_refused(specs: list[str], default: str | None, message: str) -> None:
    with pytest.raises(RouteError, match=message):
        RouteTable.parse(specs, default, source="https://q/src")


def test_a_malformed_document_is_named() -> None:
    with pytest.raises(MalformedNotification, match="EventType"):
        split(json.dumps({"EventDocId": "x", "Events": [{"HITId": "H"}]}), table())
    with pytest.raises(MalformedNotification, match="not valid JSON"):
        split("{nope", table())


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [retry_delay(n, 5, 300) for n in (1, 2, 3, 8)] == [5, 10, 20, 300]
    assert retry_delay(1, 0, 300) == 0


def test_parts_in_different_queues_keep_distinct_dedup_keys() -> None:
    parts = split(DOC, table()).parts
    keys = [{(e.doc_id, e.index) for e in parse_document(p.body).events} for p in parts]
    assert keys == [{("doc-1", 1)}, {("doc-1", 2), ("doc-1", 3)}]


class FakeSQS:
    """An in-memory twin of the SQS calls the splitter makes; queues it does not know refuse sends."""

    def __init__(self, *queues: str) -> None:
        self.queues: dict[str, list[dict[str, Any]]] = {q: [] for q in queues}
        self.invisible: dict[str, float] = {}  # receipt handle → visibility timeout set
        self.refuse: set[str] = set()  # targets whose SendMessageBatch reports entries Failed

    def put(self, queue: str, body: str) -> None:
        self.queues[queue].append({"MessageId": uuid.uuid4().hex, "Body": body, "receives": 0})

    def receive_message(self, QueueUrl: str, **_: Any) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        for message in self.queues[QueueUrl]:
            if len(out) == 10 or self.invisible.get(message.get("handle", ""), 0) > 0:
                continue
            message["receives"] += 1
            message["handle"] = uuid.uuid4().hex
            self.invisible[message["handle"]] = 30
            out.append(
                {
                    "MessageId": message["MessageId"],
                    "Body": message["Body"],
                    "ReceiptHandle": message["handle"],
                    "Attributes": {"ApproximateReceiveCount": str(message["receives"])},
                }
            )
        return {"Messages": out}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if QueueUrl not in self.queues:
            raise RuntimeError("AWS.SimpleQueueService.NonExistentQueue")
        if QueueUrl in self.refuse:
            return {"Failed": [{"Id": e["Id"], "Code": "InternalError", "Message": "x"} for e in Entries]}
        for entry in Entries:
            self.queues[QueueUrl].append(
                {
                    "MessageId": uuid.uuid4().hex,
                    "Body": entry["MessageBody"],
                    "receives": 0,
                    "MessageAttributes": entry["MessageAttributes"],
                }
            )
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        handles = {e["ReceiptHandle"] for e in Entries}
        self.queues[QueueUrl] = [m for m in self.queues[QueueUrl] if m.get("handle") not in handles]
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:
        self.invisible[ReceiptHandle] = VisibilityTimeout

    def documents(self, queue: str) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.queues[queue]]


def test_the_source_message_is_deleted_only_when_every_target_accepted() -> None:
    sqs = FakeSQS("src", SUBMITTED)  # REVIEW does not exist yet
    sqs.put("src", json.dumps(DOC))
    splitter = Splitter(sqs, "src", table(), retry_base_s=0)
    report = splitter.run(threading.Event(), once=True)
    assert (report.documents, report.kept) == (0, 1)
    assert len(sqs.queues["src"]) == 1, "kept: one target refused its part"
    assert [d["EventDocId"] for d in sqs.documents(SUBMITTED)] == ["doc-1"]
    sqs.queues[REVIEW] = []
    sqs.refuse.add(REVIEW)
    assert splitter.run(threading.Event(), once=True).kept == 1  # entries reported Failed: still kept
    sqs.refuse.clear()
    report = splitter.run(threading.Event(), once=True)
    assert (report.documents, report.kept, report.dropped) == (1, 0, 1)
    assert sqs.queues["src"] == []
    assert [d["EventDocId"] for d in sqs.documents(REVIEW)] == ["doc-1"]
    # SUBMITTED got its part on every try: a duplicate that a consumer handles once.
    assert [d["EventDocId"] for d in sqs.documents(SUBMITTED)] == ["doc-1"] * 3
    router, handled = Router(dedup=MemoryDedup()), list[Event]()
    router.add("AssignmentSubmitted", handled.append)
    for document in sqs.documents(SUBMITTED):
        router.handle_document(parse_document(document))
    assert len(handled) == 1


def test_a_message_that_is_not_a_document_is_kept_and_postponed_by_backoff() -> None:
    sqs = FakeSQS("src", SUBMITTED, REVIEW)
    sqs.put("src", "not json")
    sqs.put("src", json.dumps(DOC))
    report = Splitter(sqs, "src", table(), retry_base_s=7).run(threading.Event(), once=True)
    assert (report.documents, report.kept) == (1, 1)
    [kept] = sqs.queues["src"]
    assert kept["Body"] == "not json" and sqs.invisible[kept["handle"]] == 7


def test_many_documents_are_sent_in_batches_of_ten() -> None:
    sqs = FakeSQS("src", SUBMITTED, REVIEW)
    for n in range(25):
        sqs.put("src", json.dumps({**DOC, "EventDocId": f"doc-{n}"}))
    report = Splitter(sqs, "src", table()).run(threading.Event(), once=True)
    assert (report.documents, report.parts, report.dropped) == (25, 50, 25)
    assert sorted(d["EventDocId"] for d in sqs.documents(REVIEW)) == sorted(f"doc-{n}" for n in range(25))


def test_every_name_in_a_route_must_be_an_mturk_event_type() -> None:
    misspelt = r"'HITReviewabel' is not an MTurk event type \(did you mean HITReviewable\?\)"
    with pytest.raises(RouteError, match=misspelt):
        RouteTable.parse(["HITExpired,HITReviewabel=https://q/x"])
    with pytest.raises(RouteError, match="'assignmentsubmitted' is not an MTurk event type"):
        RouteTable.parse(["assignmentsubmitted=https://q/x"])
    every = event_types()
    assert len(every) == 12 and "Ping" in every and "HITReviewable" in every  # the mturk model's EventType
    assert set(RouteTable.parse([f"{','.join(every)}=https://q/x"]).routes) == set(every)


def test_a_body_nested_too_deeply_to_parse_is_malformed_and_kept_for_the_redrive() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(MalformedNotification, match="not valid JSON"):
        split(deep, table())
    sqs = FakeSQS("src", SUBMITTED, REVIEW)
    sqs.put("src", deep)
    sqs.put("src", json.dumps(DOC))
    report = Splitter(sqs, "src", table(), retry_base_s=7).run(threading.Event(), once=True)
    assert (report.documents, report.kept) == (1, 1)
    [kept] = sqs.queues["src"]
    assert kept["Body"] == deep and sqs.invisible[kept["handle"]] == 7


class RecordingStop(threading.Event):
    """A stop flag whose waits return at once and are recorded, so backoffs are seen without sleeping."""

    def __init__(self, stop_while_waiting: bool = False) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.stop_while_waiting = stop_while_waiting

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        if self.stop_while_waiting:
            self.set()  # as SIGTERM arriving during the wait does
        return self.is_set()


class FailingSQS(FakeSQS):
    """ReceiveMessage raises the queued errors first, then answers as FakeSQS does."""

    def __init__(self, errors: list[Exception], *queues: str) -> None:
        super().__init__(*queues)
        self.errors = errors
        self.receives = 0

    def receive_message(self, QueueUrl: str, **kwargs: Any) -> dict[str, Any]:
        self.receives += 1
        if self.errors:
            raise self.errors.pop(0)
        return super().receive_message(QueueUrl, **kwargs)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "ReceiveMessage")


def test_receive_errors_are_retried_with_a_capped_doubling_backoff_then_routing_goes_on() -> None:
    down = EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
    errors: list[Exception] = [down] * 7 + [client_error("InternalError"), client_error("RequestThrottled")]
    sqs = FailingSQS(errors, "src", SUBMITTED, REVIEW)
    sqs.put("src", json.dumps(DOC))
    stop = RecordingStop()
    report = Splitter(sqs, "src", table()).run(stop, once=True)
    assert report.documents == 1, "routed once the endpoint answered"
    assert stop.waits == [1, 2, 4, 8, 16, 30, 30, 30, 30], "never a tight loop, never more than 30 s"


def test_a_stop_during_the_backoff_ends_the_run_without_another_receive() -> None:
    sqs = FailingSQS([EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")] * 100, "src")
    stop = RecordingStop(stop_while_waiting=True)
    assert Splitter(sqs, "src", table()).run(stop).documents == 0
    assert (sqs.receives, stop.waits) == (1, [1])


@pytest.mark.parametrize("code", ["AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied"])
def test_a_source_queue_no_retry_can_fix_ends_the_run(code: str) -> None:
    sqs = FailingSQS([client_error(code)], "src")
    stop = RecordingStop()
    with pytest.raises(SourceUnavailable, match=f"cannot read the source queue src: .*{code}"):
        Splitter(sqs, "src", table()).run(stop)
    assert stop.waits == [] and sqs.receives == 1
