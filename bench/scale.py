"""Scale: latency at a steady rate and the end-to-end ceiling through the API, per store set-up.

    python bench/scale.py --seconds 10 [--rate 200] [--setups sqlite,pg1,pg2] [--producers 2] [--threads 4]
                          [--ceiling-threads 16] [--rounds 1] [--ceiling-only]

One moto server (``LocalAWS``) serves every set-up and the bare reference. The set-ups:

* ``sqlite``: one ``openturk serve`` on its own SQLite file, its dispatcher in-process;
* ``pg1``: a throwaway PostgreSQL (``scripts/postgres``), ``openturk serve --no-dispatch`` and one
  ``openturk dispatch``;
* ``pg2``: the same with two ``openturk dispatch`` processes;
* ``pg1idle`` (a control, not in the default list): ``pg1`` plus one more ``openturk dispatch`` on
  another, empty database of the same cluster. It delivers nothing and hears none of the set-up's
  commits (it leads its own database, so it polls twice a second), so ``pg2`` against it shows what a
  second dispatcher costs beyond merely running beside the first on the same cores; its CPU counts
  under "dispatchers".

Each set-up makes two HIT types whose notification specification sends HITCreated to an SQS queue of
its own, then measures:

* latency: ``--producers`` processes × ``--threads`` threads (each thread its own boto3 client) call
  CreateHITWithHITType on one shared schedule (event *i* at t0 + i/rate; a late thread fires at once).
  An event's time is the wall time at the START of its API call; it is received when a ReceiveMessage
  that carries it returns. p50/p99 of that, and "commit→send" from the delivery log (``openturk deliveries
  --json``): the first attempt's StartedAt minus the commit of the message's first event
  (DeliveredAt − LatencyMs, the log's own end-to-end latency).
* ceiling: ``--producers`` processes × ``--ceiling-threads`` threads (16: 32 calls in flight) call
  CreateHITWithHITType as fast as they can for ``--seconds``; events/s acknowledged by the API, delivered
  (the delivery log's DeliveredAt inside the window) and received from SQS inside the window, plus how
  long the backlog took to drain after the window. Each thread waits for its answer before its next
  call, so with few threads the figure is the clients' round trips, not the server's ceiling: on
  SQLite 8 calls in flight gave 700–860/s, 16 gave 1,070–1,215/s and 32 gave 1,280–1,335/s (2 cores).

* backlog (``--backlog-events``, default 20,000; 0: none): what the dispatchers alone can deliver, the
  API out of the way. After the ceiling, the bench commits that many HITCreated events in one transaction
  through the domain layer (``openturk.notify.outbox.record_events``, as a server's commit does, which
  wakes the dispatchers), spread evenly over ``--backlog-destinations`` HIT types (8), each notifying a
  queue of its own; backlog events/s = events / (commit → the last message's DeliveredAt in the
  delivery log). Through the API the server is the bottleneck, so the ceiling cannot show what a second
  dispatcher adds; here the dispatchers are. ``--backlog-send-delay-ms D`` makes every send of the
  backlog take D ms longer, as a real SQS endpoint's round trip does (the machine's own moto answers in
  about one): the set-ups then send through a proxy (``tests.support.proxy.TCPProxy``) that holds each
  answer D ms during the backlog phase and passes it on at once before it, so the latency and ceiling
  figures only gain the proxy's hop. With the destination's round trip, not the CPU, the limit, a
  second dispatcher's sends in flight show.

Beside them, in the same run, the bare reference: SendMessage → receive on the same moto server, the
same schedule, threads and receiver, and its ceiling (SendMessage as fast as the threads can).

``--rounds N`` measures the bare reference and every set-up N times in turn (the bare reference first,
then the set-ups in the given order in odd rounds and in reverse order in even ones); the table, the JSON
figures and the targets are the medians of the rounds (counts of events: their sums), and the JSON
keeps each round's figures under ``each_round``, and under ``paired`` compares set-ups round by round
(pg2 against pg1, against pg1idle, and pg1idle against pg1: in how many rounds the first delivered less
at the ceiling, and the median ratio). ``--ceiling-only`` leaves out the warm-up and latency phases (their
figures are null) for more rounds in the same time. A small machine shared with other work gives
figures that move by a third from one run to the next: compare medians.

Receiving: one receiver process runs ``--receivers`` threads, each long-polling (ReceiveMessage,
MaxNumberOfMessages=10, WaitTimeSeconds=1; moto answers a long poll as soon as a message arrives) and
deleting what it got before polling again, so while one thread deletes the others are waiting: the gap
a single polling loop leaves does not hide or add the product's latency, and openturk and the bare
reference are received identically.

Clients: the latency phase's producers are boto3 clients (``--latency-client``, as issue 13 measured);
the ceiling's producers (``--ceiling-client``) and the receiver (``--receiver-client``) are lean by
default: ``bench.measure.SignedJSONClient`` sends the requests boto3 would send, SigV4-signed, on one
kept-alive connection, for about a third of boto3's CPU per call, so less of the machine goes to
measuring.

Every process shares one 2-core machine: the figures include the bench's own client CPU.  Results are
printed as a table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.load import ACCESS_KEY, HTML_QUESTION, Record, producer_main, receiver_main  # noqa: E402 - after the path set-up
from bench.measure import cpu_seconds, mturk_client, quantile, sqs_client  # noqa: E402

POSTGRES_SCRIPT = REPO / "scripts" / "postgres"
SETUPS = {
    "sqlite": "SQLite, 1 serve (in-process dispatcher)",
    "pg1": "PostgreSQL, serve + 1 dispatch",
    "pg2": "PostgreSQL, serve + 2 dispatch",
    "pg1idle": "PostgreSQL, serve + 1 dispatch, 1 idle",
}
# Dispatchers per set-up: delivering from the set-up's database, and idle (another database of the same
# cluster, with no events: a control for what a second ``openturk dispatch`` costs by merely running).
DISPATCHERS = {"sqlite": (0, 0), "pg1": (1, 0), "pg2": (2, 0), "pg1idle": (1, 1)}


# -- the store set-ups ------------------------------------------------------------------------------------------


@dataclass
class Setup:
    """One store set-up's processes: a server, its database and any separate dispatchers."""

    name: str
    server: Any = None
    pg_dir: Path | None = None
    dispatchers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        return str(self.server.db_url)

    def start(self, aws_url: str) -> Setup:
        from openturk.testing import ServerProcess

        extra = ["--aws-endpoint", aws_url, "--starting-balance", "100000000"]
        db_url = None
        if self.name != "sqlite":
            self.pg_dir = Path(tempfile.mkdtemp(prefix="openturk-bench-pg-"))
            started = subprocess.run(
                [str(POSTGRES_SCRIPT), "start", str(self.pg_dir)],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            if started.returncode != 0:
                raise RuntimeError(f"scripts/postgres start failed:\n{started.stderr}")
            db_url = started.stdout.strip().splitlines()[-1]
            extra.append("--no-dispatch")
        self.server = ServerProcess(db_url=db_url, virtual_clock=False, extra_args=extra, startup_timeout=90)
        self.server.start()
        delivering, idle = DISPATCHERS[self.name]
        urls = [self.db_url] * delivering + ([self._idle_database()] * idle if idle else [])
        for n, url in enumerate(urls):
            log_path = self.server.log_path.parent / f"dispatch-{n}.log"
            self.logs.append(log_path)
            with open(log_path, "ab") as log_file:
                self.dispatchers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "openturk.cli",
                            "dispatch",
                            "--db",
                            url,
                            "--aws-endpoint",
                            aws_url,
                        ],
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                    )
                )
        return self

    def _idle_database(self) -> str:
        """A second, empty database in this set-up's cluster, for an idle dispatcher: PostgreSQL signals
        a commit's NOTIFY to the listeners of its own database only, so nothing it does reaches this one."""
        import psycopg
        from sqlalchemy.engine import make_url

        from openturk.store.database import libpq_conninfo

        with psycopg.connect(libpq_conninfo(self.db_url), autocommit=True) as conn:
            conn.execute("CREATE DATABASE idle")
        return make_url(self.db_url).set(database="idle").render_as_string(hide_password=False)

    def check_dispatchers(self) -> None:
        """Every dispatcher still runs: one that ended (a failed start, a crash) would make this set-up
        another one, pg1idle pg1, silently."""
        for proc, path in zip(self.dispatchers, self.logs, strict=True):
            if proc.poll() is not None:
                tail = path.read_text(errors="replace")[-3000:] if path.exists() else ""
                raise RuntimeError(f"{self.name}: openturk dispatch ({path.name}) ended, {proc.returncode}:\n{tail}")

    def transactions(self) -> int | None:
        """PostgreSQL's count of transactions ended in this database so far (None on SQLite). Each
        backend reports its counts within about a second, so over a phase of seconds it is near."""
        if self.pg_dir is None:
            return None
        import psycopg

        from openturk.store.database import libpq_conninfo

        with psycopg.connect(libpq_conninfo(self.db_url), autocommit=True) as conn:
            row = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        return int(row[0]) if row else None

    def postgres_pids(self) -> list[int]:
        """The PostgreSQL cluster's processes now: its postmaster and the postmaster's children."""
        if self.pg_dir is None:
            return []
        try:
            postmaster = int((self.pg_dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def log_tail(self) -> str:
        text = self.server.log() if self.server is not None else ""
        for path in self.logs:
            if path.exists():
                text += f"\n--- {path.name} ---\n" + path.read_text(errors="replace")
        return text[-4000:]

    def deliveries(self, hit_type_id: str) -> list[dict[str, Any]]:
        """The delivery log of one HIT type's messages, as ``openturk deliveries --json`` prints it."""
        listed = subprocess.run(
            [
                sys.executable,
                "-m",
                "openturk.cli",
                "deliveries",
                "--db",
                self.db_url,
                "--hit-type-id",
                hit_type_id,
                "--limit",
                "10000000",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if listed.returncode != 0:
            raise RuntimeError(f"openturk deliveries failed:\n{listed.stderr[-3000:]}")
        return list(json.loads(listed.stdout))

    def stop(self) -> None:
        for proc in self.dispatchers:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        if self.server is not None:
            self.server.__exit__(None, None, None)  # stop, then remove its temporary directory
        if self.pg_dir is not None:
            subprocess.run(
                [str(POSTGRES_SCRIPT), "stop", str(self.pg_dir)], capture_output=True, timeout=120, check=False
            )


# A latency phase not run (``--ceiling-only``): its figures are null in the JSON, "—" in the table.
NOT_MEASURED_LATENCY: dict[str, Any] = {
    "sent": 0,
    "errors": 0,
    "first_error": None,
    "lost": 0,
    "duplicates": 0,
    "achieved_rate": float("nan"),
    "p50_ms": float("nan"),
    "p99_ms": float("nan"),
    "call_p50_ms": float("nan"),
    "cpu": {},
}


@dataclass
class Phase:
    """What one phase produced: acknowledged calls, what the receiver got, and the CPU each role used
    over the window (cores: 1.0 is one core busy throughout; machine_load1 is the load average)."""

    records: list[Record]
    consumed: dict[str, Any]
    errors: int
    first_error: str | None
    t0: float
    cpu: dict[str, float]


# -- the bench --------------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ctx = mp.get_context("spawn")
        self.results: Any = self.ctx.Queue()
        self.aws: Any = None
        self.producers: list[Any] = []
        self.producer_commands: list[Any] = []
        self.receiver: Any = None
        self.receiver_commands: Any = self.ctx.Queue()
        self.setup: Setup | None = None
        self.slow: Any = None  # with --backlog-send-delay-ms: the proxy the set-ups send through

    @property
    def send_url(self) -> str:
        """The endpoint the set-ups send notifications to: moto, or the proxy in front of it."""
        return str(self.slow.url if self.slow is not None else self.aws.url)

    def start(self) -> None:
        from openturk.notify.local_aws import LocalAWS

        args = self.args
        self.aws = LocalAWS().start()
        self.sqs = sqs_client(self.aws.url)
        if args.backlog_send_delay_ms > 0:
            from urllib.parse import urlsplit

            from tests.support.proxy import TCPProxy

            self.slow = TCPProxy(int(urlsplit(self.aws.url).port or 0)).open()
        self.receiver = self.ctx.Process(
            target=receiver_main,
            name="bench-receiver",
            daemon=True,
            args=(self.aws.url, args.receivers, self.receiver_commands, self.results, args.receiver_client),
        )
        self.receiver.start()
        for index in range(args.producers):
            commands = self.ctx.Queue()
            proc = self.ctx.Process(
                target=producer_main,
                name=f"bench-producer-{index}",
                daemon=True,
                args=(index, args.producers, args.threads, self.aws.url, commands, self.results),
            )
            proc.start()
            self.producer_commands.append(commands)
            self.producers.append(proc)
        self._collect("ready", args.producers + 1, timeout=120)

    def stop(self) -> None:
        for commands in [*self.producer_commands, self.receiver_commands]:
            with contextlib.suppress(Exception):
                commands.put(("stop",))
        for proc in [*self.producers, *([self.receiver] if self.receiver else [])]:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        if self.setup is not None:
            self.setup.stop()
            self.setup = None
        if self.slow is not None:
            self.slow.close()
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
                dead = [p.name for p in [*self.producers, self.receiver] if p is not None and not p.is_alive()]
                if dead:
                    raise RuntimeError(f"bench process(es) died: {', '.join(dead)}") from None
                continue
            if status != expected:
                raise RuntimeError(f"{who}: expected {expected}, got {status}")
            got[who] = payload
        return got

    def new_queue(self, name: str) -> str:
        return str(self.sqs.create_queue(QueueName=f"bench-scale-{name}-{uuid.uuid4().hex[:8]}")["QueueUrl"])

    def notified_hit_type(self, setup: Setup, queue_url: str) -> str:
        """A HIT type of its own whose HITCreated go to ``queue_url``."""
        mturk = mturk_client(setup.server.base_url, ACCESS_KEY)
        # Its own title: CreateHITType answers identical properties with the HIT type that has them.
        hit_type_id = str(
            mturk.create_hit_type(
                Title=f"Bench scale {queue_url.rsplit('/', 1)[-1]}",
                Description="d",
                Reward="0.01",
                AssignmentDurationInSeconds=600,
                AutoApprovalDelayInSeconds=86400,
            )["HITTypeId"]
        )
        mturk.update_notification_settings(
            HITTypeId=hit_type_id,
            Active=True,
            Notification={
                "Destination": queue_url,
                "Transport": "SQS",
                "Version": "2014-08-15",
                "EventTypes": ["HITCreated"],
            },
        )
        return hit_type_id

    def _pids(self) -> dict[str, list[int]]:
        """The processes whose CPU a phase reports, by role."""
        setup = self.setup
        return {
            "server": [setup.server.process.pid] if setup is not None and setup.server.process else [],
            "dispatchers": [p.pid for p in setup.dispatchers] if setup is not None else [],
            "postgres": setup.postgres_pids() if setup is not None else [],
            "moto": [self.aws.process.pid] if self.aws.process else [],
            "producers": [p.pid for p in self.producers if p.pid],
            "receiver": [self.receiver.pid] if self.receiver.pid else [],
        }

    def _cpu_seconds(self, pids: dict[str, list[int]]) -> dict[str, dict[int, float | None]]:
        return {role: {pid: cpu_seconds(pid) for pid in found} for role, found in pids.items()}

    def _cpu_since(self, before: dict[str, dict[int, float | None]], seconds: float) -> dict[str, float]:
        """CPU each role used since ``before`` was sampled, in cores (1.0: one core busy throughout).

        The processes are listed again at the end: a PostgreSQL backend a pool opened inside the window
        (a server's pool grows with the calls in flight) counts all of its CPU, which it used since.
        """
        after = self._cpu_seconds(self._pids())
        return {
            role: sum(
                # A process that ended inside the window is not sampled at the end, so it counts nothing.
                max(0.0, (used or 0.0) - (before.get(role, {}).get(pid) or 0.0))
                for pid, used in after[role].items()
            )
            / seconds
            for role in after
        }

    def _run(self, command: tuple[Any, ...], queue_url: str, seconds: float) -> Phase:
        """Run one phase on every producer and the receiver, and sample every process's CPU over its window."""
        t0 = time.time() + 2.0  # time for every thread to make its client and connect
        self.receiver_commands.put(("consume", queue_url, t0 + seconds + 3600))
        for commands in self.producer_commands:
            commands.put((command[0], command[1], command[2], t0, *command[3:]))
        time.sleep(max(0.0, t0 - time.time()))  # pacing: the window starts at t0
        before = self._cpu_seconds(self._pids())
        load_before = os.getloadavg()[0]
        time.sleep(max(0.0, t0 + seconds - time.time()))
        cpu = self._cpu_since(before, seconds)
        cpu["machine_load1"] = max(load_before, os.getloadavg()[0])
        parts = self._collect("done", len(self.producers), timeout=seconds + 120)
        records = [r for part in parts.values() for r in part["records"]]
        errors = sum(part["errors"] for part in parts.values())
        first_error = next((p["first_error"] for p in parts.values() if p["first_error"]), None)
        self.receiver_commands.put(("expect", [key for key, _, _ in records], time.time() + self.args.drain_timeout))
        consumed = self._collect("consumed", 1, timeout=self.args.drain_timeout + 60)["receiver"]
        return Phase(records, consumed, errors, first_error, t0, cpu)

    def scheduled(self, kind: str, target: tuple[str, ...], queue_url: str, seconds: float, tag: str) -> dict[str, Any]:
        """``rate × seconds`` events on the shared schedule: latency from call start to receipt."""
        rate = self.args.rate
        total = max(1, round(rate * seconds))
        phase = self._run(("schedule", kind, target, rate, total, tag), queue_url, seconds)
        records, consumed, errors, first_error, t0 = (
            phase.records,
            phase.consumed,
            phase.errors,
            phase.first_error,
            phase.t0,
        )
        got = consumed["got"]
        latencies = [1000 * (got[key] - start) for key, start, _ in records if key in got]
        log(
            f"  {tag}: {len(records)} sent, {errors} errors, {len(records) - len(latencies)} lost, "
            f"p50 {quantile(latencies, 0.5):.1f} ms, p99 {quantile(latencies, 0.99):.1f} ms"
            + (f"; first error: {first_error}" if first_error else "")
        )
        span = max(seconds, max((start for _, start, _ in records), default=t0) - t0 + 1 / rate)
        return {
            "sent": len(records),
            "errors": errors,
            "first_error": first_error,
            "lost": len(records) - len(latencies),
            "duplicates": consumed["duplicates"],
            "achieved_rate": len(records) / span,
            "p50_ms": quantile(latencies, 0.5),
            "p99_ms": quantile(latencies, 0.99),
            "call_p50_ms": quantile([1000 * (e - s) for _, s, e in records], 0.5),
            "cpu": phase.cpu,
            "keys": [key for key, _, _ in records],
        }

    def flood(self, kind: str, target: tuple[str, ...], queue_url: str, seconds: float, tag: str) -> dict[str, Any]:
        """Every producer thread as fast as it can for ``seconds``: acknowledged and received events/s."""
        phase = self._run(("flood", kind, target, seconds, tag, self.args.ceiling_threads), queue_url, seconds)
        records, consumed, errors, first_error, t0 = (
            phase.records,
            phase.consumed,
            phase.errors,
            phase.first_error,
            phase.t0,
        )
        end = t0 + seconds
        got = consumed["got"]
        received = [got[key] for key, _, _ in records if key in got]
        log(
            f"  {tag}: {len(records)} acknowledged ({len(records) / seconds:.0f}/s), {errors} errors, "
            f"{len(records) - len(received)} not received" + (f"; first error: {first_error}" if first_error else "")
        )
        log("    CPU (cores): " + ", ".join(f"{role} {cores:.2f}" for role, cores in phase.cpu.items()))
        return {
            "acked": len(records),
            "errors": errors,
            "first_error": first_error,
            "acked_eps": sum(1 for _, _, e in records if e <= end) / seconds,
            "received_eps": sum(1 for t in received if t <= end) / seconds,
            "lost": len(records) - len(received),
            "duplicates": consumed["duplicates"],
            "drain_s": max(0.0, max(received, default=end) - end),
            "t0": t0,
            "end": end,
            "cpu": phase.cpu,
            "keys": [key for key, _, _ in records],
        }

    def backlog(self, setup: Setup, hit_types: list[str], queue_urls: list[str], tag: str) -> dict[str, Any]:
        """``--backlog-events`` HITCreated committed at once over ``hit_types``, timed to their last delivery."""
        from sqlalchemy import func, select

        from openturk.domain.model import Event
        from openturk.notify.outbox import record_events
        from openturk.store.database import Database
        from openturk.store.schema import access_keys, delivery_attempts, messages

        n = self.args.backlog_events
        db = Database(setup.db_url)
        try:
            with db.read() as conn:
                customer_id = conn.execute(
                    select(access_keys.c.customer_id).where(access_keys.c.access_key_id == ACCESS_KEY)
                ).scalar_one()
            now_ms = int(time.time() * 1000)
            events = [
                Event("HITCreated", now_ms, customer_id, hit_types[i % len(hit_types)], f"{tag}{i:07d}")
                for i in range(n)
            ]
            before = self._cpu_seconds(self._pids())
            begun = time.time()
            delivered_events = select(  # messages formed from this backlog: those formed after it began
                func.coalesce(func.sum(messages.c.event_count), 0),
                func.min(messages.c.delivered_at),
                func.max(messages.c.delivered_at),
                func.count(),
            ).where(
                messages.c.state == "delivered",
                messages.c.destination.in_(queue_urls),
                messages.c.created_at >= int(begun * 1000),
            )
            with db.write() as conn:
                record_events(conn, events, int(time.time() * 1000))
            committed = time.time()
            deadline = time.monotonic() + self.args.drain_timeout + n / 100
            delivered = messages_sent = 0
            first_ms = last_ms = None
            while time.monotonic() < deadline:
                with db.read() as conn:
                    delivered, first_ms, last_ms, messages_sent = conn.execute(delivered_events).one()
                if delivered >= n:
                    break
                time.sleep(0.1)
            cpu = self._cpu_since(before, max(1e-3, time.time() - begun))
            with db.read() as conn:  # how the sends went: failed attempts, and sends by each dispatcher
                attempts = conn.execute(
                    select(delivery_attempts.c.outcome, delivery_attempts.c.dispatcher, func.count())
                    .join(messages, messages.c.message_id == delivery_attempts.c.message_id)
                    .where(messages.c.destination.in_(queue_urls), messages.c.created_at >= int(begun * 1000))
                    .group_by(delivery_attempts.c.outcome, delivery_attempts.c.dispatcher)
                ).all()
        finally:
            db.dispose()
        if delivered < n:
            raise RuntimeError(f"{setup.name} backlog: only {delivered}/{n} events delivered\n{setup.log_tail()}")
        failed = sum(count for outcome, _, count in attempts if outcome != "delivered")
        by_dispatcher: dict[str, int] = {}
        for _, dispatcher, count in attempts:
            by_dispatcher[dispatcher] = by_dispatcher.get(dispatcher, 0) + count
        if failed:
            log(f"  {tag}: {failed} attempt(s) failed and were retried\n{setup.log_tail()}")
        last, first = last_ms / 1000, first_ms / 1000
        log(
            f"  {tag}: {n} events over {len(hit_types)} destinations delivered in {last - committed:.2f} s "
            f"({n / (last - committed):.0f}/s) in {messages_sent} messages; commit took {committed - begun:.2f} s; "
            f"attempts by dispatcher {sorted(by_dispatcher.values(), reverse=True)}"
        )
        log("    CPU (cores): " + ", ".join(f"{role} {cores:.2f}" for role, cores in cpu.items()))
        return {
            "eps": n / (last - committed),
            "first_delivery_s": first - committed,
            "events_per_message": n / messages_sent,
            "commit_s": committed - begun,
            "failed_attempts": failed,
            "cpu": cpu,
        }

    def wait_first_delivery(self, setup: Setup, hit_type_id: str, queue_url: str) -> float:
        """One event after start-up, received: the server makes its SQS client; also proves the path works."""
        mturk = mturk_client(setup.server.base_url, ACCESS_KEY)
        start = time.time()
        hit_id = mturk.create_hit_with_hit_type(
            HITTypeId=hit_type_id, MaxAssignments=1, LifetimeInSeconds=3600, Question=HTML_QUESTION
        )["HIT"]["HITId"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for message in self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                if any(e["HITId"] == hit_id for e in json.loads(message["Body"])["Events"]):
                    return 1000 * (time.time() - start)
        found = json.dumps(setup.deliveries(hit_type_id))[-2000:]
        raise RuntimeError(
            f"{setup.name}: the first HITCreated never reached SQS; delivery log: {found}\n{setup.log_tail()}"
        )

    def measure_setup(self, name: str) -> dict[str, Any]:
        args = self.args
        setup = self.setup = Setup(name).start(self.send_url)
        try:
            q_latency, q_ceiling = self.new_queue(f"{name}-lat"), self.new_queue(f"{name}-ceil")
            latency_type = self.notified_hit_type(setup, q_latency)
            ceiling_type = self.notified_hit_type(setup, q_ceiling)
            backlog_queues = [
                self.new_queue(f"{name}-backlog{k}")
                for k in range(args.backlog_destinations if args.backlog_events else 0)
            ]
            backlog_types = [self.notified_hit_type(setup, q) for q in backlog_queues]
            cold_ms = self.wait_first_delivery(setup, latency_type, q_latency)
            self.wait_first_delivery(setup, ceiling_type, q_ceiling)
            target = (setup.server.base_url, latency_type)
            if args.ceiling_only:
                latency = NOT_MEASURED_LATENCY | {"keys": []}
            else:
                if args.warmup > 0:
                    self.scheduled(f"openturk:{args.latency_client}", target, q_latency, args.warmup, f"W{name}")
                log(f"{name}: CreateHITWithHITType at {args.rate:g}/s for {args.seconds:g}s → HITCreated → SQS")
                latency = self.scheduled(f"openturk:{args.latency_client}", target, q_latency, args.seconds, f"L{name}")
            log(f"{name}: every producer thread as fast as it can for {args.seconds:g}s ({args.ceiling_client})")
            transactions_before = setup.transactions()
            ceiling = self.flood(
                f"openturk:{args.ceiling_client}",
                (setup.server.base_url, ceiling_type),
                q_ceiling,
                args.seconds,
                f"C{name}",
            )
            time.sleep(1.0)  # each backend reports its transaction counts within about a second
            transactions_after = setup.transactions()
            setup.check_dispatchers()
            # The delivery log, once everything received has been delivered.
            latency_log = setup.deliveries(latency_type)
            ceiling_log = setup.deliveries(ceiling_type)
            backlog = None
            if backlog_types:
                log(
                    f"{name}: {args.backlog_events} events committed at once → {len(backlog_types)} queues"
                    + (f", each send {args.backlog_send_delay_ms:g} ms slower" if self.slow is not None else "")
                )
                if self.slow is not None:
                    self.slow.delay_s = args.backlog_send_delay_ms / 1000
                try:
                    backlog = self.backlog(setup, backlog_types, backlog_queues, f"B{name}")
                finally:
                    if self.slow is not None:
                        self.slow.delay_s = 0.0
        except BaseException:
            log(setup.log_tail())
            raise
        finally:
            setup.stop()
            self.setup = None
        wanted = set(latency.pop("keys"))
        commit_to_send = []
        latency_messages = 0
        in_log: dict[str, int] = {}  # HITId → delivered messages that carried it
        for message in [*latency_log, *ceiling_log]:
            if message["DeliveredAt"]:
                for event in message["Body"].get("Events", []):
                    in_log[event.get("HITId")] = in_log.get(event.get("HITId"), 0) + 1
        for message in latency_log:
            if not message["DeliveredAt"] or not message.get("AttemptLog"):
                continue
            if not any(e.get("HITId") in wanted for e in message["Body"].get("Events", [])):
                continue
            latency_messages += 1
            first_committed_ms = 1000 * message["DeliveredAt"] - message["LatencyMs"]
            commit_to_send.append(1000 * message["AttemptLog"][0]["StartedAt"] - first_committed_ms)
        acked = set(ceiling.pop("keys"))
        sends_by_dispatcher: dict[str, int] = {}  # the ceiling's attempts, by the dispatcher that made each
        for message in ceiling_log:
            for attempt in message.get("AttemptLog") or []:
                sends_by_dispatcher[attempt["Dispatcher"]] = sends_by_dispatcher.get(attempt["Dispatcher"], 0) + 1
        delivered_in_window = delivered_total = ceiling_messages = 0
        last_delivered = ceiling["end"]
        for message in ceiling_log:
            if not message["DeliveredAt"]:
                continue
            count = sum(1 for e in message["Body"].get("Events", []) if e.get("HITId") in acked)
            delivered_total += count
            ceiling_messages += 1 if count else 0
            if count and message["DeliveredAt"] <= ceiling["end"]:
                delivered_in_window += count
            if count:
                last_delivered = max(last_delivered, message["DeliveredAt"])
        return {
            "cold_first_delivery_ms": cold_ms,
            "p50_ms": latency["p50_ms"],
            "p99_ms": latency["p99_ms"],
            "achieved_rate": latency["achieved_rate"],
            "call_p50_ms": latency["call_p50_ms"],
            "sent": latency["sent"],
            "errors": latency["errors"],
            "lost": latency["lost"],
            "duplicates": latency["duplicates"],
            "first_error": latency["first_error"],
            # How many events each SQS message carried: the dispatcher's batching, from the delivery log.
            # Events the delivery log shows in more than one delivered message (sent twice by openturk), to
            # tell those from duplicates the receiver saw because SQS (moto) handed one message out twice.
            "events_in_two_messages": sum(1 for count in in_log.values() if count > 1),
            "events_per_message": latency["sent"] / latency_messages if latency_messages else None,
            "ceiling_events_per_message": delivered_total / ceiling_messages if ceiling_messages else None,
            "commit_to_send_p50_ms": quantile(commit_to_send, 0.5),
            "commit_to_send_p99_ms": quantile(commit_to_send, 0.99),
            "ceiling_acked_eps": ceiling["acked_eps"],
            "ceiling_delivered_eps": delivered_in_window / args.seconds,
            "ceiling_received_eps": ceiling["received_eps"],
            "ceiling_acked": ceiling["acked"],
            "ceiling_delivered": delivered_total,
            "ceiling_lost": ceiling["lost"],
            "ceiling_errors": ceiling["errors"],
            "ceiling_first_error": ceiling["first_error"],
            "ceiling_drain_s": ceiling["drain_s"],
            "ceiling_delivery_drain_s": max(0.0, last_delivered - ceiling["end"]),
            "ceiling_sends_by_dispatcher": sorted(sends_by_dispatcher.values(), reverse=True),
            # PostgreSQL transactions (every process's) per acknowledged CreateHIT in the ceiling phase.
            "ceiling_pg_transactions_per_event": (
                (transactions_after - transactions_before) / ceiling["acked"]
                if transactions_before is not None and transactions_after is not None and ceiling["acked"]
                else None
            ),
            "latency_cpu_cores": latency["cpu"],
            "ceiling_cpu_cores": ceiling["cpu"],
            "backlog_eps": backlog["eps"] if backlog else None,
            "backlog_first_delivery_s": backlog["first_delivery_s"] if backlog else None,
            "backlog_events_per_message": backlog["events_per_message"] if backlog else None,
            "backlog_failed_attempts": backlog["failed_attempts"] if backlog else None,
            "backlog_cpu_cores": backlog["cpu"] if backlog else None,
            # CPU per acknowledged CreateHIT in the ceiling phase, by role: where a 2-core machine's time goes.
            "ceiling_cpu_ms_per_event": {
                role: 1000 * cores * args.seconds / ceiling["acked"] if ceiling["acked"] else None
                for role, cores in ceiling["cpu"].items()
                if role != "machine_load1"
            },
        }

    def measure_bare(self) -> dict[str, Any]:
        args = self.args
        q_latency, q_ceiling = self.new_queue("bare-lat"), self.new_queue("bare-ceil")
        if args.ceiling_only:
            latency = NOT_MEASURED_LATENCY
        else:
            if args.warmup > 0:
                self.scheduled(f"bare:{args.latency_client}", (q_latency,), q_latency, args.warmup, "Wbare")
            log(f"bare: SendMessage at {args.rate:g}/s for {args.seconds:g}s → the same receiver")
            latency = self.scheduled(f"bare:{args.latency_client}", (q_latency,), q_latency, args.seconds, "Lbare")
        log(f"bare: every producer thread sends as fast as it can for {args.seconds:g}s ({args.ceiling_client})")
        ceiling = self.flood(f"bare:{args.ceiling_client}", (q_ceiling,), q_ceiling, args.seconds, "Cbare")
        return {
            "p50_ms": latency["p50_ms"],
            "p99_ms": latency["p99_ms"],
            "achieved_rate": latency["achieved_rate"],
            "sent": latency["sent"],
            "errors": latency["errors"],
            "lost": latency["lost"],
            "ceiling_sent_eps": ceiling["acked_eps"],
            "ceiling_received_eps": ceiling["received_eps"],
            "ceiling_lost": ceiling["lost"],
            "ceiling_errors": ceiling["errors"],
            "latency_cpu_cores": latency["cpu"],
            "ceiling_cpu_cores": ceiling["cpu"],
        }


# Figures that count events: summed over rounds (an event lost in any round shows), not a median.
SUMMED = {
    "sent",
    "errors",
    "lost",
    "duplicates",
    "events_in_two_messages",
    "ceiling_acked",
    "ceiling_delivered",
    "ceiling_lost",
    "ceiling_errors",
    "backlog_failed_attempts",
}


def combine_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure per figure of the rounds: the median (``SUMMED`` ones: the sum), key by key; for what
    is not a number (a first error), the first round's that has one."""
    if len(rounds) == 1:
        return rounds[0]

    def combine(key: str, values: list[Any]) -> Any:
        if all(isinstance(v, dict) for v in values):
            return {k: combine(k, [v.get(k) for v in values]) for k in values[0]}
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool) and v == v]
        if numbers and len(numbers) == len([v for v in values if v is not None]):
            return sum(numbers) if key in SUMMED else statistics.median(numbers)
        return next((v for v in values if v is not None), None)

    return {name: combine(name, [r[name] for r in rounds]) for name in rounds[0]}


# Set-ups compared round by round: the ceiling of the first against the second's in the same round.
PAIRS = (("pg2", "pg1"), ("pg2", "pg1idle"), ("pg1idle", "pg1"))


def paired(rounds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per pair of set-ups measured in every round: in how many rounds the first delivered less at the
    ceiling, and the median of its ceiling over the second's. A host whose speed drifts moves both of a
    round's figures, less than it moves the medians of rounds minutes apart."""
    compared = {}
    for first, second in PAIRS:
        if not all(first in r and second in r for r in rounds):
            continue
        ratios = [
            r[first]["ceiling_delivered_eps"] / r[second]["ceiling_delivered_eps"]
            for r in rounds
            if r[second]["ceiling_delivered_eps"]
        ]
        compared[f"{first}_vs_{second}"] = {
            "rounds": len(ratios),
            "rounds_behind": sum(1 for ratio in ratios if ratio < 1),
            "median_ratio": statistics.median(ratios) if ratios else None,
        }
    return compared


def targets(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's targets, checked against this run's figures (None where a figure is missing)."""
    bare, sqlite = results.get("bare", {}), results.get("sqlite", {})
    pg1, pg2 = results.get("pg1", {}), results.get("pg2", {})

    def check(value: Any, limit: Any, ok: Any) -> dict[str, Any]:
        known = isinstance(value, float) and isinstance(limit, float) and value == value and limit == limit
        return {
            "value": value if known else None,
            "limit": limit if known else None,
            "pass": bool(ok(value, limit)) if known else None,
        }

    return {
        "sqlite_p50_le_bare_p50_plus_5ms": check(
            sqlite.get("p50_ms"), bare.get("p50_ms", float("nan")) + 5, lambda v, lim: v <= lim
        ),
        "sqlite_p99_le_50ms": check(sqlite.get("p99_ms"), 50.0, lambda v, lim: v <= lim),
        "sqlite_delivered_ge_1000_eps": check(sqlite.get("ceiling_delivered_eps"), 1000.0, lambda v, lim: v >= lim),
        "pg2_delivered_ge_pg1": check(
            pg2.get("ceiling_delivered_eps"), pg1.get("ceiling_delivered_eps"), lambda v, lim: v >= lim
        ),
        # Not one of the targets: the same comparison where the dispatchers are the bottleneck.
        "pg2_backlog_ge_pg1": check(pg2.get("backlog_eps"), pg1.get("backlog_eps"), lambda v, lim: v >= lim),
    }


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _print_table(results: dict[str, Any], checks: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    def ms(value: Any) -> str:
        return "—" if value is None or value != value else f"{value:.1f}"

    def eps(value: Any) -> str:
        return "—" if value is None or value != value else f"{value:.0f}"

    table = Table(
        title=f"openturk scale: {args.rate:g} events/s latency and the ceiling, {args.seconds:g}s each"
        + (f" (medians of {args.rounds} rounds)" if args.rounds > 1 else "")
        + ", "
        f"{args.producers}×{args.threads} producer threads ({args.producers}×{args.ceiling_threads} in the ceiling) "
        f"({args.latency_client} / {args.ceiling_client} clients), {args.receivers} receiver threads"
    )
    for column in (
        "set-up",
        "p50 ms",
        "p99 ms",
        "commit→send p50/p99 ms",
        "achieved/s",
        "lost",
        "ceiling acked/s",
        "delivered/s",
        "received/s",
        "drain s",
        "backlog/s",
    ):
        table.add_column(column, justify="left" if column == "set-up" else "right")
    bare = results.get("bare")
    if bare:
        table.add_row(
            "bare SendMessage → receive",
            ms(bare["p50_ms"]),
            ms(bare["p99_ms"]),
            "",
            eps(bare["achieved_rate"]),
            str(bare["lost"]),
            eps(bare["ceiling_sent_eps"]),
            "",
            eps(bare["ceiling_received_eps"]),
            "",
            "",
        )
    for name, label in SETUPS.items():
        row = results.get(name)
        if not row:
            continue
        table.add_row(
            label,
            ms(row["p50_ms"]),
            ms(row["p99_ms"]),
            f"{ms(row['commit_to_send_p50_ms'])} / {ms(row['commit_to_send_p99_ms'])}",
            eps(row["achieved_rate"]),
            str(row["lost"]),
            eps(row["ceiling_acked_eps"]),
            eps(row["ceiling_delivered_eps"]),
            eps(row["ceiling_received_eps"]),
            f"{row['ceiling_drain_s']:.2f}",
            eps(row["backlog_eps"]),
        )
    console = Console(width=200)
    console.print(table)
    for name, check in checks.items():
        verdict = {True: "PASS", False: "FAIL", None: "n/a (not measured)"}[check["pass"]]
        console.print(f"  {verdict:<5} {name}: {ms(check['value'])} vs {ms(check['limit'])}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="openturk at scale: latency and end-to-end ceiling per store set-up")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of each latency and ceiling phase")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second in the latency phases")
    parser.add_argument("--setups", default="sqlite,pg1,pg2", help=f"comma-separated, of {', '.join(SETUPS)}")
    parser.add_argument("--producers", type=int, default=2, help="producer processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per producer process, each its own client")
    parser.add_argument(
        "--ceiling-threads",
        type=int,
        default=16,
        help="threads per producer process in the ceiling phases: calls in flight are producers × this; "
        "fewer leave the server waiting on the clients' round trips, so the ceiling it shows is theirs",
    )
    parser.add_argument("--receivers", type=int, default=4, help="receiver threads (one process)")
    parser.add_argument(
        "--receiver-client",
        choices=("boto3", "lean"),
        default="lean",
        help="the receiver's client (lean: less of the machine goes to measuring; the same for every set-up)",
    )
    parser.add_argument(
        "--latency-client",
        choices=("boto3", "lean"),
        default="boto3",
        help="producers' client in the latency phases (boto3: as the issue measured)",
    )
    parser.add_argument(
        "--ceiling-client",
        choices=("boto3", "lean"),
        default="lean",
        help="producers' client in the ceiling phases (lean: signed JSON on kept-alive connections, "
        "so the machine's cores go to what is measured rather than to boto3)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure the bare reference and every set-up this many times, one after another; the figures "
        "are the medians of the rounds (counts of events: their sums) and the targets are checked on them",
    )
    parser.add_argument(
        "--backlog-events",
        type=int,
        default=20_000,
        help="events committed at once after the ceiling, timed to their delivery (0: no backlog phase)",
    )
    parser.add_argument(
        "--backlog-destinations", type=int, default=8, help="HIT types (each its own queue) the backlog is spread over"
    )
    parser.add_argument(
        "--backlog-send-delay-ms",
        type=float,
        default=0.0,
        help="milliseconds added to each send's round trip in the backlog phase (0: none, no proxy)",
    )
    parser.add_argument(
        "--ceiling-only",
        action="store_true",
        help="no warm-up and no latency phase in the set-ups (their figures are null): more rounds of the "
        "ceiling in the same time, as comparing set-ups on a noisy machine needs",
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured warm-up at the rate")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to wait for stragglers")
    args = parser.parse_args(argv)
    setups = [s for s in args.setups.split(",") if s]
    if (
        args.rate <= 0
        or args.seconds <= 0
        or min(args.producers, args.threads, args.ceiling_threads, args.receivers, args.rounds) < 1
        or args.backlog_events < 0
        or args.backlog_send_delay_ms < 0
        or args.backlog_destinations < 1
        or not setups
        or not set(setups) <= set(SETUPS)
    ):
        parser.error(
            f"--rate, --seconds > 0; --producers, --threads, --ceiling-threads, --receivers, --rounds, "
            f"--backlog-destinations >= 1; --backlog-events, --backlog-send-delay-ms >= 0; "
            f"--setups of {', '.join(SETUPS)}"
        )

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    bench = Bench(args)
    rounds: list[dict[str, Any]] = []
    try:
        log(f"starting moto, {args.producers} producer processes × {args.threads} threads and a receiver…")
        bench.start()
        for number in range(1, args.rounds + 1):
            if args.rounds > 1:
                log(f"round {number} of {args.rounds}")
            measured: dict[str, Any] = {"bare": bench.measure_bare()}
            # Every other round the other way round: a machine that gets busier through a round (the
            # load a set-up leaves behind, other work) must not favour whichever set-up comes first.
            for name in setups if number % 2 else reversed(setups):
                log(f"{name}: starting {SETUPS[name]}…")
                measured[name] = bench.measure_setup(name)
            rounds.append(measured)
    except KeyboardInterrupt:
        log("interrupted; stopping")
        return 130
    finally:
        bench.stop()
    results = combine_rounds(rounds)
    checks = targets(results)
    compared = paired(rounds)
    _print_table(results, checks, args)
    for name, pair in compared.items():
        log(
            f"  {name}: behind in {pair['rounds_behind']} of {pair['rounds']} rounds, "
            + (f"median ratio {pair['median_ratio']:.3f}" if pair["median_ratio"] is not None else "no ratio")
        )

    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return None if value != value else round(value, 2)  # NaN → null
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):  # each_round: a latency not measured is NaN there too
            return [clean(v) for v in value]
        return value

    print(
        json.dumps(
            clean(
                {
                    "seconds": args.seconds,
                    "rate": args.rate,
                    "producers": args.producers,
                    "threads": args.threads,
                    "ceiling_threads": args.ceiling_threads,
                    "receivers": args.receivers,
                    "receiver_client": args.receiver_client,
                    "latency_client": args.latency_client,
                    "ceiling_client": args.ceiling_client,
                    "backlog_events": args.backlog_events,
                    "backlog_destinations": args.backlog_destinations,
                    "backlog_send_delay_ms": args.backlog_send_delay_ms,
                    "ceiling_only": args.ceiling_only,
                    "cpus": os.cpu_count(),
                    "rounds": args.rounds,
                    **results,
                    "targets": checks,
                    "paired": compared,
                    **({"each_round": rounds} if args.rounds > 1 else {}),
                }
            )
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
