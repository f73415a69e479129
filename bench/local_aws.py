"""The embedded local AWS with a backlog: what a send costs when its queues hold many messages.

    python bench/local_aws.py --seconds 5 [--backlogs 0,1000,5000,20000] [--rounds 1]

Starts two local AWS processes as ``openturk serve`` starts its own (``LocalAWS``): one durable (a
state file: every answer waits until its change is on disk, ``openturk serve``'s default) and one in
memory (no state file: the baseline, in the same run). Both get the same queue, filled step by step to
each ``--backlogs`` size with 800-byte messages nobody reads (a requester who does not consume yet).
At each size, for ``--seconds``, one boto3 client per endpoint, taking turns, calls SendMessageBatch with
10 entries (what openturk's dispatcher sends): p50/p99 per call. Then a consumer starts on the
backlog: ``--drain`` messages received and deleted (10 per call) from each endpoint, in turns: ms
per message. A second queue is then cycled (send, receive, delete) as a consumer would, and the
durable local AWS's resident memory is read before and after, with the state file's size.

Prints a table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.measure import quantile, sqs_client  # noqa: E402
from openturk.notify.local_aws import LocalAWS  # noqa: E402

BODY = "x" * 800


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def state_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


def entries(start: int) -> list[dict[str, str]]:
    return [{"Id": str(n), "MessageBody": BODY} for n in range(start, start + 10)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of sends measured at each backlog")
    parser.add_argument("--backlogs", default="0,1000,5000,20000", help="comma-separated messages waiting")
    parser.add_argument("--drain", type=int, default=1000, help="messages received and deleted from the backlog")
    parser.add_argument("--cycles", type=int, default=3000, help="messages sent, received and deleted at the end")
    parser.add_argument("--rounds", type=int, default=1, help="the whole measurement this many times; medians")
    args = parser.parse_args()
    backlogs = sorted(int(b) for b in args.backlogs.split(","))
    console = Console(stderr=True)
    rounds = [measure(args, backlogs, console) for _ in range(args.rounds)]

    def median(path: list[str]) -> float:
        values = []
        for one in rounds:
            value: Any = one
            for key in path:
                value = value[key]
            values.append(value)
        return round(statistics.median(values), 2)

    figures: dict[str, Any] = {"seconds": args.seconds, "rounds": args.rounds, "backlogs": {}}
    table = Table(title=f"local AWS: SendMessageBatch (10 × 800 B) with a backlog, {args.seconds:g}s each")
    for column in ("waiting", "durable p50 ms", "durable p99 ms", "memory p50 ms", "memory p99 ms", "durable/memory"):
        table.add_column(column, justify="right")
    for backlog in backlogs:
        key = str(backlog)
        row = {f"{mode}_{q}_ms": median([key, mode, q]) for mode in ("durable", "memory") for q in ("p50", "p99")}
        row["durable_over_memory_p50"] = round(row["durable_p50_ms"] / row["memory_p50_ms"], 2)
        figures["backlogs"][key] = row
        table.add_row(
            f"{backlog:,}",
            *(f"{row[f'{mode}_{q}_ms']:.1f}" for mode in ("durable", "memory") for q in ("p50", "p99")),
            f"{row['durable_over_memory_p50']:.2f}",
        )
    names = ("drain_durable_ms_per_message", "drain_memory_ms_per_message")
    for name in (*names, "cycle_rss_growth_mb", "state_file_mb", "cycle_durable_ms_per_message"):
        figures[name] = median([name])
    console.print(table)
    console.print(
        f"draining {args.drain:,} of the {backlogs[-1]:,}+ waiting: "
        f"{figures['drain_durable_ms_per_message']:.1f} ms per message received and deleted (durable), "
        f"{figures['drain_memory_ms_per_message']:.1f} ms (memory)"
    )
    console.print(
        f"after {args.cycles:,} messages sent, received and deleted: the durable local AWS's memory grew "
        f"{figures['cycle_rss_growth_mb']:.1f} MB ({figures['cycle_durable_ms_per_message']:.1f} ms per message), "
        f"its state file holds {figures['state_file_mb']:.1f} MB"
    )
    print(json.dumps(figures))
    return 0


def measure(args: argparse.Namespace, backlogs: list[int], console: Console) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="openturk-bench-local-aws-"))
    state_path = folder / "state"
    durable, memory = LocalAWS(state_path=state_path).start(), LocalAWS().start()
    result: dict[str, Any] = {}
    try:
        clients = {"durable": sqs_client(durable.url), "memory": sqs_client(memory.url)}
        queues = {mode: client.create_queue(QueueName="backlog")["QueueUrl"] for mode, client in clients.items()}
        filled = 0
        for backlog in backlogs:
            console.log(f"filling both queues to {backlog:,} messages")
            while filled + 10 <= backlog:
                for mode, client in clients.items():
                    client.send_message_batch(QueueUrl=queues[mode], Entries=entries(0))
                filled += 10
            calls: dict[str, list[float]] = {"durable": [], "memory": []}
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:  # taking turns: both see the same machine at the same moments
                for mode, client in clients.items():
                    started = time.perf_counter()
                    client.send_message_batch(QueueUrl=queues[mode], Entries=entries(0))
                    calls[mode].append(1000 * (time.perf_counter() - started))
                filled += 10
            result[str(backlog)] = {
                mode: {"p50": quantile(times, 0.5), "p99": quantile(times, 0.99)} for mode, times in calls.items()
            }
            console.log(
                f"{backlog:,} waiting: durable p50 {result[str(backlog)]['durable']['p50']:.1f} ms, "
                f"memory p50 {result[str(backlog)]['memory']['p50']:.1f} ms ({len(calls['durable'])} calls each)"
            )
        drained = {"durable": 0.0, "memory": 0.0}
        for _ in range(max(1, args.drain // 10)):
            for mode, each in clients.items():
                started = time.perf_counter()
                got = each.receive_message(QueueUrl=queues[mode], MaxNumberOfMessages=10, VisibilityTimeout=600)
                handles = [m["ReceiptHandle"] for m in got.get("Messages", [])]
                each.delete_message_batch(
                    QueueUrl=queues[mode], Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(handles)]
                )
                drained[mode] += time.perf_counter() - started
        for mode, seconds in drained.items():
            result[f"drain_{mode}_ms_per_message"] = 1000 * seconds / (max(1, args.drain // 10) * 10)
        client = clients["durable"]
        cycled = client.create_queue(QueueName="cycled")["QueueUrl"]
        assert durable.process is not None
        before = rss_mb(durable.process.pid)
        started = time.perf_counter()
        done = 0
        while done < args.cycles:
            client.send_message_batch(QueueUrl=cycled, Entries=entries(0))
            got = client.receive_message(QueueUrl=cycled, MaxNumberOfMessages=10).get("Messages", [])
            if got:
                client.delete_message_batch(
                    QueueUrl=cycled,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)],
                )
            done += 10
        result["cycle_durable_ms_per_message"] = 1000 * (time.perf_counter() - started) / done
        result["cycle_rss_growth_mb"] = rss_mb(durable.process.pid) - before
        result["state_file_mb"] = state_mb(state_path)
    finally:
        durable.stop()
        memory.stop()
    return result


if __name__ == "__main__":
    sys.exit(main())
