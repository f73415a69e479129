"""The SQS consumer in-process against moto's server: acks, duplicates, backoff, heartbeat, DLQ, stop."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from openturk.consumer import Event, Router
from openturk.consumer.sqs import ConsumerError, SQSConsumer, backoff_s
from openturk.notify.local_aws import LocalAWS
from tests.support.queues import document_body as body
from tests.support.queues import new_queue, sqs_client, wait_for
from tests.support.queues import queue_counts as counts


def receive_all(sqs: Any, queue_url: str, expected: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages.extend(response.get("Messages", []))
    assert len(messages) == expected, messages
    return messages


@contextmanager
def running(consumer: SQSConsumer) -> Iterator[SQSConsumer]:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the consumer did not stop"


def consumer_for(local_aws: LocalAWS, queue_url: str, router: Router, **options: Any) -> SQSConsumer:
    options = {"wait_seconds": 1, "failure_backoff_s": 0.0, **options}
    return SQSConsumer(queue_url, router, sqs_client=sqs_client(local_aws.url), **options)


def test_backoff_grows_with_receives_and_is_capped() -> None:
    assert [backoff_s(n, 2.0, 60) for n in (1, 2, 3, 4, 5, 6, 7)] == [2, 4, 8, 16, 32, 60, 60]
    assert backoff_s(3, 0.0, 60) == 0
    assert backoff_s(1, 0.3, 60) == 1  # SQS counts visibility in whole seconds
    assert backoff_s(10_000, 1.0, 10**9) == 43_200


def test_handles_typed_events_and_deletes_only_messages_that_fully_succeeded(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    for i in range(12):
        sqs.send_message(QueueUrl=queue, MessageBody=body(f"good-{i}", "HITCreated", "HITReviewable"))
    sqs.send_message(QueueUrl=queue, MessageBody=body("mixed", "HITCreated", "HITExpired"))
    router = Router()
    seen: list[Event] = []
    router.default(seen.append)

    @router.on("HITExpired")
    def refuse(event: Event) -> None:
        raise RuntimeError("cannot repost")

    with running(consumer_for(local_aws, queue, router, failure_backoff_s=60.0)) as consumer:
        wait_for(lambda: consumer.stats.handled == 12 and consumer.stats.failed == 1, what="12 handled, 1 failed")
        wait_for(lambda: counts(sqs, queue) == (0, 1), what="only the failed message left, hidden by its backoff")
    assert len(seen) == 25  # 24 good events and the mixed document's HITCreated
    assert all(e.event_timestamp and e.event_timestamp.tzinfo for e in seen)
    assert {(e.doc_id, e.event_type) for e in seen} >= {("mixed", "HITCreated"), ("good-0", "HITReviewable")}
    assert counts(sqs, queue) == (0, 1)  # never deleted


def test_the_same_document_sent_three_times_is_handled_once_and_every_copy_deleted(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    ids = {sqs.send_message(QueueUrl=queue, MessageBody=body("same-doc"))["MessageId"] for _ in range(3)}
    assert len(ids) == 3
    calls: list[str] = []
    router = Router()
    router.default(lambda e: calls.append(e.doc_id))
    with running(consumer_for(local_aws, queue, router)) as consumer:
        wait_for(lambda: consumer.stats.handled == 3 and counts(sqs, queue) == (0, 0), what="three copies deleted")
    assert calls == ["same-doc"]


def test_a_failed_message_is_visible_again_after_its_backoff(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody=body("flaky"))
    calls: list[float] = []

    def flaky(event: Event) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("database down")

    router = Router()
    router.default(flaky)
    with running(consumer_for(local_aws, queue, router, failure_backoff_s=1.0)) as consumer:
        wait_for(lambda: consumer.stats.handled == 1, what="the retry succeeded")
    assert len(calls) == 2
    assert 1.0 <= calls[1] - calls[0] < 5.0


def test_consumer_dead_letters_after_max_receives_with_the_error(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue, dlq = new_queue(sqs), new_queue(sqs)
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=body("poison", "HITExpired"),
        MessageAttributes={"EventTypes": {"DataType": "String", "StringValue": "HITExpired"}},
    )
    sqs.send_message(QueueUrl=queue, MessageBody="not json at all {")
    sqs.send_message(QueueUrl=queue, MessageBody=body("fine"))
    attempts: list[str] = []
    router = Router()

    @router.on("HITExpired")
    def refuse(event: Event) -> None:
        attempts.append(event.doc_id)
        raise RuntimeError("cannot repost")

    router.default(lambda e: attempts.append(e.doc_id))
    with running(consumer_for(local_aws, queue, router, dead_letter_queue_url=dlq, max_receives=3)) as consumer:
        wait_for(lambda: consumer.stats.dead_lettered == 2 and counts(sqs, queue) == (0, 0), what="two dead letters")
    assert attempts.count("poison") == 3 and attempts.count("fine") == 1
    moved = {m["Body"]: m for m in receive_all(sqs, dlq, 2)}
    poison = moved[body("poison", "HITExpired")]  # the original body, byte for byte
    assert "RuntimeError: cannot repost" in poison["MessageAttributes"]["openturk.error"]["StringValue"]
    assert poison["MessageAttributes"]["openturk.source"]["StringValue"] == queue
    assert poison["MessageAttributes"]["EventTypes"]["StringValue"] == "HITExpired"
    garbage = moved["not json at all {"]["MessageAttributes"]["openturk.error"]["StringValue"]
    assert garbage.startswith("MalformedNotification:")


def test_heartbeat_keeps_a_slow_handlers_message_hidden(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody=body("slow"))
    started, finish = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(event: Event) -> None:
        calls.append(event.doc_id)
        started.set()
        finish.wait(10)

    router = Router()
    router.default(slow)
    with running(consumer_for(local_aws, queue, router, visibility_timeout=1)) as consumer:
        assert started.wait(10)
        handler_ends = time.monotonic() + 2.5  # two and a half visibility timeouts
        while time.monotonic() < handler_ends:
            assert counts(sqs, queue) == (0, 1), "the message became visible while its handler ran"
            time.sleep(0.1)
        finish.set()
        wait_for(lambda: counts(sqs, queue) == (0, 0), what="the message deleted")
    assert calls == ["slow"] and consumer.stats.received == 1


def test_sender_check_rejects_another_sender_and_accepts_the_configured_one(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    probe = new_queue(sqs)
    sqs.send_message(QueueUrl=probe, MessageBody="probe")
    moto_sender = receive_all(sqs, probe, 1)[0]["Attributes"]["SenderId"]  # moto stamps one fixed id
    queue, dlq = new_queue(sqs), new_queue(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody=body("forged"))
    handled: list[str] = []
    router = Router()
    router.default(lambda e: handled.append(e.doc_id))
    strict = consumer_for(
        local_aws, queue, router, sender_id="AIDAEXAMPLEOTHER0000", dead_letter_queue_url=dlq, max_receives=1
    )
    with running(strict) as consumer:
        wait_for(lambda: consumer.stats.dead_lettered == 1, what="the message rejected")
    assert handled == []
    error = receive_all(sqs, dlq, 1)[0]["MessageAttributes"]["openturk.error"]["StringValue"]
    assert error.startswith("SenderRejected:") and moto_sender in error

    sqs.send_message(QueueUrl=queue, MessageBody=body("genuine"))
    with running(consumer_for(local_aws, queue, router, sender_id=moto_sender)) as consumer:
        wait_for(lambda: consumer.stats.handled == 1, what="the genuine message handled")
    assert handled == ["genuine"]


def test_handlers_run_in_parallel_up_to_the_concurrency(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    for i in range(4):
        sqs.send_message(QueueUrl=queue, MessageBody=body(f"p{i}"))
    together = threading.Barrier(4, timeout=10)  # broken unless four handlers run at once
    router = Router()
    router.default(lambda e: together.wait())
    with running(consumer_for(local_aws, queue, router, concurrency=4)) as consumer:
        wait_for(lambda: consumer.stats.handled == 4, what="four handled")
    assert consumer.stats.failed == 0


def test_stop_returns_unstarted_messages_at_once_and_lets_the_running_handler_finish(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    for i in range(5):
        sqs.send_message(QueueUrl=queue, MessageBody=body(f"s{i}"))
    started, finish = threading.Event(), threading.Event()
    handled: list[str] = []

    def slow(event: Event) -> None:
        started.set()
        finish.wait(10)
        handled.append(event.doc_id)

    router = Router()
    router.default(slow)
    consumer = consumer_for(local_aws, queue, router, visibility_timeout=60)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    assert started.wait(10)
    consumer.stop()
    wait_for(lambda: counts(sqs, queue) == (4, 1), timeout=5, what="four returned long before their 60 s")
    assert thread.is_alive()  # still waiting for the running handler
    finish.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(handled) == 1
    # The finished one was deleted; if the receiver's last long poll caught the four again, run()
    # waited for it to hand them back.
    assert counts(sqs, queue) == (4, 0)
    assert consumer.stats.returned >= 4


class _SlowAfterStop:
    """An SQS client whose receive_message, once the consumer is stopping, answers late: the last
    long poll catches what run() handed back and is still on its way back when run() would end."""

    def __init__(self, sqs: Any, stopping: threading.Event, delay_s: float) -> None:
        self._sqs, self._stopping, self._delay_s = sqs, stopping, delay_s
        self.caught_while_stopping = 0
        self.polls = 0
        self.waiting = threading.Event()  # set while a poll after the first is at SQS, unanswered

    def receive_message(self, **request: Any) -> Any:
        self.polls += 1
        if self.polls >= 2:
            self.waiting.set()
        try:
            response = self._sqs.receive_message(**request)
        finally:
            self.waiting.clear()
        if self._stopping.is_set() and response.get("Messages"):
            self.caught_while_stopping += len(response["Messages"])
            time.sleep(self._delay_s)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


def test_messages_the_last_long_poll_caught_while_stopping_are_back_in_the_queue_when_run_returns(
    local_aws: LocalAWS,
) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    for i in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody=body(f"r{i}"))
    started, finish = threading.Event(), threading.Event()

    def slow(event: Event) -> None:
        started.set()
        finish.wait(10)

    router = Router()
    router.default(slow)
    stopping = threading.Event()
    client = _SlowAfterStop(sqs_client(local_aws.url), stopping, delay_s=0.5)
    consumer = SQSConsumer(queue, router, sqs_client=client, wait_seconds=5, visibility_timeout=60)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    assert started.wait(10)
    # The receiver's next long poll is at SQS when the stop hands the two unstarted messages back (its
    # wait is 5 s: a poll that ended empty meanwhile is followed by another, which is waited for too).
    wait_for(client.waiting.is_set, timeout=5, what="the receiver's next long poll")
    assert counts(sqs, queue) == (0, 3)
    stopping.set()
    consumer.stop()
    finish.set()
    thread.join(timeout=15)
    assert not thread.is_alive()
    # The two unstarted ones went back at stop; the receiver's pending poll caught one or both of them
    # again (SQS answers a long poll with what is visible at that moment: the two become visible one
    # after the other), and run() waited for those to be handed back too.
    assert client.caught_while_stopping in (1, 2)
    assert counts(sqs, queue) == (2, 0)


def test_a_queue_that_does_not_exist_stops_the_consumer_with_an_error(local_aws: LocalAWS) -> None:
    missing = f"{local_aws.url}/123456789012/missing-{uuid.uuid4().hex[:8]}"
    consumer = consumer_for(local_aws, missing, Router())
    with pytest.raises(ConsumerError, match="cannot consume"):
        consumer.run()


def test_a_fifo_groups_later_messages_wait_for_its_failed_one_and_groups_run_apart(local_aws: LocalAWS) -> None:
    """SQS keeps a FIFO group's order only if the consumer does too: the batch holding a group's
    messages must not run the later ones while the first failed, nor run one group on two workers."""
    sqs = sqs_client(local_aws.url)
    queue = sqs.create_queue(QueueName=f"f-{uuid.uuid4().hex[:12]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for group in ("H1", "H2"):
        for step in ("a", "b", "c"):
            sqs.send_message(
                QueueUrl=queue,
                MessageBody=body(f"{group}-{step}"),
                MessageGroupId=group,
                MessageDeduplicationId=f"{group}-{step}",
            )
    order: list[str] = []
    busy: set[str] = set()
    overlapped: list[str] = []
    lock = threading.Lock()
    failed_once = threading.Event()

    def handle(event: Event) -> None:
        group = event.doc_id.split("-")[0]
        with lock:
            if group in busy:
                overlapped.append(event.doc_id)
            busy.add(group)
        try:
            time.sleep(0.02)
            if event.doc_id == "H1-a" and not failed_once.is_set():
                failed_once.set()
                raise RuntimeError("first try fails")
            with lock:
                order.append(event.doc_id)
        finally:
            with lock:
                busy.discard(group)

    router = Router()
    router.default(handle)
    with running(consumer_for(local_aws, queue, router, concurrency=4)):
        wait_for(lambda: len(order) == 6, timeout=20, what="all six handled")
    assert failed_once.is_set()
    assert [d for d in order if d.startswith("H1")] == ["H1-a", "H1-b", "H1-c"]
    assert [d for d in order if d.startswith("H2")] == ["H2-a", "H2-b", "H2-c"]
    assert overlapped == []
    wait_for(lambda: counts(sqs, queue) == (0, 0), timeout=10, what="every message deleted")


def test_a_queue_url_off_aws_names_its_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """``openturk tail --queue-url http://127.0.0.1:8444/…`` went to AWS's SQS without --aws-endpoint."""
    from openturk.consumer.sqs import local_endpoint_of, make_sqs_client

    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"):  # boto3 reads them itself
        monkeypatch.delenv(variable, raising=False)

    assert local_endpoint_of("http://127.0.0.1:8444/123456789012/mturk-events") == "http://127.0.0.1:8444"
    assert local_endpoint_of("https://localhost.localstack.cloud:4566/000000000000/q") == (
        "https://localhost.localstack.cloud:4566"
    )
    for aws in (
        "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        "https://queue.amazonaws.com/123456789012/q",
        "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
        "not a url",
        "http://127.0.0.1:99999/q",
    ):
        assert local_endpoint_of(aws) is None
    local = make_sqs_client(queue_url="http://127.0.0.1:8444/123456789012/q", environ={})
    assert local.meta.endpoint_url == "http://127.0.0.1:8444"
    named = make_sqs_client("http://127.0.0.1:9000", queue_url="http://127.0.0.1:8444/123456789012/q", environ={})
    assert named.meta.endpoint_url == "http://127.0.0.1:9000"  # an endpoint given wins
    real = make_sqs_client(queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/q", environ={})
    assert real.meta.endpoint_url == "https://sqs.eu-west-1.amazonaws.com"
    # The queue's own region before the environment's default (botocore does not follow the QueueUrl).
    elsewhere = {"AWS_DEFAULT_REGION": "ap-south-1"}
    assert make_sqs_client(queue_url="https://sqs.eu-west-1.amazonaws.com/1/q", environ=elsewhere).meta.region_name == (
        "eu-west-1"
    )
