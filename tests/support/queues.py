"""Reading notification documents from SQS with a deadline (never a bare sleep)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3


def sqs_client(endpoint: str) -> Any:
    return boto3.client(
        "sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def sns_client(endpoint: str) -> Any:
    return boto3.client(
        "sns", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def drain(
    sqs: Any,
    queue_url: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 20.0,
    unwrap_sns: bool = False,
) -> list[dict[str, Any]]:
    """Receive and delete messages until ``until(documents)`` holds; return the documents."""
    documents: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            document = json.loads(body["Message"]) if unwrap_sns else body
            document["_attributes"] = message.get("MessageAttributes", body.get("MessageAttributes"))
            if unwrap_sns:
                document["_subject"] = body.get("Subject")
            documents.append(document)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if until(documents):
            return documents
    raise AssertionError(f"condition not met within {timeout}s; got {documents}")


def events_in(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for document in documents for event in document["Events"]]


def document_body(doc_id: str, *event_types: str) -> str:
    """A notification document as openturk sends it: one event per type (HITReviewable if none)."""
    events = [
        {"EventType": t, "EventTimestamp": "2026-11-23T10:15:02Z", "HITTypeId": "T1", "HITId": f"H-{doc_id}-{i}"}
        for i, t in enumerate(event_types or ("HITReviewable",))
    ]
    return json.dumps({"EventDocVersion": "2014-08-15", "EventDocId": doc_id, "CustomerId": "C1", "Events": events})


def new_queue(sqs: Any, **attributes: str) -> str:
    return str(sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}", Attributes=attributes)["QueueUrl"])


def queue_counts(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.02)


def notify_queue(mturk: Any, sqs_endpoint: str, hit_type_id: str, *event_types: str) -> str:
    """A new SQS queue that receives the HIT type's ``event_types`` (UpdateNotificationSettings); its URL."""
    queue: str = sqs_client(sqs_endpoint).create_queue(QueueName=f"notify-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    mturk.update_notification_settings(
        HITTypeId=hit_type_id,
        Notification={
            "Destination": queue,
            "Transport": "SQS",
            "Version": "2014-08-15",
            "EventTypes": list(event_types),
        },
        Active=True,
    )
    return queue
