"""Typed notification documents, parsed from any shape they arrive in.

Shapes recognised by ``documents_from``: the raw document (SQS body), an SNS envelope (inside SQS
or as SNS's HTTP POST), an SQS ``ReceiveMessage`` message, a Lambda event from SNS
(``Records[].Sns.Message``) or SQS (``Records[].body``), and the Email transport's body (the JSON
document after the prose). Unknown fields are kept in ``extra``. A malformed document raises
``MalformedNotification`` naming what is wrong.

DECISION: a document without ``EventDocId`` (hand-written test events such as the seed's Lambda
example) gets a stable id from a SHA-256 of its canonical JSON, so de-duplication still works.

DECISION (one key for the real and the reconciled event): an event of a type the reconciliation
sweeper can make up (``OCCURRENCE_KEYED``) is keyed by its ``occurrence`` — (EventType, HITId,
AssignmentId, EventTimestamp's epoch second) — which the sweeper's twin of it shares (the sweeper
takes the time from the assignment's SubmitTime, ApprovalTime or RejectionTime, or the HIT's last
SubmitTime, the instants the server stamps on the real events), so whichever of the two comes
second is skipped. A real event also marks the occurrence with its ``delivery`` (see ``Router``),
so that two real events sharing an occurrence key (a HIT reviewable twice within one second, as
under a virtual clock) both run. Every other event is keyed by its delivery (EventDocId, index).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_DOCUMENT_KEYS = {"EventDocVersion", "EventDocId", "CustomerId", "Events"}
# The types ``Reconciler`` can synthesise: the ones a second source may report.
OCCURRENCE_KEYED = frozenset({"AssignmentSubmitted", "AssignmentApproved", "AssignmentRejected", "HITReviewable"})
_EVENT_KEYS = {"EventType", "EventTimestamp", "HITTypeId", "HITId", "AssignmentId", "EventIndex"}


class MalformedNotification(ValueError):
    """The payload is not an MTurk notification document; the message says what is wrong."""


@dataclass(frozen=True)
class Event:
    event_type: str
    event_timestamp: datetime | None
    hit_type_id: str | None
    hit_id: str | None
    assignment_id: str | None
    doc_id: str
    index: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    # True for events the reconciliation sweeper made up for a notification that never came.
    synthesized: bool = False

    @property
    def key(self) -> tuple[str, int]:
        """What de-duplication is keyed on first: the ``occurrence`` if there is one, else the
        ``delivery``."""
        occurrence = self.occurrence
        return occurrence if occurrence is not None else self.delivery

    @property
    def delivery(self) -> tuple[str, int]:
        """The document's id and this event's place in it."""
        return (self.doc_id, self.index)

    @property
    def occurrence(self) -> tuple[str, int] | None:
        """(EventType:HITId:AssignmentId, epoch second) for an ``OCCURRENCE_KEYED`` event with a HITId
        and an EventTimestamp: the key a real event and the sweeper's twin of it share; else None."""
        if self.event_type in OCCURRENCE_KEYED and self.hit_id and self.event_timestamp is not None:
            happening = f"{self.event_type}:{self.hit_id}:{self.assignment_id or ''}"
            return (happening, int(self.event_timestamp.timestamp()))
        return None


@dataclass(frozen=True)
class Document:
    doc_id: str
    version: str | None
    customer_id: str | None
    events: tuple[Event, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)


def _timestamp(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedNotification(f"{where}.EventTimestamp must be a string, not {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedNotification(f"{where}.EventTimestamp {value!r} is not an ISO 8601 time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _optional_str(raw: Mapping[str, Any], name: str, where: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedNotification(f"{where}.{name} must be a string")
    return value


def parse_document(payload: str | bytes | Mapping[str, Any]) -> Document:
    """Parse one notification document (a JSON text or an already-decoded object)."""
    raw = _decode(payload, "document")
    if not isinstance(raw, Mapping):
        raise MalformedNotification("a notification document must be a JSON object")
    events_raw = raw.get("Events")
    if not isinstance(events_raw, list):
        raise MalformedNotification("a notification document needs an Events list")
    doc_id = raw.get("EventDocId")
    if doc_id is None:
        doc_id = "sha256:" + hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    elif not isinstance(doc_id, str) or not doc_id:
        raise MalformedNotification("EventDocId must be a non-empty string")
    events = []
    for position, item in enumerate(events_raw):
        where = f"Events[{position}]"
        if not isinstance(item, Mapping):
            raise MalformedNotification(f"{where} must be an object")
        # A document split by `openturk route` keeps each event's place in the original document.
        index = item.get("EventIndex", position)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise MalformedNotification(f"{where}.EventIndex must be a non-negative integer")
        event_type = item.get("EventType")
        if not isinstance(event_type, str) or not event_type:
            raise MalformedNotification(f"{where}.EventType is missing")
        events.append(
            Event(
                event_type=event_type,
                event_timestamp=_timestamp(item.get("EventTimestamp"), where),
                hit_type_id=_optional_str(item, "HITTypeId", where),
                hit_id=_optional_str(item, "HITId", where),
                assignment_id=_optional_str(item, "AssignmentId", where),
                doc_id=doc_id,
                index=index,
                extra={k: v for k, v in item.items() if k not in _EVENT_KEYS},
            )
        )
    return Document(
        doc_id=doc_id,
        version=_optional_str(raw, "EventDocVersion", "document"),
        customer_id=_optional_str(raw, "CustomerId", "document"),
        events=tuple(events),
        extra={k: v for k, v in raw.items() if k not in _DOCUMENT_KEYS},
    )


def _decode(payload: str | bytes | Mapping[str, Any], what: str) -> Any:
    if isinstance(payload, Mapping):
        return payload
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedNotification(f"the {what} is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # nested deeper than the parser goes: malformed, not a crash
        raise MalformedNotification(f"the {what} nests too deeply to be a notification") from exc


def _from_email(text: str) -> Document:
    start = text.find('{"EventDocVersion"')
    if start < 0:
        start = text.find("{")
    if start < 0:
        raise MalformedNotification("the email body holds no JSON notification document")
    try:
        raw, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError as exc:
        raise MalformedNotification(f"the email body's JSON document is not valid: {exc}") from exc
    except RecursionError as exc:
        raise MalformedNotification("the email body's JSON document nests too deeply") from exc
    return parse_document(raw)


def documents_from(payload: str | bytes | Mapping[str, Any]) -> list[Document]:
    """Every notification document in ``payload``, whatever shape carried it."""
    if isinstance(payload, (str, bytes)):
        try:
            text = payload.decode() if isinstance(payload, bytes) else payload
        except UnicodeDecodeError as exc:
            raise MalformedNotification(f"the payload is not UTF-8: {exc}") from exc
        if not text.lstrip().startswith(("{", "[")):
            return [_from_email(text)]
        raw = _decode(text, "payload")
    else:
        raw = payload
    if not isinstance(raw, Mapping):
        raise MalformedNotification("the payload must be a JSON object")
    if "Events" in raw:
        return [parse_document(raw)]
    if isinstance(raw.get("Records"), list):
        documents: list[Document] = []
        for index, record in enumerate(raw["Records"]):
            if not isinstance(record, Mapping):
                raise MalformedNotification(f"Records[{index}] must be an object")
            if isinstance(record.get("Sns"), Mapping):
                message = record["Sns"].get("Message", "")
                if not isinstance(message, str) or not message.lstrip().startswith("{"):
                    raise MalformedNotification(f"Records[{index}].Sns.Message is not a JSON notification document")
                documents.extend(documents_from(message))
            elif "body" in record:
                documents.extend(documents_from(record["body"]))
            else:
                raise MalformedNotification(f"Records[{index}] is neither an SNS nor an SQS record")
        return documents
    if raw.get("Type") == "Notification" and "Message" in raw:
        return documents_from(raw["Message"])
    if "Body" in raw:  # an SQS ReceiveMessage message
        return documents_from(raw["Body"])
    raise MalformedNotification(
        "the payload is not a notification document (no Events list), an SNS envelope, an SQS message or a Lambda event"
    )
