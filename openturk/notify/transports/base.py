"""The transport port, and the message as transports see it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    message_id: int
    doc_id: str
    transport: str
    destination: str
    body: str
    event_types: str  # comma-separated, distinct, in first-seen order
    hit_type_ids: str  # comma-separated, distinct
    customer_id: str = ""  # the requester whose events these are: the dispatcher shares its threads out by it

    def first_hit_id(self) -> str:
        """The HIT of a FIFO destination's message: the outbox gives those one HIT each."""
        events = json.loads(self.body).get("Events") or [{}]
        return str(events[0].get("HITId", "none"))

    def event_type_list(self) -> list[str]:
        return self.event_types.split(",") if self.event_types else []

    def hit_type_id_list(self) -> list[str]:
        return self.hit_type_ids.split(",") if self.hit_type_ids else []


def is_fifo(destination: str) -> bool:
    """A FIFO SQS queue (URL) or SNS topic (ARN): both names end in ``.fifo``."""
    return destination.endswith(".fifo")


class Transport(Protocol):
    def send(self, batch: Sequence[Outgoing]) -> list[str | None]:
        """Send every message; return, per message in order, None if acknowledged or the error text."""
        ...

    def warm(self) -> None:
        """Prepare what the first send would otherwise pay for (client creation takes ~0.3 s)."""
        ...


def describe(exc: BaseException) -> str:
    """A one-line cause for the attempt log and for SendTestEventNotification's error."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
