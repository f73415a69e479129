"""The SQS consumer's throughput with de-duplication on, against a bare receive/delete loop.

    python bench/consume.py [--documents 300] [--seconds 20] [--concurrency 1] [--rounds 5]

Starts moto's server (``LocalAWS``), then, ``--rounds`` times, for each contender: makes a fresh
queue (moto ≥ 5.2 allows PurgeQueue once per 60 s, so queues are not reused), fills it with
``--documents`` notification documents (one event each, distinct EventDocIds,
SendMessageBatch from 8 threads, not timed) and times draining it:

* bare: one thread, ReceiveMessage (MaxNumberOfMessages=10, WaitTimeSeconds=1) then DeleteMessageBatch
  of what came, until every document was deleted;
* consumer: ``SQSConsumer`` (batch 10, ``--concurrency`` workers, wait 1 s) with a ``Router`` whose store
  is a fresh ``SQLiteDedup`` file and whose handler only counts, until every document was handled
  (claimed, handled, completed in the store; deletes are batched right behind).

A contender stops early after ``--seconds``; its rate is documents done / elapsed. The figures are
medians over the rounds. For scale it also prints the consumer's own path without SQS (parse, route,
SQLite claim/complete) in documents/s: moto's server, whose ReceiveMessage costs grow with the queue's
depth, bounds both contenders long before that path does. The last line printed is one JSON object:
``{"consumer_dps": …, "bare_dps": …, "ratio": …}`` (ratio = consumer / bare).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from openturk.consumer import Event, Router, SQLiteDedup  # noqa: E402
from openturk.consumer.sqs import SQSConsumer, make_sqs_client  # noqa: E402
from openturk.notify.local_aws import LocalAWS  # noqa: E402


def _document(doc_id: str) -> str:
    event = {
        "EventType": "AssignmentSubmitted",
        "EventTimestamp": "2026-11-23T10:15:02Z",
        "HITTypeId": "3AKE04YHPN13791QQA6EXAMPLE",
        "HITId": "31ANT7FQN71LA48IQEXAMPLE",
        "AssignmentId": f"A{doc_id[:20]}",
    }
    return json.dumps(
        {"EventDocVersion": "2014-08-15", "EventDocId": doc_id, "CustomerId": "A1B2C3D4E5F6G7", "Events": [event]}
    )


def fill(sqs: Any, queue_url: str, documents: int) -> None:
    def send(start: int) -> None:
        entries = [
            {"Id": str(i), "MessageBody": _document(uuid.uuid4().hex)} for i in range(min(10, documents - start))
        ]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed")
        if failed:
            raise RuntimeError(f"SendMessageBatch failed: {failed}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(0, documents, 10)))


def bare(sqs: Any, queue_url: str, documents: int, seconds: float) -> float:
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while done < documents and time.perf_counter() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            continue
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        response = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        done += len(response.get("Successful", []))
    return done / (time.perf_counter() - started)


def consumer(sqs: Any, queue_url: str, documents: int, seconds: float, concurrency: int, store: Path) -> float:
    handled = 0
    lock = threading.Lock()
    all_handled = threading.Event()

    def count(event: Event) -> None:
        nonlocal handled
        with lock:
            handled += 1
            if handled == documents:
                all_handled.set()

    router = Router(dedup=SQLiteDedup(str(store)))
    router.default(count)
    running = SQSConsumer(queue_url, router, sqs_client=sqs, concurrency=concurrency, wait_seconds=1)
    thread = threading.Thread(target=running.run, daemon=True)
    started = time.perf_counter()
    thread.start()
    all_handled.wait(seconds)
    elapsed = time.perf_counter() - started
    done = handled
    running.stop()
    thread.join(timeout=30)
    return done / elapsed


def fresh_queue(sqs: Any) -> str:
    """A new, empty queue for one contender's round (no PurgeQueue: moto allows one per 60 s)."""
    return str(sqs.create_queue(QueueName=f"bench-consume-{uuid.uuid4().hex[:12]}")["QueueUrl"])


def router_only(documents: int, store: Path) -> float:
    """The consumer's own path without SQS: parse, claim, handle, complete (SQLite), one thread."""
    from openturk.consumer import documents_from

    router = Router(dedup=SQLiteDedup(str(store)))
    router.default(lambda event: None)
    bodies = [_document(uuid.uuid4().hex) for _ in range(documents)]
    started = time.perf_counter()
    for body in bodies:
        for document in documents_from(body):
            router.handle_document(document)
    return documents / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0, help="longest time one contender may take")
    parser.add_argument("--concurrency", type=int, default=1, help="the consumer's worker threads")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    aws = LocalAWS().start()
    try:
        sqs = make_sqs_client(aws.url, "us-east-1", max_pool_connections=args.concurrency + 8)
        rates: dict[str, list[float]] = {"bare": [], "consumer": []}
        with tempfile.TemporaryDirectory(prefix="openturk-bench-") as tmp:
            for round_ in range(args.rounds):
                for name in ("bare", "consumer"):
                    queue_url = fresh_queue(sqs)
                    fill(sqs, queue_url, args.documents)
                    if name == "bare":
                        rate = bare(sqs, queue_url, args.documents, args.seconds)
                    else:
                        store = Path(tmp) / f"seen-{round_}.db"
                        rate = consumer(sqs, queue_url, args.documents, args.seconds, args.concurrency, store)
                    rates[name].append(rate)
                    print(f"round {round_ + 1} {name:<8} {rate:8.1f} documents/s", flush=True)
            path_dps = router_only(max(args.documents, 2000), Path(tmp) / "router-only.db")
        consumer_dps, bare_dps = statistics.median(rates["consumer"]), statistics.median(rates["bare"])
        print(f"documents={args.documents} concurrency={args.concurrency} rounds={args.rounds} (medians)")
        print(f"for scale: parse + route + SQLite de-duplication alone, no SQS: {path_dps:.0f} documents/s")
        print(
            json.dumps(
                {
                    "consumer_dps": round(consumer_dps, 1),
                    "bare_dps": round(bare_dps, 1),
                    "ratio": round(consumer_dps / bare_dps, 3),
                }
            )
        )
    finally:
        aws.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
