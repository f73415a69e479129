"""What the bench scripts share: a process's CPU time, quantiles, and the SQS and MTurk clients."""

from __future__ import annotations

import os
from typing import Any


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def quantile(values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between closest ranks; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def sqs_client(endpoint: str) -> Any:
    """An SQS client for the bench's moto server: one try per call, so a failure is counted, not hidden."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def mturk_client(endpoint: str, access_key_id: str) -> Any:
    """An MTurk client for an ``openturk serve --auth open``: one try per call."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "mturk",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key_id,
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


class SignedJSONClient:
    """A lean AWS JSON-protocol client: the request boto3 would send (SigV4-signed), on one kept-alive connection.

    boto3 spends about 2 ms of CPU per call validating, serialising and parsing; on a 2-core machine
    that shares its cores with the server being measured, the ceiling would be the clients'. This
    client builds the JSON body itself, signs it with botocore's own SigV4 signer, and reads the JSON
    answer: the server sees the same wire request, for a fraction of the client's CPU. An error
    answer (4xx/5xx) raises ``RuntimeError`` naming its ``__type``.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        service: str,
        target_prefix: str,
        json_version: str,
        access_key_id: str,
        secret_access_key: str,
        region: str = "us-east-1",
    ) -> None:
        import http.client
        from urllib.parse import urlsplit

        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        self.url = endpoint.rstrip("/") + "/"
        parts = urlsplit(self.url)
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        self.signer = SigV4Auth(Credentials(access_key_id, secret_access_key), service, region)
        self.target_prefix = target_prefix
        self.content_type = f"application/x-amz-json-{json_version}"

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        import json

        from botocore.awsrequest import AWSRequest

        body = json.dumps(params).encode()
        request = AWSRequest(
            method="POST",
            url=self.url,
            data=body,
            headers={"Content-Type": self.content_type, "X-Amz-Target": f"{self.target_prefix}.{operation}"},
        )
        self.signer.add_auth(request)
        self.connection.request("POST", "/", body=body, headers=dict(request.headers.items()))
        answer = self.connection.getresponse()
        data = answer.read()
        document: dict[str, Any] = json.loads(data) if data else {}
        if answer.status >= 400:
            raise RuntimeError(f"{answer.status} {document.get('__type')}: {document.get('message') or document}")
        return document

    def close(self) -> None:
        self.connection.close()


def lean_mturk_client(endpoint: str, access_key_id: str) -> SignedJSONClient:
    return SignedJSONClient(
        endpoint,
        service="mturk-requester",
        target_prefix="MTurkRequesterServiceV20170117",
        json_version="1.1",
        access_key_id=access_key_id,
        secret_access_key="secret",
    )


def lean_sqs_client(endpoint: str) -> SignedJSONClient:
    return SignedJSONClient(
        endpoint,
        service="sqs",
        target_prefix="AmazonSQS",
        json_version="1.0",
        access_key_id="test",
        secret_access_key="test",
    )
