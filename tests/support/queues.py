"""Reading notification documents from SQS with a deadline (never a bare sleep)."""

from __future__ import annotations

import json
import time
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
            documents.append(document)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if until(documents):
            return documents
    raise AssertionError(f"condition not met within {timeout}s; got {documents}")


def events_in(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for document in documents for event in document["Events"]]
