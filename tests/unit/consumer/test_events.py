"""Parsing notification documents from every shape they travel in."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from openturk.consumer import MalformedNotification, documents_from, parse_document

DOC = {
    "EventDocVersion": "2014-08-15",
    "EventDocId": "abc123",
    "CustomerId": "A1CUSTOMER",
    "Future": "kept",
    "Events": [
        {"EventType": "HITCreated", "EventTimestamp": "2026-11-23T10:15:02Z", "HITTypeId": "T1", "HITId": "H1"},
        {
            "EventType": "AssignmentSubmitted",
            "EventTimestamp": "2026-11-23T10:15:03Z",
            "HITTypeId": "T1",
            "HITId": "H1",
            "AssignmentId": "A1",
            "Extra": 1,
        },
    ],
}
BODY = json.dumps(DOC)
SNS_ENVELOPE = {"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": BODY}


def test_typed_events_keep_unknown_fields() -> None:
    document = parse_document(BODY)
    assert (document.doc_id, document.version, document.customer_id) == ("abc123", "2014-08-15", "A1CUSTOMER")
    assert document.extra == {"Future": "kept"}
    first, second = document.events
    assert first.event_timestamp == datetime(2026, 11, 23, 10, 15, 2, tzinfo=UTC)
    assert (first.assignment_id, second.assignment_id) == (None, "A1")
    assert (second.doc_id, second.index, first.key) == ("abc123", 1, ("abc123", 0))
    assert second.extra == {"Extra": 1}


@pytest.mark.parametrize(
    "payload",
    [
        BODY,
        BODY.encode(),
        DOC,
        json.dumps(SNS_ENVELOPE),  # SNS HTTP POST / SNS→SQS body
        {"MessageId": "x", "ReceiptHandle": "r", "Body": json.dumps(SNS_ENVELOPE)},  # an SQS message
        {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": BODY}}]},  # SNS → Lambda
        {"Records": [{"eventSource": "aws:sqs", "body": BODY}]},  # SQS → Lambda
        "A worker submitted an assignment at ...\n\nThe notification document:\n" + BODY + "\n",  # email
    ],
)
def test_every_shape_yields_the_same_document(payload: object) -> None:
    [document] = documents_from(payload)  # type: ignore[arg-type]
    assert document.doc_id == "abc123" and len(document.events) == 2


def test_a_document_without_an_id_gets_a_stable_one() -> None:
    seed_test_event = '{"Events":[{"EventType":"HITReviewable","HITId":"31ANT7FQN71LA48IQEXAMPLE"}]}'
    first, second = parse_document(seed_test_event), parse_document(seed_test_event)
    assert first.doc_id == second.doc_id and first.doc_id.startswith("sha256:")
    assert first.events[0].event_timestamp is None


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ("not json", "JSON"),
        ("[1, 2]", "object"),
        ('{"EventDocId": "x"}', "Events"),
        ('{"Events": [1]}', "Events[0]"),
        ('{"Events": [{"HITId": "H"}]}', "Events[0].EventType"),
        ('{"Events": [{"EventType": "HITCreated", "EventTimestamp": "yesterday"}]}', "EventTimestamp"),
        ('{"Events": [], "EventDocId": 5}', "EventDocId"),
        ('{"Records": [{"nothing": 1}]}', "Records[0]"),
    ],
)
def test_malformed_documents_name_what_is_wrong(payload: str, names: str) -> None:
    with pytest.raises(MalformedNotification, match=names.replace("[", r"\[").replace("]", r"\]")):
        documents_from(payload)


def test_bytes_that_are_not_utf8_are_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedNotification, match="UTF-8"):
        documents_from(b"\xff\xfe")


@pytest.mark.parametrize(
    "payload", ["[" * 100_000 + "]" * 100_000, 'Your notification:\n{"EventDocVersion": ' + "[" * 100_000]
)
def test_a_document_nested_too_deeply_is_malformed_not_a_crash(payload: str) -> None:
    with pytest.raises(MalformedNotification, match="nest"):
        documents_from(payload)
