"""bench/scale.py's load: producer processes (threads calling CreateHIT or SendMessage) and the receiver.

Both run as spawned child processes driven by commands on a multiprocessing queue; see
``bench/scale.py`` for the phases they serve and how their figures are read.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import threading
import time
from typing import Any

from bench.measure import lean_mturk_client, lean_sqs_client, mturk_client, sqs_client

HTML_QUESTION = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
    "<HTMLContent><![CDATA[<!DOCTYPE html><html><body><form><input name='answer'></form></body></html>]]>"
    "</HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>"
)
ACCESS_KEY = "AKIDBENCHSCALE000001"
MAX_LOOP = 10_000_000  # hard bound on every loop, on top of its deadline
# (key, start, end) of one acknowledged call, wall-clock seconds.
Record = tuple[str, float, float]


def _call(kind: str, target: tuple[str, ...], sqs_url: str) -> Any:
    """A function key → key that makes one event: CreateHIT through the API, or a bare SendMessage.

    ``kind`` is "openturk" or "bare", then ":boto3" (each thread its own boto3 client) or ":lean"
    (``SignedJSONClient``: the same signed wire request for a fraction of the client's CPU)."""
    product, _, client = kind.partition(":")
    lean = client == "lean"
    if product == "openturk":
        server_url, hit_type_id = target
        params = {"HITTypeId": hit_type_id, "MaxAssignments": 1, "LifetimeInSeconds": 3600, "Question": HTML_QUESTION}
        if lean:
            signed = lean_mturk_client(server_url, ACCESS_KEY)
            signed.call("GetAccountBalance", {})  # connect before the clock starts

            def create_hit_lean(_key: str) -> str:
                return str(signed.call("CreateHITWithHITType", params)["HIT"]["HITId"])

            return create_hit_lean
        mturk = mturk_client(server_url, ACCESS_KEY)
        mturk.get_account_balance()

        def create_hit(_key: str) -> str:
            return str(mturk.create_hit_with_hit_type(**params)["HIT"]["HITId"])

        return create_hit
    queue_url = target[0]

    def body(key: str) -> str:
        return json.dumps(
            {
                "EventDocVersion": "2014-08-15",
                "EventDocId": key,
                "CustomerId": "bare",
                "Events": [{"EventType": "HITCreated", "HITTypeId": "bare", "HITId": key}],
            }
        )

    if lean:
        signed_sqs = lean_sqs_client(sqs_url)
        signed_sqs.call("GetQueueAttributes", {"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]})

        def send_lean(key: str) -> str:
            signed_sqs.call("SendMessage", {"QueueUrl": queue_url, "MessageBody": body(key)})
            return key

        return send_lean
    sqs = sqs_client(sqs_url)
    sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])

    def send(key: str) -> str:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body(key))
        return key

    return send


def producer_main(index: int, processes: int, threads: int, sqs_url: str, commands: Any, results: Any) -> None:
    """One producer process of ``threads`` threads, each with its own client, run on command:

    ("schedule", kind, target, t0, rate, total, tag): thread k of process p takes events i ≡ p·threads + k
    (mod processes·threads) of the shared schedule; ("flood", kind, target, t0, seconds, tag, flooders):
    ``flooders`` threads (``threads`` if None) each call as fast as they can until t0 + seconds."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    client_lock = threading.Lock()  # boto3's default session is not safe to make clients from concurrently
    results.put(("ready", index, None))
    for _ in range(MAX_LOOP):
        try:
            command = commands.get(timeout=1800)
        except queue.Empty:
            return  # parent vanished
        if command[0] == "stop":
            return
        count = (command[6] or threads) if command[0] == "flood" else threads
        parts: list[dict[str, Any]] = [{} for _ in range(count)]

        def run(slot: int, command: tuple[Any, ...] = command, parts: list[dict[str, Any]] = parts) -> None:
            records: list[Record] = []
            errors, first_error = 0, None
            try:
                with client_lock:
                    call = _call(command[1], command[2], sqs_url)
                if command[0] == "schedule":
                    _, _, _, t0, rate, total, tag = command
                    stride = processes * threads
                    for i in range(index * threads + slot, total, stride):
                        delay = t0 + i / rate - time.time()
                        if delay > 0:
                            time.sleep(delay)  # pacing the schedule, not waiting for a result
                        start = time.time()
                        try:
                            key = call(f"{tag}-{i:07d}")
                        except Exception as error:
                            errors += 1
                            first_error = first_error or f"{type(error).__name__}: {error}"
                            continue
                        records.append((key, start, time.time()))
                else:
                    _, _, _, t0, seconds, tag, _ = command
                    delay = t0 - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    end = t0 + seconds
                    for n in range(MAX_LOOP):
                        start = time.time()
                        if start >= end:
                            break
                        try:
                            key = call(f"{tag}-{index}-{slot}-{n:07d}")
                        except Exception as error:
                            errors += 1
                            first_error = first_error or f"{type(error).__name__}: {error}"
                            continue
                        records.append((key, start, time.time()))
            except BaseException as error:
                errors += 1
                first_error = first_error or f"setup: {type(error).__name__}: {error}"
            parts[slot] = {"records": records, "errors": errors, "first_error": first_error}

        workers = [threading.Thread(target=run, args=(slot,), daemon=True) for slot in range(count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        results.put(
            (
                "done",
                index,
                {
                    "records": [r for part in parts for r in part.get("records", [])],
                    "errors": sum(part.get("errors", 1) for part in parts),
                    "first_error": next((p["first_error"] for p in parts if p.get("first_error")), None),
                },
            )
        )


def _receiving(client: str, sqs_url: str, queue_url: str) -> tuple[Any, Any]:
    """(receive, delete) for one receiver thread: a long poll of up to 10 messages, and a batch delete;
    with boto3, or ("lean") with ``SignedJSONClient`` (the same requests for less of the receiver's CPU)."""
    if client == "lean":
        lean = lean_sqs_client(sqs_url)

        def receive_lean() -> list[dict[str, Any]]:
            answer = lean.call(
                "ReceiveMessage", {"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}
            )
            return list(answer.get("Messages", []))

        def delete_lean(entries: list[dict[str, str]]) -> None:
            lean.call("DeleteMessageBatch", {"QueueUrl": queue_url, "Entries": entries})

        return receive_lean, delete_lean
    sqs = sqs_client(sqs_url)

    def receive() -> list[dict[str, Any]]:
        return list(
            sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        )

    def delete(entries: list[dict[str, str]]) -> None:
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)

    return receive, delete


def receiver_main(sqs_url: str, threads: int, commands: Any, results: Any, client: str = "boto3") -> None:
    """The receiver process: ``threads`` threads long-poll one queue and stamp each event (by HITId).

    ("consume", queue_url, deadline) starts a phase; ("expect", keys, drain_deadline), sent once the producers
    are done, ends it as soon as every one of those keys has arrived, or at drain_deadline (at the latest at
    deadline, a bound in case the parent vanished)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results.put(("ready", "receiver", None))
    for _ in range(MAX_LOOP):
        try:
            command = commands.get(timeout=1800)
        except queue.Empty:
            return
        if command[0] == "stop":
            return
        _, queue_url, deadline = command
        got: dict[str, float] = {}
        counts = {"duplicates": 0, "messages": 0, "errors": 0}
        lock = threading.Lock()
        done = threading.Event()

        def poll(
            queue_url: str = queue_url,
            got: dict[str, float] = got,
            counts: dict[str, int] = counts,
            lock: threading.Lock = lock,
            done: threading.Event = done,
        ) -> None:
            receive, delete = _receiving(client, sqs_url, queue_url)
            for _ in range(MAX_LOOP):
                if done.is_set():
                    return
                try:
                    messages = receive()
                except Exception:
                    with lock:
                        counts["errors"] += 1
                    continue
                now = time.time()
                with lock:
                    counts["messages"] += len(messages)
                    for message in messages:
                        try:
                            events = json.loads(message["Body"]).get("Events", [])
                        except (ValueError, AttributeError):
                            events = []
                        for event in events:
                            key = event.get("HITId")
                            if key in got:
                                counts["duplicates"] += 1
                            elif key:
                                got[key] = now
                if messages:
                    entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
                    # A failed delete only means a later redelivery, which is counted as a duplicate.
                    with contextlib.suppress(Exception):
                        delete(entries)

        pollers = [threading.Thread(target=poll, daemon=True) for _ in range(threads)]
        for poller in pollers:
            poller.start()
        expected: set[str] | None = None
        for _ in range(MAX_LOOP):
            if time.time() >= deadline:
                break
            try:
                message = commands.get(timeout=0.05)
            except queue.Empty:
                pass
            else:
                if message[0] == "expect":
                    expected, deadline = set(message[1]), min(deadline, message[2])
            if expected is not None:
                with lock:
                    if expected.issubset(got):
                        break
        done.set()
        for poller in pollers:
            poller.join(timeout=5)
        with lock:
            results.put(("consumed", "receiver", {"got": dict(got), **counts}))
