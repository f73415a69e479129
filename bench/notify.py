"""Notification delivery: event→SQS latency at a fixed rate, a bare SQS reference, and the engine's ceiling.

    python bench/notify.py --seconds 10 [--rate 200] [--senders 4] [--ceiling-events 20000] [--ceiling-rounds 3]

Starts moto's server (``LocalAWS``) and ``openturk serve`` (real clock, its own temporary SQLite file,
``--aws-endpoint`` = moto), makes a HIT type whose notification specification sends HITCreated to an SQS
queue, then measures:

* latency: ``--senders`` processes call CreateHITWithHITType on one shared schedule (event *i* at
  t0 + i/rate, sender k takes i ≡ k mod senders; a late sender fires at once).  Each HIT's time is the wall
  time at the START of its API call.  A consumer process long-polls the queue (ReceiveMessage,
  MaxNumberOfMessages=10, WaitTimeSeconds=1; deletes from a second thread with DeleteMessageBatch) and
  stamps each event (matched by HITId; a message may carry several) when its ReceiveMessage returns.
* bare: the same schedule, senders and consumer, but SendMessage straight to a queue on the same moto
  server (send start → receive); plus bare_send_per_s, the SendMessage/s those sender processes reach in a
  tight loop.
* ceiling: events injected in bulk through the domain layer, NOT the API: N HITCreated events for the
  notified HIT type written in one transaction with ``openturk.notify.outbox.record_events`` from this
  process; the server's dispatcher finds them by polling (≤ 0.5 s).  ceiling_eps = N / (commit → consumer
  has received all N).  Median over ``--ceiling-rounds``.

All processes share one machine, so time.time() is comparable across them.  The last line printed is one
JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import queue
import signal
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.measure import cpu_seconds, mturk_client, sqs_client  # noqa: E402 - after the path set-up above
from bench.measure import quantile as _quantile  # noqa: E402

HTML_QUESTION = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
    "<HTMLContent><![CDATA[<!DOCTYPE html><html><body><form><input name='answer'></form></body></html>]]>"
    "</HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>"
)
ACCESS_KEY = "AKIDBENCHNOTIFY00001"
MAX_LOOP = 10_000_000  # hard bound on every loop, on top of its deadline


# -- child processes --------------------------------------------------------------------------------------------


def sender_main(
    index: int,
    count: int,
    server_url: str,
    sqs_url: str,
    hit_type_id: str,
    warm_queue: str,
    commands: Any,
    results: Any,
) -> None:
    """One sender process: runs scheduled sends ("schedule") and tight loops ("tight") on command."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        mturk, sqs = mturk_client(server_url, ACCESS_KEY), sqs_client(sqs_url)
        mturk.get_account_balance()
        sqs.send_message(QueueUrl=warm_queue, MessageBody="{}")
        results.put(("ready", index, None))
    except BaseException as error:
        results.put(("error", index, f"setup: {type(error).__name__}: {error}"))
        return

    def create_hit(_key: str, _queue: str) -> str:
        return str(
            mturk.create_hit_with_hit_type(
                HITTypeId=hit_type_id, MaxAssignments=1, LifetimeInSeconds=3600, Question=HTML_QUESTION
            )["HIT"]["HITId"]
        )

    def send_bare(key: str, queue_url: str) -> str:
        body = json.dumps(
            {
                "EventDocVersion": "2014-08-15",
                "EventDocId": key,
                "CustomerId": "bare",
                "Events": [{"EventType": "HITCreated", "HITTypeId": "bare", "HITId": key}],
            }
        )
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        return key

    calls = {"openturk": create_hit, "bare": send_bare}
    for _ in range(MAX_LOOP):
        try:
            command = commands.get(timeout=900)
        except queue.Empty:
            return  # parent vanished
        if command[0] == "stop":
            return
        try:
            if command[0] == "schedule":
                _, kind, queue_url, t0, rate, total, tag = command
                call = calls[kind]
                records: list[tuple[str, float, float, float]] = []  # key, scheduled, start, end
                errors, first_error = 0, None
                for i in range(index, total, count):
                    scheduled = t0 + i / rate
                    delay = scheduled - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    start = time.time()
                    try:
                        key = call(f"{tag}-{i:07d}", queue_url)
                    except Exception as error:
                        errors += 1
                        first_error = first_error or f"{type(error).__name__}: {error}"
                        continue
                    records.append((key, scheduled, start, time.time()))
                results.put(("done", index, {"records": records, "errors": errors, "first_error": first_error}))
            elif command[0] == "tight":
                _, queue_url, t0, seconds = command
                delay = t0 - time.time()
                if delay > 0:
                    time.sleep(delay)
                done = 0
                end = t0 + seconds
                for _ in range(MAX_LOOP):
                    if time.time() >= end:
                        break
                    sqs.send_message(QueueUrl=queue_url, MessageBody="x")
                    if time.time() <= end:
                        done += 1
                results.put(("done", index, {"count": done}))
        except BaseException as error:
            results.put(("error", index, f"{command[0]}: {type(error).__name__}: {error}"))
            return


def consumer_main(sqs_url: str, commands: Any, results: Any) -> None:
    """The consumer process: long-polls one queue and stamps every event (by HITId) when it arrives.

    ("consume", queue_url, deadline) starts a phase; ("expect", keys) — sent once the keys are known — ends it
    as soon as every one of them has arrived (or at the deadline)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sqs, deleter_sqs = sqs_client(sqs_url), sqs_client(sqs_url)
        handles: queue.Queue[tuple[str, list[str]] | None] = queue.Queue()

        def deleter() -> None:
            for _ in range(MAX_LOOP):
                item = handles.get()
                try:
                    if item is None:
                        return
                    queue_url, receipts = item
                    for start in range(0, len(receipts), 10):
                        entries = [
                            {"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(receipts[start : start + 10])
                        ]
                        # A failed delete only means a later redelivery, which is counted as a duplicate.
                        with contextlib.suppress(Exception):
                            deleter_sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
                finally:
                    handles.task_done()

        thread = threading.Thread(target=deleter, daemon=True)
        thread.start()
        results.put(("ready", "consumer", None))
    except BaseException as error:
        results.put(("error", "consumer", f"setup: {type(error).__name__}: {error}"))
        return

    for _ in range(MAX_LOOP):
        try:
            command = commands.get(timeout=900)
        except queue.Empty:
            break
        if command[0] == "stop":
            break
        _, queue_url, deadline = command
        expected: set[str] | None = None
        got: dict[str, float] = {}
        duplicates = polls = 0
        per_message: list[int] = []
        try:
            for _ in range(MAX_LOOP):
                if expected is None:
                    try:
                        message = commands.get_nowait()
                    except queue.Empty:
                        pass
                    else:
                        if message[0] == "expect":
                            expected = set(message[1])
                        elif message[0] == "stop":
                            handles.put(None)
                            return
                if (expected is not None and expected.issubset(got)) or time.time() >= deadline:
                    break
                response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                now = time.time()
                polls += 1
                messages = response.get("Messages", [])
                for message in messages:
                    try:
                        events = json.loads(message["Body"]).get("Events", [])
                    except (ValueError, AttributeError):
                        events = []
                    per_message.append(len(events))
                    for event in events:
                        key = event.get("HITId")
                        if key in got:
                            duplicates += 1
                        elif key:
                            got[key] = now
                if messages:
                    handles.put((queue_url, [m["ReceiptHandle"] for m in messages]))
            handles.join()
            results.put(
                (
                    "consumed",
                    "consumer",
                    {"got": got, "duplicates": duplicates, "polls": polls, "per_message": per_message},
                )
            )
        except BaseException as error:
            results.put(("error", "consumer", f"consume: {type(error).__name__}: {error}"))
            break
    handles.put(None)


# -- the bench --------------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ctx = mp.get_context("spawn")
        self.results: Any = self.ctx.Queue()
        self.aws: Any = None
        self.server: Any = None
        self.senders: list[Any] = []
        self.sender_commands: list[Any] = []
        self.consumer: Any = None
        self.consumer_commands: Any = self.ctx.Queue()

    # set-up and tear-down ----------------------------------------------------------------------------------
    def start(self) -> None:
        from openturk.notify.local_aws import LocalAWS
        from openturk.testing import ServerProcess

        args = self.args
        self.aws = LocalAWS().start()
        extra = ["--aws-endpoint", self.aws.url, "--starting-balance", "100000000"]
        if args.batch_window is not None:
            extra += ["--batch-window", str(args.batch_window)]
        self.server = ServerProcess(virtual_clock=False, extra_args=extra)
        self.server.start()
        sqs = sqs_client(self.aws.url)
        suffix = uuid.uuid4().hex[:8]
        self.q_notify = sqs.create_queue(QueueName=f"bench-notify-{suffix}")["QueueUrl"]
        self.q_bare = sqs.create_queue(QueueName=f"bench-bare-{suffix}")["QueueUrl"]
        self.q_tight = sqs.create_queue(QueueName=f"bench-tight-{suffix}")["QueueUrl"]
        mturk = mturk_client(self.server.base_url, ACCESS_KEY)
        self.hit_type_id = mturk.create_hit_type(
            Title="Bench notifications",
            Description="d",
            Reward="0.01",
            AssignmentDurationInSeconds=600,
            AutoApprovalDelayInSeconds=86400,
        )["HITTypeId"]
        mturk.update_notification_settings(
            HITTypeId=self.hit_type_id,
            Active=True,
            Notification={
                "Destination": self.q_notify,
                "Transport": "SQS",
                "Version": "2014-08-15",
                "EventTypes": ["HITCreated"],
            },
        )
        with sqlite3.connect(self.server.db_path) as conn:
            self.customer_id = str(
                conn.execute("SELECT customer_id FROM access_keys WHERE access_key_id = ?", (ACCESS_KEY,)).fetchone()[0]
            )
        self.cold_ms = self._cold_first_delivery(mturk, sqs)

        self.consumer = self.ctx.Process(
            target=consumer_main,
            name="bench-consumer",
            daemon=True,
            args=(self.aws.url, self.consumer_commands, self.results),
        )
        self.consumer.start()
        for index in range(args.senders):
            commands = self.ctx.Queue()
            proc = self.ctx.Process(
                target=sender_main,
                name=f"bench-sender-{index}",
                daemon=True,
                args=(
                    index,
                    args.senders,
                    self.server.base_url,
                    self.aws.url,
                    self.hit_type_id,
                    self.q_tight,
                    commands,
                    self.results,
                ),
            )
            proc.start()
            self.sender_commands.append(commands)
            self.senders.append(proc)
        self._collect("ready", args.senders + 1, timeout=120)

    def _cold_first_delivery(self, mturk: Any, sqs: Any) -> float:
        """The first event after start-up: includes the server creating its SQS client."""
        start = time.time()
        hit_id = mturk.create_hit_with_hit_type(
            HITTypeId=self.hit_type_id, MaxAssignments=1, LifetimeInSeconds=3600, Question=HTML_QUESTION
        )["HIT"]["HITId"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=self.q_notify, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                sqs.delete_message(QueueUrl=self.q_notify, ReceiptHandle=message["ReceiptHandle"])
                if any(e["HITId"] == hit_id for e in json.loads(message["Body"])["Events"]):
                    return 1000 * (time.time() - start)
        raise RuntimeError(f"the first HITCreated never reached SQS\n--- server log ---\n{self.server.log()[-3000:]}")

    def stop(self) -> None:
        for commands in [*self.sender_commands, self.consumer_commands]:
            with contextlib.suppress(Exception):
                commands.put(("stop",))
        for proc in [*self.senders, *([self.consumer] if self.consumer else [])]:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        if self.server is not None:
            self.server.__exit__(None, None, None)  # stop, then remove its temporary directory
        if self.aws is not None:
            self.aws.stop()

    def _collect(self, expected: str, how_many: int, timeout: float) -> dict[Any, Any]:
        got: dict[Any, Any] = {}
        deadline = time.monotonic() + timeout
        while len(got) < how_many:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"timed out waiting for {expected} ({len(got)}/{how_many})")
            try:
                status, who, payload = self.results.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                dead = [p.name for p in [*self.senders, self.consumer] if p is not None and not p.is_alive()]
                if dead:
                    raise RuntimeError(f"bench process(es) died: {', '.join(dead)}") from None
                continue
            if status == "error":
                raise RuntimeError(f"{who} failed: {payload}\n--- server log ---\n{self.server.log()[-3000:]}")
            if status != expected:
                raise RuntimeError(f"{who}: expected {expected}, got {status}")
            got[who] = payload
        return got

    # measurements ------------------------------------------------------------------------------------------
    def scheduled(self, kind: str, seconds: float, tag: str) -> dict[str, Any]:
        """Send ``rate × seconds`` events on the shared schedule; the consumer stamps their arrival."""
        args = self.args
        queue_url = self.q_notify if kind == "openturk" else self.q_bare
        total = max(1, round(args.rate * seconds))
        t0 = time.time() + 0.5
        self.consumer_commands.put(("consume", queue_url, t0 + seconds + args.drain_timeout))
        pids = {
            "server": self.server.process.pid,
            "moto": self.aws.process.pid,
            "consumer": self.consumer.pid,
            **{f"sender{i}": proc.pid for i, proc in enumerate(self.senders)},
        }
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        for commands in self.sender_commands:
            commands.put(("schedule", kind, queue_url, t0, args.rate, total, tag))
        parts = self._collect("done", len(self.senders), timeout=seconds + 120)
        wall = time.time() - t0
        cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        records = [r for part in parts.values() for r in part["records"]]
        errors = sum(part["errors"] for part in parts.values())
        first_error = next((p["first_error"] for p in parts.values() if p["first_error"]), None)
        self.consumer_commands.put(("expect", [key for key, _, _, _ in records]))
        consumed = self._collect("consumed", 1, timeout=args.drain_timeout + 60)["consumer"]
        got = consumed["got"]
        latencies = [1000 * (got[key] - start) for key, _, start, _ in records if key in got]
        lost = len(records) - len(latencies)
        starts = [start for _, _, start, _ in records]
        span = max(seconds, (max(starts) - t0 + 1 / args.rate) if starts else seconds)
        cpu: dict[str, float | None] = {}
        for name in pids:
            before, after = cpu0[name], cpu1[name]
            cpu[name] = (after - before) / wall if before is not None and after is not None else None
        shares = [cpu.pop(f"sender{i}") for i in range(len(self.senders))]
        cpu["senders"] = sum(share for share in shares if share is not None) if None not in shares else None
        with contextlib.suppress(OSError):
            cpu["machine load1"] = os.getloadavg()[0]
        breakdown = self._breakdown(records, got) if kind == "openturk" else {}
        return {
            "breakdown": breakdown,
            "kind": kind,
            "sent": len(records),
            "errors": errors,
            "first_error": first_error,
            "lost": lost,
            "p50_ms": _quantile(latencies, 0.5),
            "p99_ms": _quantile(latencies, 0.99),
            "max_ms": max(latencies) if latencies else float("nan"),
            "achieved_rate": len(records) / span,
            "call_p50_ms": _quantile([1000 * (end - start) for _, _, start, end in records], 0.5),
            "call_p99_ms": _quantile([1000 * (end - start) for _, _, start, end in records], 0.99),
            "lag_p99_ms": _quantile([1000 * (start - sched) for _, sched, start, _ in records], 0.99),
            "messages": len(consumed["per_message"]),
            "duplicates": consumed["duplicates"],
            "events_per_message": (statistics.mean(consumed["per_message"]) if consumed["per_message"] else 0.0),
            "polls": consumed["polls"],
            "cpu": cpu,
        }

    def _breakdown(self, records: list[tuple[str, float, float, float]], got: dict[str, float]) -> dict[str, Any]:
        """Where each event's time went, from the server's own outbox records (epoch ms, wall clock)."""
        start = {key: begin for key, _, begin, _ in records}
        end = {key: finish for key, _, _, finish in records}
        with sqlite3.connect(self.server.db_path) as conn:
            rows = conn.execute(
                "SELECT e.hit_id, e.event_time, m.created_at, m.event_count, a.started_at, a.latency_ms "
                "FROM events e JOIN messages m ON m.message_id = e.message_id "
                "JOIN delivery_attempts a ON a.attempt_id = (SELECT min(attempt_id) FROM delivery_attempts "
                "WHERE message_id = m.message_id) WHERE e.hit_type_id = ? AND e.event_type = 'HITCreated'",
                (self.hit_type_id,),
            ).fetchall()
        stages: dict[str, list[float]] = {
            name: []
            for name in (
                "start→event_time(in txn)",
                "start→response",
                "start→formed",
                "formed→send",
                "send (SQS call)",
                "acked→received",
                "events/msg",
            )
        }
        for hit_id, committed, formed, count, sent, latency in rows:
            if hit_id not in start or hit_id not in got:
                continue
            t0 = 1000 * start[hit_id]
            stages["start→event_time(in txn)"].append(committed - t0)
            stages["start→response"].append(1000 * end[hit_id] - t0)
            stages["start→formed"].append(formed - t0)
            stages["formed→send"].append(sent - formed)
            stages["send (SQS call)"].append(latency)
            stages["acked→received"].append(1000 * got[hit_id] - (sent + latency))
            stages["events/msg"].append(count)
        return {name: (_quantile(v, 0.5), _quantile(v, 0.99)) for name, v in stages.items() if v}

    def tight(self, seconds: float) -> float:
        t0 = time.time() + 0.5
        for commands in self.sender_commands:
            commands.put(("tight", self.q_tight, t0, seconds))
        parts = self._collect("done", len(self.senders), timeout=seconds + 60)
        return float(sum(p["count"] for p in parts.values())) / seconds

    def ceiling(self, n: int, tag: str) -> dict[str, float]:
        """Inject n HITCreated events through the domain layer (one transaction) and time their delivery."""
        from openturk.domain.model import Event
        from openturk.notify.outbox import record_events
        from openturk.store.database import Database

        args = self.args
        now_ms = int(time.time() * 1000)
        events = [
            Event(
                event_type="HITCreated",
                event_time=now_ms,
                customer_id=self.customer_id,
                hit_type_id=self.hit_type_id,
                hit_id=f"{tag}{i:07d}",
            )
            for i in range(n)
        ]
        self.consumer_commands.put(("consume", self.q_notify, time.time() + args.drain_timeout + n / 200))
        self.consumer_commands.put(("expect", [e.hit_id for e in events]))
        db = Database(self.server.db_url)
        try:
            begun = time.time()
            with db.write() as conn:
                record_events(conn, events, int(time.time() * 1000))
            committed = time.time()
        finally:
            db.dispose()
        consumed = self._collect("consumed", 1, timeout=args.drain_timeout + n / 200 + 60)["consumer"]
        got = consumed["got"]
        received = [got[e.hit_id] for e in events if e.hit_id in got]
        if len(received) < n:
            raise RuntimeError(f"ceiling: only {len(received)}/{n} events arrived")
        last, first = max(received), min(received)
        return {
            "eps": n / (last - committed),
            "insert_s": committed - begun,
            "deliver_s": last - committed,
            "first_s": first - committed,
            "stream_eps": n / (last - first) if last > first else float("inf"),
            "messages": len(consumed["per_message"]),
        }


def _fmt(result: dict[str, Any]) -> str:
    cpu = ", ".join(
        (f"{name} {v:.1f}" if name.startswith("machine") else f"{name} {100 * v:.0f}%")
        for name, v in result["cpu"].items()
        if v is not None
    )
    return (
        f"p50 {result['p50_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms  max {result['max_ms']:.1f} ms  "
        f"achieved {result['achieved_rate']:.1f}/s  ({result['sent']} sent, {result['errors']} errors, "
        f"{result['lost']} lost, {result['duplicates']} dup; call p50/p99 {result['call_p50_ms']:.1f}/"
        f"{result['call_p99_ms']:.1f} ms; schedule lag p99 {result['lag_p99_ms']:.1f} ms; "
        f"{result['messages']} msgs, {result['events_per_message']:.2f} events/msg; CPU {cpu})"
    )


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="openturk notification delivery: latency, bare reference, ceiling")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second in the latency phases")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of each latency phase")
    parser.add_argument("--senders", type=int, default=4, help="sender processes (shared schedule)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured warm-up at the rate")
    parser.add_argument("--tight-seconds", type=float, default=3.0, help="seconds of the bare tight SendMessage loop")
    parser.add_argument("--ceiling-events", type=int, default=20000, help="events injected per ceiling round")
    parser.add_argument("--ceiling-rounds", type=int, default=3)
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to wait for stragglers")
    parser.add_argument("--batch-window", type=float, default=None, help="pass --batch-window to openturk serve")
    parser.add_argument("--skip", action="append", default=[], choices=["bare", "ceiling", "latency"])
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.senders < 1 or args.ceiling_events < 1 or args.ceiling_rounds < 1:
        parser.error("--rate, --seconds > 0; --senders, --ceiling-events, --ceiling-rounds >= 1")

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    bench = Bench(args)
    nan = float("nan")
    openturk: dict[str, Any] = {"p50_ms": nan, "p99_ms": nan, "achieved_rate": nan}
    bare: dict[str, Any] = {"p50_ms": nan, "p99_ms": nan}
    bare_send = nan
    ceilings: list[dict[str, float]] = []
    try:
        log(f"starting moto, openturk serve, {args.senders} senders and a consumer…")
        bench.start()
        log(f"  cold first delivery (server makes its SQS client): {bench.cold_ms:.1f} ms")
        if args.warmup > 0:
            for kind in ("openturk", "bare"):
                if kind == "bare" and "bare" in args.skip:
                    continue
                bench.scheduled(kind, args.warmup, f"W{kind[0]}")
        if "latency" not in args.skip:
            log(f"openturk: CreateHITWithHITType at {args.rate:g}/s for {args.seconds:g}s → HITCreated → SQS")
            openturk = bench.scheduled("openturk", args.seconds, "L")
            log("  " + _fmt(openturk))
            for name, (p50, p99) in openturk["breakdown"].items():
                log(f"    {name:<28} p50 {p50:8.1f}  p99 {p99:8.1f}" + ("" if name == "events/msg" else " ms"))
        if "bare" not in args.skip:
            log(f"bare: SendMessage at {args.rate:g}/s for {args.seconds:g}s → same consumer")
            bare = bench.scheduled("bare", args.seconds, "B")
            log("  " + _fmt(bare))
            bare_send = bench.tight(args.tight_seconds)
            log(f"  bare tight loop: {bare_send:.1f} SendMessage/s from {args.senders} processes")
        if "ceiling" not in args.skip:
            log(
                f"ceiling: {args.ceiling_events} HITCreated events injected through the domain layer "
                f"(outbox.record_events in one transaction, not the API), × {args.ceiling_rounds}"
            )
            for round_no in range(args.ceiling_rounds):
                c = bench.ceiling(args.ceiling_events, f"C{round_no}{uuid.uuid4().hex[:6]}")
                ceilings.append(c)
                log(
                    f"  round {round_no + 1}: {c['eps']:.0f} events/s (insert {c['insert_s']:.2f}s, commit→first "
                    f"{c['first_s']:.2f}s, commit→last {c['deliver_s']:.2f}s, first→last {c['stream_eps']:.0f}/s, "
                    f"{c['messages']} msgs)"
                )
    except KeyboardInterrupt:
        print("interrupted; stopping", file=sys.stderr)
        return 130
    finally:
        bench.stop()

    ceiling_eps = statistics.median(c["eps"] for c in ceilings) if ceilings else nan
    print()
    print(f"notification delivery, {args.senders} sender processes, {args.seconds:g}s at {args.rate:g} events/s")
    print(
        f"  openturk  event→received  p50 {openturk['p50_ms']:7.1f} ms  p99 {openturk['p99_ms']:7.1f} ms  "
        f"achieved {openturk['achieved_rate']:.1f}/s   (target p50 ≤ 50, p99 ≤ 150)"
    )
    print(
        f"  bare SQS  send→received   p50 {bare['p50_ms']:7.1f} ms  p99 {bare['p99_ms']:7.1f} ms  "
        f"tight loop {bare_send:.1f} SendMessage/s"
    )
    print(
        f"  ceiling   {ceiling_eps:.0f} events/s (median of {len(ceilings)} × {args.ceiling_events} events injected "
        f"through the domain layer, not the API; target ≥ 1000)"
    )

    def num(value: float, digits: int = 1) -> float | None:
        return None if value != value else round(value, digits)  # NaN → null

    print(
        json.dumps(
            {
                "p50_ms": num(openturk["p50_ms"]),
                "p99_ms": num(openturk["p99_ms"]),
                "rate": args.rate,
                "achieved_rate": num(openturk["achieved_rate"]),
                "bare_p50_ms": num(bare["p50_ms"]),
                "bare_p99_ms": num(bare["p99_ms"]),
                "bare_send_per_s": num(bare_send),
                "ceiling_eps": num(ceiling_eps, 0),
                "seconds": int(args.seconds) if float(args.seconds).is_integer() else args.seconds,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
