"""``consume`` as real processes: moto's SQS server, consumer processes, and the openturk server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess
from tests.conftest import HTML_QUESTION, new_worker
from tests.support.queues import document_body as body
from tests.support.queues import new_queue, sqs_client, wait_for
from tests.support.queues import queue_counts as counts

# The maintainer wires consume/tail into openturk.cli; this driver runs the same register/run pair.
DRIVER = (
    "import sys, argparse; from openturk.consumer import cli; p = argparse.ArgumentParser(); "
    "cli.register(p.add_subparsers(dest='command')); sys.exit(cli.run(p.parse_args(sys.argv[1:])))"
)
HANDLERS = '''
import os
import time

from openturk.consumer import Event, Router


def record(event: Event) -> None:
    """One O_APPEND line per handled event, so lines from several processes never interleave."""
    line = " ".join([str(os.getpid()), event.doc_id, str(event.index), event.event_type, str(event.hit_id),
                     str(event.assignment_id), type(event.event_timestamp).__name__,
                     str(event.event_timestamp is not None and event.event_timestamp.tzinfo is not None)])
    fd = os.open(os.environ["CONSUME_OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)
    time.sleep(float(os.environ.get("CONSUME_DELAY", "0")))


router = Router()


@router.on("HITExpired")
def cannot_repost(event: Event) -> None:
    raise RuntimeError(f"cannot repost {event.hit_id}")


router.default(record)
'''


def lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


class Consumer:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process, self.log = process, log

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        return "consuming" in self.log.read_text()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    return tmp_path


@contextmanager
def consumer(workdir: Path, *args: str, delay: float = 0.0, endpoint: str | None = None) -> Iterator[Consumer]:
    """A ``consume`` process run from ``workdir`` (where handlers.py is); stopped with SIGTERM at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CONSUME_OUT=str(workdir / "handled.txt"), CONSUME_DELAY=str(delay))
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    log = workdir / f"consumer-{uuid.uuid4().hex[:6]}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, "consume", "--wait-seconds", "1", "--failure-backoff", "0", *args],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Consumer(process, log)
    try:
        wait_for(running.ready, what="the consumer started")
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                raise


def in_memory(queue: str, local_aws: LocalAWS) -> list[str]:
    """``consume`` options for ``handlers:record`` on ``queue`` with an in-memory store."""
    return ["--queue-url", queue, "--handler", "handlers:record", "--aws-endpoint", local_aws.url, "--dedup", "memory:"]


def receive_all(sqs: Any, queue_url: str, expected: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        messages.extend(response.get("Messages", []))
    assert len(messages) == expected, messages
    return messages


def test_one_document_delivered_three_times_is_handled_once(local_aws: LocalAWS, workdir: Path) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    message_ids = {sqs.send_message(QueueUrl=queue, MessageBody=body("doc-3x"))["MessageId"] for _ in range(3)}
    assert len(message_ids) == 3
    # The endpoint from AWS_ENDPOINT_URL, no credentials in the environment: placeholders are used.
    with consumer(
        workdir,
        "--queue-url",
        queue,
        "--handler",
        "handlers:record",
        "--dedup",
        str(workdir / "seen.db"),
        endpoint=local_aws.url,
    ):
        wait_for(lambda: counts(sqs, queue) == (0, 0), what="every copy deleted")
    assert [line[1] for line in lines(workdir / "handled.txt")] == ["doc-3x"]


def test_two_consumer_processes_sharing_a_store_handle_each_event_exactly_once(
    local_aws: LocalAWS, workdir: Path
) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    common = [
        "--queue-url",
        queue,
        "--handler",
        "handlers:record",
        "--aws-endpoint",
        local_aws.url,
        "--dedup",
        f"sqlite:///{workdir / 'seen.db'}",
        "--concurrency",
        "2",
    ]
    with consumer(workdir, *common, delay=0.02), consumer(workdir, *common, delay=0.02):
        for copy in range(3):  # every document three times, each copy a distinct SQS message
            for start in range(0, 30, 10):
                entries = [
                    {"Id": str(i), "MessageBody": body(f"d{i}", "HITCreated", "HITReviewable")}
                    for i in range(start, start + 10)
                ]
                assert not sqs.send_message_batch(QueueUrl=queue, Entries=entries).get("Failed"), copy
        wait_for(lambda: counts(sqs, queue) == (0, 0), timeout=30, what="all 90 messages deleted")
    handled = lines(workdir / "handled.txt")
    keys = sorted((line[1], line[2]) for line in handled)
    assert keys == sorted((f"d{i}", str(index)) for i in range(30) for index in (0, 1))  # 60 events, once each
    assert len({line[0] for line in handled}) == 2  # both processes did part of the work


@pytest.mark.parametrize("dead_letters_by", ["RedrivePolicy", "consumer"])
def test_a_failing_handler_sends_its_message_to_the_dead_letter_queue_and_the_rest_is_handled(
    local_aws: LocalAWS, workdir: Path, dead_letters_by: str
) -> None:
    sqs = sqs_client(local_aws.url)
    dlq = new_queue(sqs)
    options: list[str] = []
    if dead_letters_by == "RedrivePolicy":
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = new_queue(sqs, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    else:
        queue = new_queue(sqs)
        options = ["--dead-letter-queue", dlq, "--max-receives", "2"]
    for i in range(5):
        sqs.send_message(QueueUrl=queue, MessageBody=body(f"good-{i}"))
    poison = body("poison", "HITReviewable", "HITExpired")  # one good event, one that always fails
    sqs.send_message(QueueUrl=queue, MessageBody=poison)
    with consumer(
        workdir,
        "--queue-url",
        queue,
        "--handler",
        "handlers:router",
        "--aws-endpoint",
        local_aws.url,
        "--dedup",
        str(workdir / "seen.db"),
        *options,
    ):
        [moved] = receive_all(sqs, dlq, 1)
        wait_for(lambda: counts(sqs, queue) == (0, 0), what="the source queue emptied")
    assert moved["Body"] == poison  # never silently deleted: the very message, in the dead-letter queue
    if dead_letters_by == "consumer":
        attributes = moved["MessageAttributes"]
        assert "RuntimeError: cannot repost H-poison-1" in attributes["openturk.error"]["StringValue"]
        assert attributes["openturk.source"]["StringValue"] == queue
    handled = sorted((line[1], line[3]) for line in lines(workdir / "handled.txt"))
    # the poison document's good event ran once although the document was received twice
    assert handled == sorted([(f"good-{i}", "HITReviewable") for i in range(5)] + [("poison", "HITReviewable")])


def test_sigterm_exits_0_and_returns_unstarted_messages_at_once(local_aws: LocalAWS, workdir: Path) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    for i in range(6):
        sqs.send_message(QueueUrl=queue, MessageBody=body(f"t{i}"))
    with consumer(
        workdir,
        "--queue-url",
        queue,
        "--handler",
        "handlers:record",
        "--aws-endpoint",
        local_aws.url,
        "--dedup",
        "memory:",
        "--visibility-timeout",
        "120",
        delay=1.5,
    ) as running:
        wait_for(lambda: len(lines(workdir / "handled.txt")) == 1, what="the first handler started")
        running.process.send_signal(signal.SIGTERM)
        wait_for(lambda: counts(sqs, queue)[0] == 5, timeout=5, what="five messages visible long before 120 s")
        assert running.process.wait(timeout=10) == 0, running.log.read_text()
    assert len(lines(workdir / "handled.txt")) == 1
    assert counts(sqs, queue) == (5, 0)  # the in-flight one finished and was deleted
    assert "returned 5 unstarted message(s)" in running.log.read_text()


def test_sigterm_stops_an_idle_consumer_within_2_seconds_without_waiting_out_its_long_poll(
    local_aws: LocalAWS, workdir: Path
) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody=body("before-idle"))
    with consumer(
        workdir,
        *in_memory(queue, local_aws),
        "--wait-seconds",
        "20",
    ) as running:
        # Once the message is handled and deleted, the receiver is in its next 20 s long poll.
        wait_for(lambda: len(lines(workdir / "handled.txt")) == 1, what="the message handled")
        wait_for(lambda: counts(sqs, queue) == (0, 0), what="the message deleted")
        started = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=10) == 0, running.log.read_text()
        stopped_in = time.monotonic() - started
    assert stopped_in < 2.0, f"took {stopped_in:.2f}s"
    print(f"idle consumer stopped {stopped_in:.2f}s after SIGTERM")


def test_sigterm_returns_the_message_of_a_handler_outliving_the_shutdown_timeout(
    local_aws: LocalAWS, workdir: Path
) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody=body("slow"))
    with consumer(
        workdir,
        *in_memory(queue, local_aws),
        "--visibility-timeout",
        "120",
        "--shutdown-timeout",
        "1",
        delay=60,
    ) as running:
        wait_for(lambda: len(lines(workdir / "handled.txt")) == 1, what="the handler started")
        started = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=10) == 0, running.log.read_text()
        stopped_in = time.monotonic() - started
    assert 1.0 <= stopped_in < 3.0, f"took {stopped_in:.2f}s"
    # Not deleted, and visible again at once rather than after the 120 s visibility timeout.
    wait_for(lambda: counts(sqs, queue) == (1, 0), timeout=5, what="the unfinished message back in the queue")
    assert "still running after the 1.0s shutdown timeout" in running.log.read_text()


def test_documents_of_another_customer_are_refused_and_dead_lettered(local_aws: LocalAWS, workdir: Path) -> None:
    sqs = sqs_client(local_aws.url)
    queue, dlq = new_queue(sqs), new_queue(sqs)
    mine = json.loads(body("mine"))
    mine["CustomerId"] = "A1REQUESTER"
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(mine))
    sqs.send_message(QueueUrl=queue, MessageBody=body("theirs"))  # CustomerId C1
    with consumer(
        workdir,
        *in_memory(queue, local_aws),
        "--customer-id",
        "A1REQUESTER",
        "--dead-letter-queue",
        dlq,
        "--max-receives",
        "1",
    ) as running:
        [moved] = receive_all(sqs, dlq, 1)
        wait_for(lambda: counts(sqs, queue) == (0, 0), what="the source queue emptied")
    assert moved["Body"] == body("theirs")
    error = moved["MessageAttributes"]["openturk.error"]["StringValue"]
    assert error.startswith("ForeignCustomer: document theirs: CustomerId 'C1'") and "A1REQUESTER" in error
    assert [line[1] for line in lines(workdir / "handled.txt")] == ["mine"]
    assert "refused: document theirs" in running.log.read_text()


def test_notifications_from_real_hit_activity_reach_typed_handlers(
    server: ServerProcess, mturk: Any, local_aws: LocalAWS, workdir: Path
) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    type_id = mturk.create_hit_type(
        Title="Consume me",
        Description="d",
        Reward="0.10",
        AssignmentDurationInSeconds=60,
        AutoApprovalDelayInSeconds=3600,
    )["HITTypeId"]
    events = ["HITCreated", "AssignmentAccepted", "AssignmentSubmitted", "HITReviewable"]
    mturk.update_notification_settings(
        HITTypeId=type_id,
        Active=True,
        Notification={"Destination": queue, "Transport": "SQS", "Version": "2014-08-15", "EventTypes": events},
    )
    with consumer(
        workdir,
        "--queue-url",
        queue,
        "--handler",
        "handlers:router",
        "--aws-endpoint",
        local_aws.url,
        "--dedup",
        str(workdir / "seen.db"),
        "--concurrency",
        "2",
    ):
        hit_id = mturk.create_hit_with_hit_type(
            HITTypeId=type_id, LifetimeInSeconds=600, MaxAssignments=1, Question=HTML_QUESTION
        )["HIT"]["HITId"]
        assignment_id = new_worker(server).do(hit_id)
        wait_for(lambda: {line[3] for line in lines(workdir / "handled.txt")} == set(events), what="four events")
        wait_for(lambda: counts(sqs, queue) == (0, 0), what="every message deleted")
    handled = {line[3]: line for line in lines(workdir / "handled.txt")}
    assert len(lines(workdir / "handled.txt")) == 4
    assert all(line[4] == hit_id and line[6:] == ["datetime", "True"] for line in handled.values())
    assert handled["AssignmentSubmitted"][5] == assignment_id
    assert handled["HITReviewable"][5] == "None"


def test_sender_check_rejects_a_message_from_another_sender(local_aws: LocalAWS, workdir: Path) -> None:
    """moto stamps every message with one fixed SenderId (AIDAIT2UOQQY3AUEKVGXU) whatever the sending
    credentials, so "another sender" here is a consumer configured for a different identity."""
    sqs = sqs_client(local_aws.url)
    queue, dlq = new_queue(sqs), new_queue(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody=body("forged"))
    with consumer(
        workdir,
        "--queue-url",
        queue,
        "--handler",
        "handlers:record",
        "--aws-endpoint",
        local_aws.url,
        "--dedup",
        "memory:",
        "--sender-id",
        "AIDAEXAMPLEOTHER0000",
        "--dead-letter-queue",
        dlq,
        "--max-receives",
        "1",
    ) as running:
        [moved] = receive_all(sqs, dlq, 1)
    assert moved["Body"] == body("forged")
    error = moved["MessageAttributes"]["openturk.error"]["StringValue"]
    assert error.startswith("SenderRejected: SenderId") and "AIDAEXAMPLEOTHER0000" in error
    assert lines(workdir / "handled.txt") == []
    assert "rejected: SenderId" in running.log.read_text()


def test_tail_prints_events_as_they_arrive_and_deletes_nothing(local_aws: LocalAWS, workdir: Path) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody=body("first", "HITCreated", "HITReviewable"))
    tail = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DRIVER,
            "tail",
            "--queue-url",
            queue,
            "--aws-endpoint",
            local_aws.url,
            "--count",
            "3",
            "--seconds",
            "20",
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert tail.stdout is not None
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(tail.stdout or []), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("document first" in line for line in output), what="the first document printed")
        sqs.send_message(QueueUrl=queue, MessageBody=body("second", "AssignmentSubmitted"))
        assert tail.wait(timeout=20) == 0, "".join(output)
        reader.join(timeout=5)
    finally:
        tail.kill()
    text = "".join(output)
    assert text.count("message ") == 2 and "document second" in text
    assert [word for word in text.split() if word in ("HITCreated", "HITReviewable", "AssignmentSubmitted")] == [
        "HITCreated",
        "HITReviewable",
        "AssignmentSubmitted",
    ]
    wait_for(lambda: counts(sqs, queue) == (2, 0), timeout=3, what="both messages visible again at once")


def test_a_handler_that_cannot_be_loaded_exits_2(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from openturk.consumer import cli

    monkeypatch.chdir(workdir)
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_router puts the current directory on it
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    queue = ["--queue-url", "http://127.0.0.1:1/q"]
    try:
        for spec in ("handlers:missing", "no_such_module:record", "handlers"):
            assert cli.run(parser.parse_args(["consume", *queue, "--handler", spec])) == 2
        # --dead-letter-queue without --max-receives, and the reverse
        for pair in (["--dead-letter-queue", "x"], ["--max-receives", "3"]):
            args = parser.parse_args(["consume", *queue, "--handler", "handlers:record", *pair])
            assert cli.run(args) == 2
    finally:
        sys.modules.pop("handlers", None)  # imported from workdir by load_router


def run_driver(workdir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``consume``/``tail`` as a process run from ``workdir``, to its end (bounded)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-c", DRIVER, *argv], cwd=workdir, env=env, capture_output=True, text=True, timeout=60
    )


def test_tail_of_a_missing_queue_exits_1_with_one_error_line(local_aws: LocalAWS, workdir: Path) -> None:
    missing = new_queue(sqs_client(local_aws.url)).rsplit("/", 1)[0] + f"/missing-{uuid.uuid4().hex[:12]}"
    done = run_driver(workdir, "tail", "--queue-url", missing, "--aws-endpoint", local_aws.url, "--seconds", "20")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error cannot tail {missing}: An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling "
        "the GetQueueAttributes operation: The specified queue does not exist."
    ]


def test_tail_shows_a_body_nested_too_deeply_as_not_a_notification_and_goes_on(
    local_aws: LocalAWS, workdir: Path
) -> None:
    sqs = sqs_client(local_aws.url)
    queue = new_queue(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody="[" * 100_000 + "]" * 100_000)
    sqs.send_message(QueueUrl=queue, MessageBody=body("after", "HITReviewable"))
    done = run_driver(workdir, "tail", "--queue-url", queue, "--aws-endpoint", local_aws.url, "--count", "1")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "not a notification" in done.stdout and "nests too deeply" in done.stdout
    assert "document after" in done.stdout


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--dedup", "bogus://x", "cannot be opened: NoSuchModuleError: "),
        ("--dedup", "/nonexist/dir/x.db", "cannot be opened: OperationalError: "),
        ("--handler", "broken_syntax:record", "importing 'broken_syntax' raised SyntaxError: "),
        ("--handler", "raises_at_import:record", "importing 'raises_at_import' raised RuntimeError: no config"),
        ("--handler", "exits_at_import:record", "importing 'exits_at_import' raised SystemExit: 3"),
        ("--handler", "interrupts_at_import:record", "importing 'interrupts_at_import' raised KeyboardInterrupt"),
    ],
)
def test_a_store_that_cannot_be_opened_or_a_handler_module_that_raises_exits_2_with_one_error_line(
    workdir: Path, option: str, value: str, message: str
) -> None:
    (workdir / "broken_syntax.py").write_text("def record(event:\n")
    (workdir / "raises_at_import.py").write_text('raise RuntimeError("no config")\n')
    (workdir / "exits_at_import.py").write_text("import sys\nsys.exit(3)\n")
    (workdir / "interrupts_at_import.py").write_text("raise KeyboardInterrupt\n")
    options = {"--handler": "handlers:record", "--dedup": "memory:", option: value}
    argv = [item for pair in options.items() for item in pair]
    done = run_driver(workdir, "consume", "--queue-url", "http://127.0.0.1:1/000000000000/q", *argv)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error {option} {value!r}") and message in line, line
