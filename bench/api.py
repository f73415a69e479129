"""Requester API throughput: openturk vs. a bare uvicorn endpoint, driven by real boto3 clients.

    python bench/api.py --seconds 5 [--clients 4] [--rounds 3] [--warmup 1] [--server-arg=--no-dispatch]

Starts ``openturk serve`` (real clock, its own temporary SQLite file) and ``bench/bare_app.py`` (an ASGI app that
answers every POST with 200 ``{}``) under the same uvicorn settings, then measures, in ``--rounds`` interleaved rounds:

* create: CreateHITWithHITType requests/s (each client made one HIT type first),
* get:    GetHIT requests/s on HITs the same client created,
* bare:   GetAccountBalance against the bare endpoint (same boto3 call shape; ``{}`` parses fine).

Each client is a separate process (boto3 is CPU-heavy; one process would be GIL-bound) with its own access key,
so each is its own requester.  Every measurement has a warm-up first; requests completing inside the measured
window are counted.  The last line printed is one JSON object with the medians and the ratios to bare.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.measure import cpu_seconds, mturk_client  # noqa: E402 - after the path set-up above

HTML_QUESTION = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
    "<HTMLContent><![CDATA[<!DOCTYPE html><html><body><form><input name='answer'></form></body></html>]]>"
    "</HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>"
)
KINDS = ("bare", "create", "get")
SEED_HITS = 10  # HITs each client creates during setup, so GetHIT has targets whatever the order
MAX_CALLS = 10_000_000  # hard bound on any measuring loop, on top of its deadline


def client_main(index: int, server_url: str, bare_url: str, commands: Any, results: Any) -> None:
    """One benchmark client process: set up, then run measurement commands until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    try:
        key = f"AKIDBENCH{os.getpid():06d}{index:03d}"[:20]
        mturk = mturk_client(server_url, key)
        bare = mturk_client(bare_url, key)
        hit_type_id = mturk.create_hit_type(
            Title="Label an image",
            Description="Say what is in the picture",
            Reward="0.50",
            AssignmentDurationInSeconds=600,
            AutoApprovalDelayInSeconds=86400,
        )["HITTypeId"]
        hit_ids: list[str] = []

        def create() -> None:
            hit = mturk.create_hit_with_hit_type(
                HITTypeId=hit_type_id,
                MaxAssignments=1,
                LifetimeInSeconds=3600,
                Question=HTML_QUESTION,
            )["HIT"]
            hit_ids.append(hit["HITId"])

        rng = random.Random(index)

        def get() -> None:
            mturk.get_hit(HITId=hit_ids[rng.randrange(len(hit_ids))])

        def bare_call() -> None:
            bare.get_account_balance()

        for _ in range(SEED_HITS):
            create()
        bare_call()
        mturk.get_account_balance()
        calls = {"create": create, "get": get, "bare": bare_call}
        results.put(("ready", index, None))
    except BaseException as error:  # reported to the parent
        results.put(("error", index, f"setup: {type(error).__name__}: {error}"))
        return

    while True:
        try:
            command = commands.get(timeout=600)
        except queue.Empty:
            return  # parent vanished
        if command[0] == "stop":
            return
        _, kind, t0, warmup, seconds = command
        call = calls[kind]
        measure_from, measure_to = t0 + warmup, t0 + warmup + seconds
        count = errors = 0
        latency = 0.0
        first_error = None
        delay = t0 - time.time()
        if delay > 0:
            time.sleep(delay)
        for _ in range(MAX_CALLS):
            started = time.time()
            if started >= measure_to:
                break
            try:
                call()
                ok = True
            except Exception as error:  # counted, first one reported
                ok = False
                first_error = first_error or f"{type(error).__name__}: {error}"
            ended = time.time()
            if measure_from <= ended <= measure_to:
                if ok:
                    count += 1
                    latency += ended - started
                else:
                    errors += 1
        results.put(("done", index, {"count": count, "errors": errors, "latency": latency, "first_error": first_error}))


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} server exited early (code {proc.returncode})")
        try:
            httpx.post(url, content=b"{}", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


def _stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server: Any = None
        self.bare_proc: subprocess.Popen[bytes] | None = None
        self.workers: list[Any] = []
        self.commands: list[Any] = []
        self.ctx = mp.get_context("spawn")
        self.results: Any = self.ctx.Queue()

    def start(self) -> None:
        from openturk.testing import ServerProcess, free_port

        self.server = ServerProcess(
            virtual_clock=False, extra_args=["--starting-balance", "100000000", *self.args.server_arg]
        )
        self.server.start()
        bare_port = free_port()
        self.bare_url = f"http://127.0.0.1:{bare_port}"
        self.bare_proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "bare_app.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        _wait_http(self.bare_url, self.bare_proc)
        for index in range(self.args.clients):
            commands = self.ctx.Queue()
            worker = self.ctx.Process(
                target=client_main,
                name=f"bench-client-{index}",
                daemon=True,
                args=(index, self.server.base_url, self.bare_url, commands, self.results),
            )
            worker.start()
            self.commands.append(commands)
            self.workers.append(worker)
        self._collect("ready", timeout=120)

    def _collect(self, expected: str, timeout: float) -> list[Any]:
        got: dict[int, Any] = {}
        deadline = time.monotonic() + timeout
        while len(got) < len(self.workers):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"timed out waiting for clients ({len(got)}/{len(self.workers)} {expected})")
            try:
                status, index, payload = self.results.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                dead = [w.name for w in self.workers if not w.is_alive()]
                if dead:
                    raise RuntimeError(f"client process(es) died: {', '.join(dead)}") from None
                continue
            if status == "error":
                raise RuntimeError(f"client {index} failed: {payload}\n--- server log ---\n{self.server.log()[-3000:]}")
            got[index] = payload
        return [got[i] for i in range(len(self.workers))]

    def measure(self, kind: str) -> dict[str, float]:
        args = self.args
        t0 = time.time() + 0.3  # every client starts the warm-up at the same wall-clock instant
        for commands in self.commands:
            commands.put(("run", kind, t0, args.warmup, args.seconds))
        # The serving process's CPU time over the measured window (the main process is idle meanwhile).
        pid = self.bare_proc.pid if kind == "bare" and self.bare_proc else self.server.process.pid
        time.sleep(max(0.0, t0 + args.warmup - time.time()))
        cpu_from = cpu_seconds(pid)
        time.sleep(max(0.0, t0 + args.warmup + args.seconds - time.time()))
        cpu_to = cpu_seconds(pid)
        parts = self._collect("done", timeout=args.warmup + args.seconds + 120)
        count = sum(p["count"] for p in parts)
        errors = sum(p["errors"] for p in parts)
        latency = sum(p["latency"] for p in parts)
        first = next((p["first_error"] for p in parts if p["first_error"]), None)
        if first:
            print(f"  ! {kind}: {errors} errors in window, first: {first}", file=sys.stderr)
        cpu_ms = 1000 * (cpu_to - cpu_from) / count if count and cpu_from is not None and cpu_to is not None else None
        return {
            "rps": count / args.seconds,
            "errors": errors,
            "latency_ms": 1000 * latency / count if count else 0.0,
            "server_cpu_ms": cpu_ms,
        }

    def stop(self) -> None:
        # A second Ctrl-C must not cut the clean-up short.
        with contextlib.suppress(ValueError):  # not in the main thread
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for commands in self.commands:
            with contextlib.suppress(Exception):
                commands.put(("stop",))
        for worker in self.workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
                worker.join(timeout=5)
        _stop_process(self.bare_proc)
        if self.server is not None:
            self.server.__exit__(None, None, None)  # stop, then remove its temporary database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="openturk Requester API throughput vs. a bare uvicorn endpoint")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per measurement")
    parser.add_argument("--clients", type=int, default=4, help="concurrent boto3 client processes")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of bare/create/get, interleaved")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds before each measurement")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `openturk serve` (repeatable), e.g. --server-arg=--no-dispatch",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("--seconds > 0, --clients >= 1, --rounds >= 1, --warmup >= 0")

    bench = Bench(args)
    samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    try:
        print(f"starting servers and {args.clients} clients…", file=sys.stderr)
        bench.start()
        for round_no in range(args.rounds):
            order = KINDS[round_no % 3 :] + KINDS[: round_no % 3]  # rotate so no kind always runs first
            for kind in order:
                sample = bench.measure(kind)
                samples[kind].append(sample)
                cpu = "" if sample["server_cpu_ms"] is None else f", server CPU {sample['server_cpu_ms']:.2f} ms/req"
                print(
                    f"  round {round_no + 1}/{args.rounds} {kind:<6} {sample['rps']:8.1f} req/s "
                    f"({sample['latency_ms']:.1f} ms mean{cpu})",
                    file=sys.stderr,
                )
    except KeyboardInterrupt:
        print("interrupted; stopping", file=sys.stderr)
        return 130
    finally:
        bench.stop()

    med = {kind: statistics.median(s["rps"] for s in samples[kind]) for kind in KINDS}
    lat = {kind: statistics.median(s["latency_ms"] for s in samples[kind]) for kind in KINDS}
    cpus = {kind: [s["server_cpu_ms"] for s in samples[kind] if s["server_cpu_ms"] is not None] for kind in KINDS}
    errs = {kind: int(sum(s["errors"] for s in samples[kind])) for kind in KINDS}
    ratio = {kind: med[kind] / med["bare"] if med["bare"] else 0.0 for kind in ("create", "get")}
    labels = {"bare": "bare GetAccountBalance", "create": "CreateHITWithHITType", "get": "GetHIT"}

    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Requester API throughput ({args.clients} clients, {args.seconds:g}s × {args.rounds} rounds, "
        f"{args.warmup:g}s warm-up)"
    )
    table.add_column("measurement")
    table.add_column("median req/s", justify="right")
    table.add_column("rounds req/s", justify="right")
    table.add_column("mean latency ms", justify="right")
    table.add_column("server CPU ms/req", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("vs bare", justify="right")
    for kind in ("bare", "create", "get"):
        table.add_row(
            labels[kind],
            f"{med[kind]:.1f}",
            " ".join(f"{s['rps']:.0f}" for s in samples[kind]),
            f"{lat[kind]:.1f}",
            f"{statistics.median(cpus[kind]):.2f}" if cpus[kind] else "n/a",
            str(errs[kind]),
            "100%" if kind == "bare" else f"{ratio[kind]:.0%}",
        )
    Console(width=130).print(table)
    seconds = int(args.seconds) if args.seconds.is_integer() else args.seconds
    print(
        json.dumps(
            {
                "create_rps": round(med["create"], 1),
                "get_rps": round(med["get"], 1),
                "bare_rps": round(med["bare"], 1),
                "ratio_create": round(ratio["create"], 3),
                "ratio_get": round(ratio["get"], 3),
                "clients": args.clients,
                "seconds": seconds,
                "rounds": args.rounds,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
