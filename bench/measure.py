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

    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))


def mturk_client(endpoint: str, access_key_id: str) -> Any:
    """An MTurk client for an ``openturk serve --auth open``: one try per call."""
    import boto3
    from botocore.config import Config

    return boto3.client("mturk", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=access_key_id,
                        aws_secret_access_key="secret",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))
