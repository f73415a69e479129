"""SQS and SNS through boto3, to real AWS or any compatible endpoint (moto's server locally).

SQS's sends take boto3's endpoint and credentials with a request of our own (``sqs_direct``).

Clients are made once per (service, region), the ``AWS_CLIENTS`` most recently used kept, and
shared by the dispatcher's threads (boto3 clients are thread-safe). botocore's own retries are
off: the outbox retries, and records each try.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from openturk.cache import LRU
from openturk.notify.transports.base import Outgoing, describe, is_fifo
from openturk.notify.transports.sqs_direct import DirectSQS

_SQS_REGION = re.compile(r"sqs[.-]([a-z0-9-]+)\.amazonaws\.com")
DEFAULT_REGION = "us-east-1"
AWS_CLIENTS = 32
SQS_BATCH = 10


@dataclass(frozen=True)
class AwsTarget:
    """Where and as whom openturk sends: endpoint URL (None = real AWS) and optional static keys."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


class AwsClients:
    """boto3 clients by (service, region), made from one session: its credentials (static keys, or the
    default chain: environment, profile, instance role) are resolved once and refreshed by botocore."""

    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        # Regions come from destinations any requester names (in open mode, anyone): bounded.
        self._clients: LRU[tuple[str, str], Any] = LRU(AWS_CLIENTS)
        self._lock = threading.Lock()
        self._config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}, max_pool_connections=32)
        credentials = {}
        if target.access_key_id:
            credentials = {
                "aws_access_key_id": target.access_key_id,
                "aws_secret_access_key": target.secret_access_key,
            }
        self.session = boto3.session.Session(**credentials)

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:  # a boto3 Session makes clients one at a time
            found = self._clients.get(key)
            if found is None:
                found = self.session.client(
                    service, region_name=region, endpoint_url=self.target.endpoint_url, config=self._config
                )
                self._clients.put(key, found)
            return found


def sqs_region(queue_url: str) -> str:
    match = _SQS_REGION.search(queue_url)
    return match[1] if match else DEFAULT_REGION


def sns_region(topic_arn: str) -> str:
    return topic_arn.split(":")[3] or DEFAULT_REGION


def attributes(message: Outgoing) -> dict[str, dict[str, str]]:
    """``EventTypes`` and ``HITTypeId`` as ``String.Array`` (JSON arrays), on SQS and SNS alike.

    SNS filter policies match an array attribute when any element matches, so a subscription filtering
    on ``{"EventTypes": ["HITReviewable"]}`` sees every message that carries a HITReviewable event, batched
    or not (a comma-joined ``String`` would match only a message of that one type). SQS takes
    ``String.Array`` as a custom string type, so a consumer reads the attributes the same way from both.
    """
    return {
        "EventTypes": {"DataType": "String.Array", "StringValue": json.dumps(message.event_type_list())},
        "HITTypeId": {"DataType": "String.Array", "StringValue": json.dumps(message.hit_type_id_list())},
    }


class SQSTransport:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients
        self.direct = DirectSQS(clients.session)

    def warm(self) -> None:
        self.clients.client("sqs", DEFAULT_REGION)

    def send(self, batch: Sequence[Outgoing]) -> list[str | None]:
        results: list[str | None] = [None] * len(batch)
        by_queue: dict[str, list[int]] = {}
        for index, message in enumerate(batch):
            by_queue.setdefault(message.destination, []).append(index)
        for queue_url, indexes in by_queue.items():
            for start in range(0, len(indexes), SQS_BATCH):
                chunk = indexes[start : start + SQS_BATCH]
                for index, error in zip(chunk, self._send_chunk(queue_url, [batch[i] for i in chunk]), strict=False):
                    results[index] = error
        return results

    def _send_chunk(self, queue_url: str, chunk: list[Outgoing]) -> list[str | None]:
        fifo = is_fifo(queue_url)
        entries = []
        for position, message in enumerate(chunk):
            entry: dict[str, Any] = {
                "Id": str(position),
                "MessageBody": message.body,
                "MessageAttributes": attributes(message),
            }
            if fifo:
                entry["MessageGroupId"] = message.first_hit_id()
                entry["MessageDeduplicationId"] = message.doc_id
            entries.append(entry)
        try:
            region = sqs_region(queue_url)
            client = self.clients.client("sqs", region)
            endpoint = client.meta.endpoint_url
            if self.direct.usable(endpoint):  # the same request, for a fraction of the CPU (see sqs_direct)
                response = self.direct.send_message_batch(endpoint, region, queue_url, entries)
            else:
                response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception as exc:  # noqa: BLE001 - any failure of the call fails this chunk; it is retried
            return [describe(exc)] * len(chunk)
        errors: list[str | None] = ["no acknowledgement from SQS"] * len(chunk)
        for ok in response.get("Successful", []):
            errors[int(ok["Id"])] = None
        for failed in response.get("Failed", []):
            errors[int(failed["Id"])] = f"{failed.get('Code', 'Failed')}: {failed.get('Message', '')}"
        return errors


class SNSTransport:
    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def warm(self) -> None:
        self.clients.client("sns", DEFAULT_REGION)

    def send(self, batch: Sequence[Outgoing]) -> list[str | None]:
        results: list[str | None] = []
        for message in batch:
            try:
                extra: dict[str, Any] = {}
                if is_fifo(message.destination):
                    extra = {"MessageGroupId": message.first_hit_id(), "MessageDeduplicationId": message.doc_id}
                self.clients.client("sns", sns_region(message.destination)).publish(
                    TopicArn=message.destination,
                    Message=message.body,
                    # MTurk's subject was the moment it published, in epoch milliseconds ("1565385436809" in
                    # a captured MTurk notification, Dallinger's tests/test_recruiters.py); email subscribers see it.
                    Subject=str(int(time.time() * 1000)),
                    MessageAttributes=attributes(message),
                    **extra,
                )
                results.append(None)
            except Exception as exc:  # noqa: BLE001 - any failure fails this message; it is retried
                results.append(describe(exc))
        return results
