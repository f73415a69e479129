"""Real destinations: create SQS queues and SNS topics with the policy openturk needs, check existing ones.

The policy documents and the reading of policies are ``openturk.notify.policy``'s; this module talks to
SQS and SNS through boto3 clients (``openturk destinations create-queue|create-topic|check``).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from openturk.notify.policy import Finding, Kind, check_policy, check_sender_arn, queue_policy, topic_policy

_MISSING_CODES = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NotFound", "NotFoundException"}


def create_queue(sqs_client: Any, name: str, sender_arn: str, fifo: bool = False) -> str:
    """Create (or re-use) queue ``name`` with ``queue_policy`` for ``sender_arn``; return its URL.

    A name ending in ``.fifo`` makes a FIFO queue; ``fifo=True`` with any other name raises
    ValueError (SQS requires the suffix). An existing queue of the same name and attributes is
    re-used and its policy replaced. botocore's ClientError/BotoCoreError propagate.
    """
    check_sender_arn(sender_arn)  # fail before anything is created
    if fifo and not name.endswith(".fifo"):
        raise ValueError(f"a FIFO queue's name must end in .fifo, not {name!r}")
    fifo_attributes = {}
    if name.endswith(".fifo"):
        # openturk sets MessageDeduplicationId to the EventDocId itself, which content hashing would only blur.
        fifo_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    queue_url: str = sqs_client.create_queue(QueueName=name, Attributes=fifo_attributes)["QueueUrl"]
    attributes = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    # SetQueueAttributes with a whole document, as the seed says: AddPermission cannot add the condition.
    sqs_client.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": json.dumps(queue_policy(queue_arn, sender_arn))}
    )
    return queue_url


def create_topic(sns_client: Any, name: str, sender_arn: str) -> str:
    """Create (or re-use) topic ``name`` with ``topic_policy`` for ``sender_arn``; return its ARN.

    A name ending in ``.fifo`` makes a FIFO topic. botocore's ClientError/BotoCoreError propagate.
    """
    check_sender_arn(sender_arn)
    attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if name.endswith(".fifo") else {}
    topic_arn: str = sns_client.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    sns_client.set_topic_attributes(
        TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(topic_policy(topic_arn, sender_arn))
    )
    return topic_arn


def check_queue(sqs_client: Any, queue_url: str, sender_arn: str) -> list[Finding]:
    """``check_policy`` on the queue's stored policy; a missing or unreadable queue is an error finding.

    Raises botocore's BotoCoreError when the endpoint cannot be reached at all.
    """
    try:
        attributes = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "Policy"])[
            "Attributes"
        ]
    except ClientError as exc:
        return [_unreadable(exc, f"queue {queue_url}")]
    return _check_stored(attributes.get("Policy"), attributes["QueueArn"], sender_arn, "SQS")


def check_topic(sns_client: Any, topic_arn: str, sender_arn: str) -> list[Finding]:
    """``check_policy`` on the topic's stored policy; a missing or unreadable topic is an error finding.

    Raises botocore's BotoCoreError when the endpoint cannot be reached at all.
    """
    try:
        attributes = sns_client.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    except ClientError as exc:
        return [_unreadable(exc, f"topic {topic_arn}")]
    return _check_stored(attributes.get("Policy"), topic_arn, sender_arn, "SNS")


def _check_stored(text: str | None, resource_arn: str, sender_arn: str, kind: Kind) -> list[Finding]:
    try:
        policy = json.loads(text) if text else None
    except ValueError as exc:
        return [Finding("error", "policy-invalid", f"the stored policy is not JSON ({exc})")]
    return check_policy(policy, resource_arn, sender_arn, kind)


def _unreadable(exc: ClientError, what: str) -> Finding:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code in _MISSING_CODES or error.get("QueryErrorCode") in _MISSING_CODES:
        return Finding("error", "destination-missing", f"{what} does not exist")
    return Finding("error", "destination-unreadable", f"{what} could not be read: {code} {error.get('Message', '')}")
