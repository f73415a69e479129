"""Consume notifications from an SQS queue: long polling, visibility heartbeat, backoff, dead letters.

    consumer = SQSConsumer(queue_url, router, concurrency=4)
    consumer.run()          # until consumer.stop() (or the given stop_event is set)

Contract:
- A message is deleted only when every handler of every event in it succeeded or had already
  succeeded (the router's de-duplication by EventDocId and event index). Deletes go off the workers'
  path in ``DeleteMessageBatch`` calls of up to 10, at most ``ACK_LINGER_S`` after the ack. A failed
  delete loses nothing: the message comes back and its events are skipped as duplicates.
- A message that fails — a handler raised, an event is claimed by another consumer, the body is not
  a notification document, or the sender check rejected it — is never deleted: it is made visible
  again after a backoff that grows with ``ApproximateReceiveCount`` (``backoff_s``). It reaches a
  dead-letter queue either through the queue's own RedrivePolicy (the consumer just does not delete
  it) or, with ``dead_letter_queue_url`` and ``max_receives``, through the consumer: on the
  ``max_receives``-th failed receive it sends the original body, byte for byte, to the DLQ with the
  message attributes ``openturk.error`` (the error) and ``openturk.source`` (this queue's URL) and
  only then deletes it here.
- While a message is held (waiting for a worker or being handled), its visibility is extended
  (``ChangeMessageVisibilityBatch``) once half of ``visibility_timeout`` has passed, so a slow
  handler is never run twice at once because its message became visible.
- Sender check (``sender_id``): a message whose SQS ``SenderId`` attribute is not the configured
  sending identity is rejected — logged, treated as failed, so it ends in the dead-letter queue and
  its handlers never run. A SenderId of the form ``AROA…:session`` (an assumed role) matches a
  configured ``AROA…`` id. Note: moto's SQS stamps every message with one fixed SenderId,
  whatever credentials sent it.
- ``concurrency`` worker threads handle messages in parallel; one receiver thread long-polls ahead
  (about one batch beyond what the workers hold), so receiving overlaps handling.
- ``stop()`` stops receiving and returns messages not yet started at once (visibility 0); ``run``
  returns within about 0.1 s when nothing is being handled — it does not wait for the long poll in
  progress: whatever that poll brings is returned at once by the receiver thread (if the process
  ends first, those messages come back after ``visibility_timeout``). Handlers already running are
  given ``shutdown_timeout_s`` to finish and are acknowledged; the messages of those still running
  then are returned (visibility 0) without being deleted, so nothing is lost — their events' claims
  stay held while those handlers live, so a new consumer meets them as BUSY until they finish or,
  if the process exits, until the claims lapse (``claim_ttl_s``).
- A document of another CustomerId (``Router(customer_id=...)``) fails like a rejected sender.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import queue
import re
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openturk.consumer.events import MalformedNotification, documents_from
from openturk.consumer.router import ForeignCustomer, HandlerFailed, Router

log = logging.getLogger("openturk.consumer.sqs")

MAX_BATCH = 10  # SQS's limit for ReceiveMessage, DeleteMessageBatch and ChangeMessageVisibilityBatch
MAX_VISIBILITY_S = 43_200
MAX_ATTRIBUTE_TEXT = 4096
ACK_LINGER_S = 0.05  # longest an acknowledged message waits for others to share its DeleteMessageBatch
STOP_POLL_S = 0.1  # how often ``run`` looks at the stop flag: the idle shutdown's latency
# How long ``run`` waits, after handing messages back, for a long poll that may have caught them
# again: SQS answers a long poll as soon as messages are visible, so this is only a backstop.
RECEIVER_GRACE_S = 2.0
PLACEHOLDER_KEY = "openturk-consumer"
# Errors no retry can fix: the consumer stops and ``run`` raises ConsumerError.
FATAL_CODES = {
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAddress",
    "InvalidClientTokenId",
    "InvalidSecurity",
}
_QUEUE_HOST = re.compile(r"^https?://(?:sqs\.([a-z0-9-]+)\.amazonaws\.com|([a-z0-9-]+)\.queue\.amazonaws\.com)")


class ConsumerError(RuntimeError):
    """The queue cannot be consumed at all (it does not exist, access is denied)."""


class SenderRejected(Exception):
    """The message's SenderId is not the configured sending identity."""


def backoff_s(receive_count: int, base_s: float, cap_s: float) -> int:
    """Seconds a failed message stays invisible after its ``receive_count``-th receive.

    ``base_s · 2^(receive_count−1)``, capped by ``cap_s`` and SQS's 12 h, in whole seconds (SQS's unit).
    """
    if base_s <= 0:
        return 0
    exponent = min(max(receive_count, 1) - 1, 32)
    return int(min(math.ceil(base_s * 2**exponent), cap_s, MAX_VISIBILITY_S))


def credentials_configured(environ: Mapping[str, str]) -> bool:
    """Whether the environment names AWS credentials (without asking any metadata service)."""
    if environ.get("AWS_ACCESS_KEY_ID") or environ.get("AWS_PROFILE"):
        return True
    shared = environ.get("AWS_SHARED_CREDENTIALS_FILE") or str(Path.home() / ".aws" / "credentials")
    return Path(shared).exists()


def endpoint_url(text: str) -> str:
    """An ``--aws-endpoint`` as argparse takes it: an http(s) URL with a host, else a usage error
    (exit 2) rather than botocore's ValueError when the client is made."""
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def local_endpoint_of(queue_url: str) -> str | None:
    """``scheme://host:port`` of a queue URL that is not on AWS's hosts (moto, LocalStack, openturk's
    embedded endpoint): the only endpoint that queue can be reached at. None for AWS's own."""
    try:
        parts = urllib.parse.urlsplit(queue_url)
        parts.port  # noqa: B018  (raises for a port that is not one)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def make_sqs_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    *,
    queue_url: str | None = None,
    max_pool_connections: int = 10,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """A boto3 SQS client: the usual AWS variables honoured (AWS_ENDPOINT_URL[_SQS] included), else a
    queue URL off AWS's hosts (``http://127.0.0.1:8444/…``, the embedded endpoint's) names its endpoint.

    The region comes from ``region``, a real queue URL's host, AWS_REGION / AWS_DEFAULT_REGION, else
    us-east-1. With an endpoint and no credentials in the environment, placeholder keys are used
    (local endpoints such as moto accept any).
    """
    import boto3
    from botocore.config import Config

    env = os.environ if environ is None else environ
    endpoint = (
        endpoint_url
        or env.get("AWS_ENDPOINT_URL_SQS")
        or env.get("AWS_ENDPOINT_URL")
        or local_endpoint_of(queue_url or "")
    )
    from_url = _QUEUE_HOST.match(queue_url or "")
    region = (
        region
        # An AWS queue URL names the only region its queue is in: before the environment's default.
        or (from_url and (from_url.group(1) or from_url.group(2)))
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    keys: dict[str, str] = {}
    if endpoint and not credentials_configured(env):
        keys = {"aws_access_key_id": PLACEHOLDER_KEY, "aws_secret_access_key": PLACEHOLDER_KEY}
    config = Config(max_pool_connections=max_pool_connections, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("sqs", endpoint_url=endpoint, region_name=region, config=config, **keys)


@dataclass
class Stats:
    """Counts of messages, for logs, tests and benchmarks."""

    received: int = 0
    handled: int = 0  # every event succeeded (or was a duplicate): deleted
    failed: int = 0  # left for a retry (or dead-lettered)
    dead_lettered: int = 0  # moved by this consumer to dead_letter_queue_url
    returned: int = 0  # handed back unstarted at shutdown
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)


@dataclass
class _Held:
    message: dict[str, Any]
    visible_until: float  # time.monotonic() when SQS may hand the message to someone else

    @property
    def receipt(self) -> str:
        return str(self.message["ReceiptHandle"])

    @property
    def receive_count(self) -> int:
        return int(self.message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))


class SQSConsumer:
    def __init__(
        self,
        queue_url: str,
        router: Router,
        *,
        sqs_client: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        concurrency: int = 1,
        wait_seconds: int = 20,
        batch_size: int = MAX_BATCH,
        visibility_timeout: int = 30,
        failure_backoff_s: float = 2.0,
        max_backoff_s: float = 900.0,
        dead_letter_queue_url: str | None = None,
        max_receives: int | None = None,
        sender_id: str | None = None,
        shutdown_timeout_s: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        if not 0 <= wait_seconds <= 20:
            raise ValueError("wait_seconds must be 0..20")
        if not 1 <= visibility_timeout <= MAX_VISIBILITY_S:
            raise ValueError(f"visibility_timeout must be 1..{MAX_VISIBILITY_S} seconds")
        if (dead_letter_queue_url is None) != (max_receives is None):
            raise ValueError("dead_letter_queue_url and max_receives go together")
        if max_receives is not None and max_receives < 1:
            raise ValueError("max_receives must be at least 1")
        if shutdown_timeout_s < 0:
            raise ValueError("shutdown_timeout_s must not be negative")
        self.queue_url, self.router = queue_url, router
        self.sqs = sqs_client or make_sqs_client(
            endpoint_url, region, queue_url=queue_url, max_pool_connections=concurrency + 4
        )
        self.concurrency, self.wait_seconds, self.batch_size = concurrency, wait_seconds, batch_size
        self.visibility_timeout = visibility_timeout
        self.failure_backoff_s, self.max_backoff_s = failure_backoff_s, max_backoff_s
        self.dead_letter_queue_url, self.max_receives = dead_letter_queue_url, max_receives
        self.sender_id, self.shutdown_timeout_s = sender_id, shutdown_timeout_s
        self.stats = Stats()
        self._stop = threading.Event()
        # Each item is one MessageGroupId's messages of one receive, in order (a standard queue's
        # messages each alone): a FIFO group is handled by one worker, in order, and stops at a failure.
        self._work: queue.Queue[list[_Held] | None] = queue.Queue()
        self._held: dict[str, _Held] = {}  # receipt handle → message, from receive until ack or failure
        self._acks: list[_Held] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # an ack arrived or fewer messages are held
        self._visibility_lock = threading.Lock()  # a heartbeat never overrides a failure's backoff
        self._fatal: ConsumerError | None = None
        self._closing = False  # under _lock: the receiver hands nothing more to the workers

    # -- lifecycle --------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run`` to shut down gracefully; safe from any thread and from a signal handler."""
        self._stop.set()

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Consume until stopped. Raises ConsumerError if the queue cannot be consumed at all."""
        if stop_event is not None:
            self._stop = stop_event
        workers = [
            threading.Thread(target=self._work_loop, name=f"openturk-sqs-worker-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        receiver = threading.Thread(target=self._receive_loop, name="openturk-sqs-receiver", daemon=True)
        heartbeat_done, acks_done = threading.Event(), threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat_loop, args=(heartbeat_done,), name="openturk-sqs-heartbeat", daemon=True
        )
        acker = threading.Thread(target=self._ack_loop, args=(acks_done,), name="openturk-sqs-acker", daemon=True)
        for thread in (*workers, receiver, heartbeat, acker):
            thread.start()
        log.info("consuming %s with %d worker(s)", self.queue_url, self.concurrency)
        while not self._stop.wait(STOP_POLL_S):
            pass
        with self._lock:
            self._closing = True
        returned_before_stop = self.stats.returned
        self._return_unstarted()
        for _ in workers:
            self._work.put(None)
        deadline = time.monotonic() + self.shutdown_timeout_s
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self._return_unfinished(sum(worker.is_alive() for worker in workers))
        self._return_unstarted()
        # The receiver is not waited for in general: a long poll can take wait_seconds, and it returns
        # what it brings itself once it sees _closing. But the messages just handed back are visible
        # at once and its pending poll is the likeliest to catch them; were the process to exit before
        # it hands them back, they would stay hidden for their whole visibility timeout.
        if self.stats.returned > returned_before_stop and receiver.is_alive():
            receiver.join(RECEIVER_GRACE_S)
        with self._changed:
            acks_done.set()
            self._changed.notify_all()
        acker.join()
        heartbeat_done.set()
        heartbeat.join()
        log.info("stopped: %s", self.stats)
        if self._fatal is not None:
            raise self._fatal

    # -- receiving --------------------------------------------------------------------------------------------

    def _receive_loop(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        prefetch = max(self.batch_size, self.concurrency)
        errors = 0
        while not self._stop.is_set():
            if self._work.qsize() >= prefetch:
                self._stop.wait(0.005)  # enough is waiting for a worker; do not hide more from others
                continue
            started = time.monotonic()
            try:
                response = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.batch_size,
                    WaitTimeSeconds=self.wait_seconds,
                    VisibilityTimeout=self.visibility_timeout,
                    AttributeNames=["ApproximateReceiveCount", "SenderId", "MessageGroupId"],
                    MessageAttributeNames=["All"],
                )
            except ClientError as exc:
                if self._stop.is_set():  # a poll outliving stop(): nothing waits for its answer
                    return
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in FATAL_CODES:
                    self._fatal = ConsumerError(f"cannot consume {self.queue_url}: {exc}")
                    log.error("%s", self._fatal)
                    self._stop.set()
                    return
                errors += 1
                log.warning("ReceiveMessage failed (%s); retrying", exc)
                self._stop.wait(min(30.0, 0.5 * 2**errors))
                continue
            except BotoCoreError as exc:
                errors += 1
                log.warning("ReceiveMessage failed (%s); retrying", exc)
                self._stop.wait(min(30.0, 0.5 * 2**errors))
                continue
            errors = 0
            held = [_Held(message, started + self.visibility_timeout) for message in response.get("Messages", [])]
            if not held:
                continue
            self.stats.add(received=len(held))
            with self._lock:
                closing = self._closing
                if not closing:
                    self._held.update((h.receipt, h) for h in held)
                    for group in _in_groups(held):
                        self._work.put(group)
            if closing:  # the poll outlived stop(): possibly the very messages stop() returned
                self._change_visibility(held, 0)
                self.stats.add(returned=len(held))
                log.info("returned %d message(s) received while stopping", len(held))
                return

    # -- handling ---------------------------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while True:
            group = self._work.get()
            if group is None:
                return
            # SQS keeps the rest of a FIFO group behind a message that failed or was not started:
            # handed back now, they come again after it, in order.
            for at, held in enumerate(group):
                if self._stop.is_set():
                    self._give_back(group[at:])
                    break
                if not self._process(held):  # failed: it keeps its backoff; only the rest go back
                    self._give_back(group[at + 1 :])
                    break

    def _process(self, held: _Held) -> bool:
        """Handle one message; False when it failed and stays in the queue for a retry."""
        try:
            self._check_sender(held.message)
            for document in documents_from(held.message["Body"]):
                self.router.handle_document(document)
        except (HandlerFailed, MalformedNotification, SenderRejected, ForeignCustomer) as exc:
            return self._failed(held, exc)
        except Exception as exc:
            log.error("message %s: unexpected error", held.message.get("MessageId"), exc_info=True)
            return self._failed(held, exc)
        self._acknowledge(held)
        self.stats.add(handled=1)
        return True

    def _check_sender(self, message: Mapping[str, Any]) -> None:
        if self.sender_id is None:
            return
        sender = message.get("Attributes", {}).get("SenderId")
        if sender == self.sender_id or (sender and str(sender).split(":", 1)[0] == self.sender_id):
            return
        log.warning(
            "message %s rejected: SenderId %r is not the configured sender %r",
            message.get("MessageId"),
            sender,
            self.sender_id,
        )
        raise SenderRejected(f"SenderId {sender!r} is not the configured sender {self.sender_id!r}")

    def _failed(self, held: _Held, exc: BaseException) -> bool:
        """Dead-letter the message (True: it left the queue) or leave it for a retry after its backoff."""
        error = f"{type(exc).__name__}: {exc}"
        self.stats.add(failed=1)
        receives = held.receive_count
        if self.max_receives is not None and receives >= self.max_receives and self._dead_letter(held, error):
            return True
        delay = backoff_s(receives, self.failure_backoff_s, self.max_backoff_s)
        log.warning(
            "message %s failed (receive %d), visible again in %ds: %s",
            held.message.get("MessageId"),
            receives,
            delay,
            error,
        )
        with self._visibility_lock:
            self._let_go([held])
            self._change_visibility([held], delay)
        return False

    def _dead_letter(self, held: _Held, error: str) -> bool:
        """Move the message to the consumer's dead-letter queue; False if the DLQ refused it."""
        from botocore.exceptions import BotoCoreError, ClientError

        assert self.dead_letter_queue_url is not None
        attributes = {  # the original's, as SendMessage takes them; SQS allows 10 in all
            name: {key: value[key] for key in ("DataType", "StringValue", "BinaryValue") if key in value}
            for name, value in list(held.message.get("MessageAttributes", {}).items())[:8]
        }
        attributes["openturk.error"] = {"DataType": "String", "StringValue": error[:MAX_ATTRIBUTE_TEXT]}
        attributes["openturk.source"] = {"DataType": "String", "StringValue": self.queue_url}
        extra: dict[str, str] = {}
        if self.dead_letter_queue_url.endswith(".fifo"):
            group = held.message.get("Attributes", {}).get("MessageGroupId", "openturk-dead-letters")
            extra = {"MessageGroupId": group, "MessageDeduplicationId": str(held.message["MessageId"])}
        try:
            self.sqs.send_message(
                QueueUrl=self.dead_letter_queue_url,
                MessageBody=held.message["Body"],
                MessageAttributes=attributes,
                **extra,
            )
        except (ClientError, BotoCoreError) as exc:
            log.error("could not dead-letter message %s: %s", held.message.get("MessageId"), exc)
            return False
        log.warning(
            "message %s dead-lettered after %d receives: %s", held.message.get("MessageId"), held.receive_count, error
        )
        self._acknowledge(held)
        self.stats.add(dead_lettered=1)
        return True

    # -- acknowledging and visibility -------------------------------------------------------------------------

    def _let_go(self, held: list[_Held]) -> None:
        with self._changed:
            for item in held:
                self._held.pop(item.receipt, None)
            self._changed.notify_all()

    def _acknowledge(self, held: _Held) -> None:
        with self._changed:
            self._held.pop(held.receipt, None)
            self._acks.append(held)
            self._changed.notify_all()

    def _ack_loop(self, done: threading.Event) -> None:
        """Delete acknowledged messages in batches, off the workers' path.

        A batch goes when it is full, when no other message is held (nothing more is coming soon), at
        shutdown, or ACK_LINGER_S after its first ack.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        while True:
            with self._changed:
                while not self._acks and not done.is_set():
                    self._changed.wait(0.5)
                if not self._acks:
                    return
                linger_until = time.monotonic() + ACK_LINGER_S
                while len(self._acks) < MAX_BATCH and self._held and not done.is_set():
                    remaining = linger_until - time.monotonic()
                    if remaining <= 0:
                        break
                    self._changed.wait(remaining)
                batch, self._acks = self._acks[:MAX_BATCH], self._acks[MAX_BATCH:]
            entries = [{"Id": str(i), "ReceiptHandle": h.receipt} for i, h in enumerate(batch)]
            try:
                response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                # Not lost: the messages come back and de-duplication skips their events.
                log.warning("DeleteMessageBatch failed (%s); the messages will be skipped when redelivered", exc)
                continue
            for failure in response.get("Failed", []):
                log.warning("could not delete a handled message: %s", failure.get("Message", failure))

    def _return_unstarted(self) -> None:
        waiting: list[_Held] = []
        while True:
            try:
                item = self._work.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                waiting.extend(item)
        self._give_back(waiting)

    def _return_unfinished(self, running: int) -> None:
        """After the shutdown timeout: hand back, undeleted, the messages whose handlers still run."""
        if not running:
            return
        with self._lock:
            unfinished = list(self._held.values())
        log.warning(
            "%d handler(s) still running after the %ss shutdown timeout: returning %d message(s) undeleted",
            running,
            self.shutdown_timeout_s,
            len(unfinished),
        )
        self._give_back(unfinished)

    def _give_back(self, held: list[_Held]) -> None:
        if not held:
            return
        with self._visibility_lock:
            self._let_go(held)
            self._change_visibility(held, 0)
        self.stats.add(returned=len(held))
        log.info("returned %d unstarted message(s) to the queue", len(held))

    def _heartbeat_loop(self, done: threading.Event) -> None:
        period = min(5.0, max(0.1, self.visibility_timeout / 10))
        while not done.wait(period):
            now = time.monotonic()
            with self._visibility_lock:
                with self._lock:
                    due = [h for h in self._held.values() if h.visible_until - now < self.visibility_timeout / 2]
                if due:
                    for extended in self._change_visibility(due, self.visibility_timeout):
                        extended.visible_until = now + self.visibility_timeout

    def _change_visibility(self, held: list[_Held], seconds: int) -> list[_Held]:
        """ChangeMessageVisibilityBatch; returns the messages SQS accepted the change for."""
        from botocore.exceptions import BotoCoreError, ClientError

        changed: list[_Held] = []
        for start in range(0, len(held), MAX_BATCH):
            batch = held[start : start + MAX_BATCH]
            entries = [
                {"Id": str(i), "ReceiptHandle": h.receipt, "VisibilityTimeout": seconds} for i, h in enumerate(batch)
            ]
            try:
                response = self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                log.warning("ChangeMessageVisibilityBatch failed: %s", exc)
                continue
            ok = {entry["Id"] for entry in response.get("Successful", [])}
            changed.extend(h for i, h in enumerate(batch) if str(i) in ok)
            for failure in response.get("Failed", []):
                log.debug("visibility not changed: %s", failure)
        return changed


def _in_groups(held: list[_Held]) -> list[list[_Held]]:
    """One receive's messages as work items: a FIFO queue's by MessageGroupId, each group in the
    order SQS gave them; a standard queue's (no group) one by one."""
    groups: dict[str, list[_Held]] = {}
    items: list[list[_Held]] = []
    for item in held:
        group_id = item.message.get("Attributes", {}).get("MessageGroupId")
        if group_id is None:
            items.append([item])
        elif group_id in groups:
            groups[group_id].append(item)
        else:
            groups[group_id] = [item]
            items.append(groups[group_id])
    return items


__all__ = ["ConsumerError", "SQSConsumer", "SenderRejected", "Stats", "backoff_s", "make_sqs_client"]
