"""The notification document: MTurk's documented JSON body, formed once and never changed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Caps that keep one body far below SQS's 256 KiB.
MAX_EVENTS_PER_MESSAGE = 100
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class EventRecord:
    event_id: int
    event_type: str
    event_time: int  # epoch ms, server clock
    hit_type_id: str
    hit_id: str
    assignment_id: str | None


def new_doc_id() -> str:
    return uuid.uuid4().hex


def timestamp(epoch_ms: int) -> str:
    """UTC, whole seconds: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_ms // 1000))


def event_entry(event: EventRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "EventType": event.event_type,
        "EventTimestamp": timestamp(event.event_time),
        "HITTypeId": event.hit_type_id,
        "HITId": event.hit_id,
    }
    if event.assignment_id is not None:
        entry["AssignmentId"] = event.assignment_id
    return entry


def document(doc_id: str, version: str, customer_id: str, events: Sequence[EventRecord]) -> str:
    body = {
        "EventDocVersion": version,
        "EventDocId": doc_id,
        "CustomerId": customer_id,
        "Events": [event_entry(event) for event in events],
    }
    return json.dumps(body, separators=(",", ":"))


def batches(events: Sequence[EventRecord], one_hit: bool = False) -> list[list[EventRecord]]:
    """Split events (already in commit order) into runs that respect the count and size caps.

    With ``one_hit`` (a FIFO destination) every run holds the events of one HIT only, in commit order,
    so the run's ``MessageGroupId`` (its HIT) orders it among that HIT's other messages.
    """
    if one_hit:
        by_hit: dict[str, list[EventRecord]] = {}
        for event in events:
            by_hit.setdefault(event.hit_id, []).append(event)
        return [run for hit_events in by_hit.values() for run in batches(hit_events)]
    result: list[list[EventRecord]] = []
    current: list[EventRecord] = []
    size = 200  # the envelope around the events
    for event in events:
        entry_size = len(json.dumps(event_entry(event))) + 1
        if current and (len(current) >= MAX_EVENTS_PER_MESSAGE or size + entry_size > MAX_BODY_BYTES):
            result.append(current)
            current, size = [], 200
        current.append(event)
        size += entry_size
    if current:
        result.append(current)
    return result
