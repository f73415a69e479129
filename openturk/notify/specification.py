"""Notification specifications: validation and the ``Notification`` wire shape.

One specification per HIT type. Validation follows ``shared/spec/notifications.md`` §1: each
failure is a ``RequestError`` naming the field, and nothing is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from openturk.errors import InvalidParameterValue

VERSIONS = ("2006-05-05", "2014-08-15")
_SQS_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/[A-Za-z0-9_\-]+/[A-Za-z0-9_\-]{1,80}(\.fifo)?\Z")
_SNS_ARN = re.compile(r"^arn:[a-z\-]+:sns:[a-z0-9\-]+:[0-9A-Za-z]+:[A-Za-z0-9_\-]{1,256}(\.fifo)?\Z")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+\Z")


@dataclass(frozen=True)
class Specification:
    transport: str  # SQS | SNS | Email
    destination: str
    version: str
    event_types: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "Transport": self.transport,
            "Destination": self.destination,
            "Version": self.version,
            "EventTypes": list(self.event_types),
        }


def check_destination(transport: str, destination: str, field: str = "Notification.Destination") -> None:
    pattern = {"SQS": _SQS_URL, "SNS": _SNS_ARN, "Email": _EMAIL}[transport]
    what = {"SQS": "an SQS queue URL", "SNS": "an SNS topic ARN", "Email": "one email address"}[transport]
    if not pattern.fullmatch(destination):
        raise InvalidParameterValue(f"{field} '{destination[:128]}' is not {what} (Transport {transport}).")


def check_version(version: str, field: str = "Notification.Version") -> None:
    if version not in VERSIONS:
        raise InvalidParameterValue(f"{field} must be one of {', '.join(VERSIONS)}, not '{version[:32]}'.")


def parse(notification: dict[str, Any], *, allow_ping: bool = False) -> Specification:
    """A validated specification from a parsed ``NotificationSpecification``."""
    transport = notification["Transport"]
    check_destination(transport, notification["Destination"])
    check_version(notification["Version"])
    event_types = tuple(dict.fromkeys(notification["EventTypes"]))
    if not event_types:
        raise InvalidParameterValue("Notification.EventTypes must list at least one event type.")
    if "Ping" in event_types and not allow_ping:
        raise InvalidParameterValue(
            "Notification.EventTypes may not contain Ping: it is sent only by SendTestEventNotification."
        )
    return Specification(transport, notification["Destination"], notification["Version"], event_types)
