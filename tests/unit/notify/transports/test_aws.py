"""SQS/SNS message attributes and FIFO fields, built without AWS."""

from __future__ import annotations

import json

from openturk.notify.message import EventRecord, document
from openturk.notify.transports.aws import attributes
from openturk.notify.transports.base import Outgoing, is_fifo


def outgoing(event_types: str, hit_type_ids: str, destination: str = "arn:aws:sns:us-east-1:1:t") -> Outgoing:
    body = document("d" * 32, "2014-08-15", "C1", [EventRecord(1, "HITReviewable", 0, "T1", "H9", None)])
    return Outgoing(1, "d" * 32, "SNS", destination, body, event_types, hit_type_ids)


def test_event_types_and_hit_type_ids_are_string_arrays() -> None:
    """JSON arrays, so an SNS filter policy matches any one element of a batched message."""
    assert attributes(outgoing("HITExpired,HITReviewable", "T1,T2")) == {
        "EventTypes": {"DataType": "String.Array", "StringValue": json.dumps(["HITExpired", "HITReviewable"])},
        "HITTypeId": {"DataType": "String.Array", "StringValue": json.dumps(["T1", "T2"])},
    }


def test_fifo_destinations_and_their_group() -> None:
    assert is_fifo("https://sqs.us-east-1.amazonaws.com/1/q.fifo") and is_fifo("arn:aws:sns:us-east-1:1:t.fifo")
    assert not is_fifo("https://sqs.us-east-1.amazonaws.com/1/q") and not is_fifo("lab@example.org")
    assert outgoing("HITReviewable", "T1").first_hit_id() == "H9"
