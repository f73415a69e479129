"""Notification destinations are checked whole: a trailing newline is not part of a queue URL."""

from __future__ import annotations

import pytest

from openturk.errors import InvalidParameterValue
from openturk.notify import specification

GOOD = {
    "SQS": "https://sqs.us-east-1.amazonaws.com/123456789012/mturk-events",
    "SNS": "arn:aws:sns:us-east-1:123456789012:mturk-events",
    "Email": "lab@example.org",
}


@pytest.mark.parametrize("transport", sorted(GOOD))
def test_a_destination_with_a_trailing_newline_is_refused(transport: str) -> None:
    specification.check_destination(transport, GOOD[transport])
    for bad in (GOOD[transport] + "\n", GOOD[transport] + "\r\n", "\n" + GOOD[transport]):
        with pytest.raises(InvalidParameterValue, match=r"Notification\.Destination"):
            specification.check_destination(transport, bad)
