"""Run a Router in AWS Lambda, triggered by an SNS topic or an SQS queue.

    router = Router(dedup=open_dedup(os.environ["DEDUP_URL"]))
    handler = lambda_handler(router)            # the function's handler: module.handler

SNS events (``Records[].Sns.Message``): every record is handled; if a handler failed or a message
is malformed or of another CustomerId (``Router(customer_id=...)``), the handler raises, so Lambda
retries the invocation and at last sends the event to the function's on-failure destination —
never a silent success. On the retry the de-duplication store skips the events already handled.

SQS events (``Records[].body``, an SNS envelope or the raw document): each record stands alone;
the ones that failed, malformed ones and any unexpected error (a dedup store down, a body nested too
deeply to parse) included, are logged with their messageId and answered as
``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}`` so only they return to the queue
(and reach its dead-letter queue by its RedrivePolicy). DECISION (FIFO sources, an
``eventSourceARN`` ending in ``.fifo``): after the first failed record no later record of the batch
is handled; they are all reported as failed, whatever their MessageGroupId, so SQS hands them back
in order. This is AWS's guidance for FIFO partial batch responses and what Powertools'
``SqsFifoPartialProcessor`` does by default. Failing only the failed record's MessageGroupId would
let other groups go on, but a FIFO batch holds at most 10 records, and stopping the batch keeps
every group's order without trusting each record's attributes. DECISION: this needs
``FunctionResponseTypes: ["ReportBatchItemFailures"]`` on the event source mapping; without it
Lambda ignores the answer and deletes the whole batch, so ``report_batch_item_failures=False``
raises instead and the whole batch comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from openturk.consumer.events import Event, MalformedNotification, documents_from
from openturk.consumer.router import ForeignCustomer, HandlerFailed, Router

log = logging.getLogger("openturk.consumer.lambda")

BatchResponse = dict[str, list[dict[str, str]]]
LambdaHandler = Callable[[Mapping[str, Any], Any], BatchResponse | None]


class SQSBatchFailed(Exception):
    """Some messages of an SQS batch failed and partial failures are not reported: retry the batch."""

    def __init__(self, message_ids: list[str], batch_size: int) -> None:
        self.message_ids = message_ids
        super().__init__(f"{len(message_ids)} of {batch_size} SQS messages failed: {', '.join(message_ids)}")


def _handle(router: Router, payload: Any, where: str) -> None:
    """Handle every document in ``payload``; raise MalformedNotification, ForeignCustomer or HandlerFailed."""
    if not isinstance(payload, (str, bytes, Mapping)):
        raise MalformedNotification(f"{where} is not a notification")
    failures: list[tuple[Event, BaseException | None]] = []
    for document in documents_from(payload):
        try:
            router.handle_document(document)
        except HandlerFailed as exc:
            failures.extend(exc.failures)
    if failures:
        raise HandlerFailed(failures)


def _is_sns(record: Mapping[str, Any]) -> bool:
    return isinstance(record.get("Sns"), Mapping)


def _is_sqs(record: Mapping[str, Any]) -> bool:
    return "body" in record and not _is_sns(record)


def _from_fifo(record: Mapping[str, Any]) -> bool:
    return str(record.get("eventSourceARN", "")).endswith(".fifo")


def _records(event: Any) -> list[Mapping[str, Any]]:
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not all(isinstance(record, Mapping) for record in records):
        raise MalformedNotification("the Lambda event has no Records list of objects")
    return records


def _handle_sns(router: Router, records: list[Mapping[str, Any]]) -> None:
    failures: list[tuple[Event, BaseException | None]] = []
    malformed: list[str] = []
    for index, record in enumerate(records):
        where = f"Records[{index}].Sns.Message"
        try:
            _handle(router, record["Sns"].get("Message"), where)
        except (MalformedNotification, ForeignCustomer) as exc:
            malformed.append(f"{where}: {exc}")
        except HandlerFailed as exc:
            failures.extend(exc.failures)
    if failures:
        log.error("SNS event failed: %s", HandlerFailed(failures))
    if malformed:
        raise MalformedNotification("; ".join(malformed))
    if failures:
        raise HandlerFailed(failures)


def _handle_sqs(router: Router, records: list[Mapping[str, Any]], report: bool) -> BatchResponse:
    ids = [record.get("messageId") for record in records]
    if not all(isinstance(message_id, str) and message_id for message_id in ids):
        raise MalformedNotification("an SQS record has no messageId, so its failure could not be reported")
    failed: list[dict[str, str]] = []
    for index, (record, message_id) in enumerate(zip(records, ids, strict=True)):
        if failed and _from_fifo(record):
            log.error("SQS message %s not handled: an earlier message of this FIFO batch failed", message_id)
            failed.append({"itemIdentifier": str(message_id)})
            continue
        try:
            _handle(router, record["body"], f"Records[{index}].body")
        except (MalformedNotification, HandlerFailed, ForeignCustomer) as exc:
            log.error("SQS message %s failed: %s: %s", message_id, type(exc).__name__, exc)
            failed.append({"itemIdentifier": str(message_id)})
        except Exception:
            # One record's surprise must not fail the records already handled nor stop the others.
            log.error("SQS message %s failed: unexpected error", message_id, exc_info=True)
            failed.append({"itemIdentifier": str(message_id)})
    if failed and not report:
        raise SQSBatchFailed([item["itemIdentifier"] for item in failed], len(records))
    return {"batchItemFailures": failed}


def lambda_handler(router: Router, *, report_batch_item_failures: bool = True) -> LambdaHandler:
    """A Lambda handler ``handler(event, context)`` running ``router`` on SNS or SQS events.

    Raises MalformedNotification for an event that is neither (or mixes both).
    """

    def handler(event: Mapping[str, Any], context: Any) -> BatchResponse | None:
        records = _records(event)
        if all(_is_sns(record) for record in records) and records:
            _handle_sns(router, records)
            return None
        if all(_is_sqs(record) for record in records):
            return _handle_sqs(router, records, report_batch_item_failures)
        raise MalformedNotification("the Lambda event's Records are neither all SNS nor all SQS records")

    return handler


__all__ = ["SQSBatchFailed", "lambda_handler"]
