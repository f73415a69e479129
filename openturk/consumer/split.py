"""Split a mixed notification queue into per-event-type queues, as the seeds suggest.

MTurk sends every event type of a HIT type to one destination. ``Splitter`` pulls each message from
the source queue and republishes its document into target queues chosen by event type:

- each target gets **one document per source document**, holding only that target's events, with
  the original ``EventDocId``, ``EventDocVersion``, ``CustomerId``, any other document field, and
  every event's own fields unchanged;
- each event carries ``EventIndex``, its position in the *original* document (kept when it already
  has one, so splitting twice is stable), because a split document renumbers its events and
  consumers de-duplicate by (EventDocId, event index);
- each message carries the ``EventTypes`` and ``HITTypeId`` message attributes openturk sends
  (``String.Array``: JSON arrays, so SNS filter policies match any one of them), computed for the
  events it holds;
- the source message is deleted only after every target accepted its part (SendMessageBatch
  reported it Successful). Otherwise it stays in the source queue and is made visible again after a
  backoff; the parts already accepted are sent again on the next try, with the same EventDocId and
  EventIndex, which consumers drop as duplicates. Re-running is therefore harmless.

DECISION: an event no ``--to`` names goes to the default target when one is given, and is otherwise
dropped with a WARNING log line (like an event type left out of a notification specification). A
message that is not a notification document is never deleted: it is logged and made visible again
after the backoff, so the queue's RedrivePolicy moves it to its dead-letter queue. Every type a
``--to`` names must be an ``EventType`` of botocore's ``mturk`` model (Ping included): a misspelt
one would never match and its events would be dropped (or defaulted) for ever.

Receiving: an error no retry can fix (``sqs.FATAL_CODES``: the source queue does not exist, access
is denied) raises ``SourceUnavailable``; any other ReceiveMessage error is logged and retried after
a capped exponential backoff (``sqs.backoff_s``), cut short by ``stop``.

An SNS envelope (SNS→SQS without raw delivery) is unwrapped; what is republished is the bare
document, as SQS notifications carry it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from openturk.consumer.events import MalformedNotification, parse_document
from openturk.consumer.sqs import FATAL_CODES, backoff_s

log = logging.getLogger("openturk.consumer.route")

SQS_BATCH = 10
# SendMessageBatch's total payload limit is 256 KiB; leave room for attributes and JSON framing.
MAX_BATCH_BYTES = 240 * 1024
MAX_VISIBILITY_S = 43_200
# ReceiveMessage retries: 1 s doubling to 30 s, as ``consume``'s receiver waits.
RECEIVE_RETRY_BASE_S = 1.0
RECEIVE_RETRY_CAP_S = 30.0


class RouteError(ValueError):
    """A routing table that cannot work; the message names the offending ``--to``/``--default``."""


class SourceUnavailable(RuntimeError):
    """The source queue cannot be read at all (it does not exist, access is denied)."""


@cache
def event_types() -> tuple[str, ...]:
    """The ``EventType`` values of botocore's ``mturk`` model, Ping included.

    Read from the model, as the server's ``api.enums`` does, because the toolkit imports nothing from
    the server; through botocore's loader rather than a session, so a broken AWS profile does not
    matter here.
    """
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    model = ServiceModel(create_loader().load_service_model("mturk", "service-2"))
    return tuple(model.shape_for("EventType").enum)


def _check_event_type(name: str, spec: str) -> None:
    known = event_types()
    if name in known:
        return
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise RouteError(f"--to {spec!r}: {name!r} is not an MTurk event type{hint}; the types are {', '.join(known)}")


@dataclass(frozen=True)
class RouteTable:
    """Which target queues each event type goes to (several types may share a target, and a type may
    go to several targets), and where other events go (``default``; None drops them)."""

    routes: Mapping[str, tuple[str, ...]]
    default: str | None = None

    @classmethod
    def parse(cls, specs: Sequence[str], default: str | None = None, source: str | None = None) -> RouteTable:
        """From ``EventType[,EventType...]=QUEUE_URL`` strings; raises ``RouteError`` for a malformed
        spec, a name that is no MTurk event type, or a target that is the source."""
        routes: dict[str, list[str]] = {}
        for spec in specs:
            types, sep, target = spec.partition("=")
            names = [name.strip() for name in types.split(",") if name.strip()]
            if not sep or not target.strip() or not names:
                raise RouteError(f"--to {spec!r} must look like EventType[,EventType...]=QUEUE_URL")
            for name in names:
                _check_event_type(name, spec)
                targets = routes.setdefault(name, [])
                if target.strip() not in targets:
                    targets.append(target.strip())
        table = cls({name: tuple(targets) for name, targets in routes.items()}, default or None)
        if source is not None and source in table.targets():
            raise RouteError(f"the source queue {source} is also a target: its messages would be routed forever")
        return table

    def targets_for(self, event_type: str) -> tuple[str, ...]:
        targets = self.routes.get(event_type)
        if targets:
            return targets
        return (self.default,) if self.default else ()

    def targets(self) -> set[str]:
        every = {target for targets in self.routes.values() for target in targets}
        return every | ({self.default} if self.default else set())


@dataclass(frozen=True)
class Part:
    """One target's share of one source document, ready to send."""

    target: str
    doc_id: str
    body: str
    event_types: tuple[str, ...]  # distinct, in document order
    hit_type_ids: tuple[str, ...]
    first_hit_id: str | None

    def attributes(self) -> dict[str, dict[str, str]]:
        """The message attributes openturk itself sends, so SNS filters and consumers still work."""
        return {
            "EventTypes": {"DataType": "String.Array", "StringValue": json.dumps(list(self.event_types))},
            "HITTypeId": {"DataType": "String.Array", "StringValue": json.dumps(list(self.hit_type_ids))},
        }

    def entry(self, entry_id: str) -> dict[str, Any]:
        """A SendMessageBatch entry; FIFO targets get a group (the first HIT) and a deduplication id."""
        entry: dict[str, Any] = {"Id": entry_id, "MessageBody": self.body, "MessageAttributes": self.attributes()}
        if self.target.endswith(".fifo"):
            entry["MessageGroupId"] = self.first_hit_id or "openturk-route"
            entry["MessageDeduplicationId"] = hashlib.sha256(self.doc_id.encode()).hexdigest()
        return entry


@dataclass(frozen=True)
class Split:
    doc_id: str
    parts: list[Part]
    dropped: list[Mapping[str, Any]] = field(default_factory=list)  # events no target takes


def raw_document(body: str | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The notification document in an SQS body (unwrapping an SNS envelope) and its id, validated
    by ``parse_document``, so a malformed one raises ``MalformedNotification`` naming what is wrong."""
    try:
        raw = json.loads(body) if isinstance(body, str) else dict(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise MalformedNotification(f"the message body is not valid JSON: {exc}") from exc
    if isinstance(raw, dict) and raw.get("Type") == "Notification" and isinstance(raw.get("Message"), str):
        return raw_document(raw["Message"])
    doc_id = parse_document(raw).doc_id
    assert isinstance(raw, dict)  # parse_document accepts nothing else
    return raw, doc_id


def split(body: str | Mapping[str, Any], table: RouteTable) -> Split:
    """Share one document's events among the table's targets (pure; raises ``MalformedNotification``)."""
    raw, doc_id = raw_document(body)
    by_target: dict[str, list[dict[str, Any]]] = {}
    dropped: list[Mapping[str, Any]] = []
    for index, event in enumerate(raw["Events"]):
        targets = table.targets_for(event["EventType"])
        if not targets:
            dropped.append(event)
            continue
        entry = {**event, "EventIndex": event.get("EventIndex", index)}
        for target in targets:
            by_target.setdefault(target, []).append(entry)
    parts = []
    for target, events in by_target.items():
        document = {**raw, "Events": events}
        parts.append(
            Part(
                target=target,
                doc_id=doc_id,
                body=json.dumps(document, separators=(",", ":")),
                event_types=tuple(dict.fromkeys(str(e["EventType"]) for e in events)),
                hit_type_ids=tuple(dict.fromkeys(str(e["HITTypeId"]) for e in events if e.get("HITTypeId"))),
                first_hit_id=next((str(e["HITId"]) for e in events if e.get("HITId")), None),
            )
        )
    return Split(doc_id, parts, dropped)


def retry_delay(receive_count: int, base_s: float, cap_s: float) -> int:
    """Seconds a message that could not be routed stays invisible: doubling per receive, capped."""
    return int(min(cap_s, base_s * 2 ** max(receive_count - 1, 0), MAX_VISIBILITY_S))


@dataclass
class Report:
    """What a run did, for logs and the CLI's exit status."""

    documents: int = 0  # source messages routed and deleted
    parts: int = 0  # documents accepted by targets
    dropped: int = 0  # events no target takes
    kept: int = 0  # source messages left in the queue to try again
    kept_ids: set[str] = field(default_factory=set)


class Splitter:
    """Route messages from ``source`` through ``table`` with one SQS client (``sqs``)."""

    def __init__(
        self,
        sqs: Any,
        source: str,
        table: RouteTable,
        *,
        wait_s: int = 20,
        retry_base_s: float = 5.0,
        retry_cap_s: float = 300.0,
    ) -> None:
        if source in table.targets():
            raise RouteError(f"the source queue {source} is also a target: its messages would be routed forever")
        self.sqs, self.source, self.table = sqs, source, table
        self.wait_s, self.retry_base_s, self.retry_cap_s = wait_s, retry_base_s, retry_cap_s

    def receive(self, wait_s: int | None = None) -> list[dict[str, Any]]:
        """One ReceiveMessage call. Raises ``SourceUnavailable`` for an error no retry can fix; any
        other error of the call propagates (``run`` retries it)."""
        from botocore.exceptions import ClientError

        try:
            response = self.sqs.receive_message(
                QueueUrl=self.source,
                MaxNumberOfMessages=SQS_BATCH,
                WaitTimeSeconds=self.wait_s if wait_s is None else wait_s,
                AttributeNames=["ApproximateReceiveCount"],
            )
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in FATAL_CODES:
                raise SourceUnavailable(f"cannot read the source queue {self.source}: {exc}") from exc
            raise
        return list(response.get("Messages", []))

    def route(self, messages: Sequence[Mapping[str, Any]], report: Report | None = None) -> Report:
        """Route one received batch: send every part, then delete the messages all of whose parts
        were accepted; make the others visible again after the backoff."""
        report = report if report is not None else Report()
        pending: dict[str, list[tuple[str, Part]]] = {}  # target → (entry id, part)
        failed: set[int] = set()
        dropped = 0
        for position, message in enumerate(messages):
            try:
                result = split(message["Body"], self.table)
            except MalformedNotification as exc:
                log.error(
                    "message %s is not a notification document, left for the queue's redrive: %s",
                    message.get("MessageId"),
                    exc,
                )
                failed.add(position)
                continue
            for event in result.dropped:
                log.warning(
                    "no target for %s of document %s (HIT %s): dropped",
                    event.get("EventType"),
                    result.doc_id,
                    event.get("HITId"),
                )
            dropped += len(result.dropped)
            for number, part in enumerate(result.parts):
                pending.setdefault(part.target, []).append((f"{position}-{number}", part))
        accepted = 0
        for target, entries in pending.items():
            for chunk in _chunks(entries):
                refused = self._send(target, chunk)
                accepted += len(chunk) - len(refused)
                failed.update(int(entry_id.split("-")[0]) for entry_id in refused)
        done = [m for i, m in enumerate(messages) if i not in failed]
        kept = [m for i, m in enumerate(messages) if i in failed]
        self._delete(done)
        self._postpone(kept)
        report.documents += len(done)
        report.parts += accepted
        report.dropped += dropped
        report.kept += len(kept)
        report.kept_ids.update(str(m["MessageId"]) for m in kept)
        return report

    def run(self, stop: threading.Event, *, seconds: float | None = None, once: bool = False) -> Report:
        """Route until ``stop`` is set or ``seconds`` pass; with ``once``, until the queue is empty
        (a message that failed in this run is not tried again in it).

        A failed ReceiveMessage is retried after ``backoff_s`` (the wait ends early when ``stop`` is
        set or ``seconds`` run out); raises ``SourceUnavailable`` when no retry can help.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        report = Report()
        attempted: set[str] = set()
        deadline = None if seconds is None else time.monotonic() + seconds
        errors = 0  # ReceiveMessage failures in a row
        while not stop.is_set():
            wait = self.wait_s
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = min(wait, max(int(left), 0))
            try:
                messages = self.receive(min(wait, 1) if once else wait)
            except (ClientError, BotoCoreError) as exc:
                errors += 1
                delay: float = backoff_s(errors, RECEIVE_RETRY_BASE_S, RECEIVE_RETRY_CAP_S)
                if deadline is not None:
                    delay = min(delay, max(deadline - time.monotonic(), 0.0))
                log.warning("ReceiveMessage on %s failed (%s); retrying in %.0fs", self.source, exc, delay)
                stop.wait(delay)
                continue
            errors = 0
            if once:
                again = [m for m in messages if m["MessageId"] in attempted]
                self._postpone(again)
                messages = [m for m in messages if m["MessageId"] not in attempted]
                if not messages:
                    break
                attempted.update(str(m["MessageId"]) for m in messages)
            if messages:
                self.route(messages, report)
        return report

    def _send(self, target: str, chunk: list[tuple[str, Part]]) -> list[str]:
        """Send one batch to ``target``; return the entry ids it did not accept."""
        try:
            response = self.sqs.send_message_batch(
                QueueUrl=target, Entries=[part.entry(entry_id) for entry_id, part in chunk]
            )
        except Exception as exc:  # noqa: BLE001 - any failure of the call refuses the whole batch; it is retried
            log.error("target %s refused %d document(s): %s", target, len(chunk), exc)
            return [entry_id for entry_id, _ in chunk]
        ok = {str(item["Id"]) for item in response.get("Successful", [])}
        for item in response.get("Failed", []):
            log.error("target %s refused a document: %s %s", target, item.get("Code"), item.get("Message"))
        return [entry_id for entry_id, _ in chunk if entry_id not in ok]

    def _delete(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if not messages:
            return
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        try:
            response = self.sqs.delete_message_batch(QueueUrl=self.source, Entries=entries)
        except Exception as exc:  # noqa: BLE001 - not deleted means routed again later, which is harmless
            log.warning("could not delete %d routed message(s); they will be routed again: %s", len(entries), exc)
            return
        for item in response.get("Failed", []):
            log.warning("could not delete a routed message; it will be routed again: %s", item.get("Message"))

    def _postpone(self, messages: Sequence[Mapping[str, Any]]) -> None:
        for message in messages:
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            delay = retry_delay(receives, self.retry_base_s, self.retry_cap_s)
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.source, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=delay
                )
            except Exception as exc:  # noqa: BLE001 - it then reappears after the queue's own visibility timeout
                log.warning("could not postpone message %s: %s", message.get("MessageId"), exc)


def _chunks(entries: list[tuple[str, Part]]) -> list[list[tuple[str, Part]]]:
    """SendMessageBatch-sized runs: at most 10 entries and ``MAX_BATCH_BYTES`` of bodies."""
    chunks: list[list[tuple[str, Part]]] = []
    current: list[tuple[str, Part]] = []
    size = 0
    for entry in entries:
        length = len(entry[1].body.encode())
        if current and (len(current) >= SQS_BATCH or size + length > MAX_BATCH_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(entry)
        size += length
    if current:
        chunks.append(current)
    return chunks
