"""``openturk consume`` and ``openturk tail``: run a consumer, or watch a queue without consuming it.

The main parser calls ``register(sub)`` and sends ``args.command in ("consume", "tail")`` to
``run(args)``. Exit status: 0 done or stopped by SIGTERM/SIGINT, 1 the queue cannot be consumed
(``tail``: any AWS error, such as a missing queue or an unreachable endpoint), 2 bad input (a handler
that cannot be loaded, whatever its import raised; a ``--dedup`` store that cannot be opened;
inconsistent options). Each failure is one error line, never a traceback.

SIGTERM/SIGINT stop ``consume`` at once when idle, and after at most ``--shutdown-timeout`` seconds
(default 30) when handlers are running: those that finish are acknowledged, the messages of the
others are returned to the queue undeleted. ``--customer-id`` makes the router refuse documents of
any other CustomerId: they fail like a rejected sender (never deleted; dead-lettered).

``--handler module:name`` names either a ``Router`` (used as it is; ``--dedup``, when given, replaces
its store) or a callable taking one ``Event`` (it becomes the default handler of a new Router whose
store is ``--dedup``, by default the SQLite file ./openturk-consumer.db). The module is imported from
the current directory or PYTHONPATH.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from openturk.consumer.dedup import DedupStore, open_dedup
from openturk.consumer.events import Event, MalformedNotification, documents_from
from openturk.consumer.router import Router
from openturk.consumer.sqs import endpoint_url

DEFAULT_DEDUP = "openturk-consumer.db"
TAIL_HOLD_S = 5  # how long a tail sweep hides what it has seen, so it can page through the queue
TAIL_POLL_S = 2  # short long-polls, so SIGINT ends tail promptly


class HandlerSpecError(ValueError):
    """``--handler`` does not name an importable Router or callable."""


class DedupURLError(ValueError):
    """``--dedup`` names a store that cannot be opened (unknown scheme, unreachable database, bad path)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``consume`` and ``tail`` to the main parser's subcommands."""
    consume = subparsers.add_parser("consume", help="run a notification consumer on an SQS queue")
    _queue_options(consume)
    consume.add_argument(
        "--handler",
        required=True,
        metavar="MODULE:NAME",
        help="a Router, or a function taking one Event (imported from . or PYTHONPATH)",
    )
    consume.add_argument(
        "--dedup",
        default=None,
        metavar="URL",
        help=f"de-duplication store: sqlite:///path, postgresql://..., memory:, or a path "
        f"(default ./{DEFAULT_DEDUP}, or the Router's own store)",
    )
    consume.add_argument("--concurrency", type=int, default=1, metavar="N", help="messages handled in parallel")
    consume.add_argument(
        "--dead-letter-queue",
        default=None,
        metavar="URL",
        help="move a message here after --max-receives failed receives",
    )
    consume.add_argument("--max-receives", type=int, default=None, metavar="N")
    consume.add_argument(
        "--sender-id", default=None, metavar="ID", help="reject messages whose SQS SenderId is not this identity"
    )
    consume.add_argument("--wait-seconds", type=int, default=20, metavar="N", help="long-poll time, 0..20")
    consume.add_argument(
        "--visibility-timeout",
        type=int,
        default=30,
        metavar="S",
        help="seconds a received message stays hidden (extended while its handler runs)",
    )
    consume.add_argument(
        "--failure-backoff",
        type=float,
        default=2.0,
        metavar="S",
        help="first retry delay of a failed message; doubles with each receive",
    )
    consume.add_argument("--batch-size", type=int, default=10, metavar="N", help="messages per receive, 1..10")
    consume.add_argument(
        "--shutdown-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="on SIGTERM/SIGINT, how long running handlers may finish; unfinished messages are returned undeleted",
    )
    consume.add_argument(
        "--customer-id",
        default=None,
        metavar="ID",
        help="refuse (never handle, never delete) documents whose CustomerId is not this requester's",
    )

    tail = subparsers.add_parser("tail", help="print the events in an SQS queue as they arrive, without deleting")
    _queue_options(tail)
    tail.add_argument("--count", type=int, default=None, metavar="N", help="stop after N events")
    tail.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds")


def _queue_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue-url", required=True, metavar="URL")
    parser.add_argument(
        "--aws-endpoint",
        default=None,
        type=endpoint_url,
        metavar="URL",
        help="SQS endpoint (default: AWS_ENDPOINT_URL, else real AWS)",
    )
    parser.add_argument("--region", default=None, help="default: AWS_REGION, the queue URL's, else us-east-1")


def run(args: argparse.Namespace) -> int:
    """Carry out ``consume`` or ``tail``; return the exit status."""
    if args.command == "consume":
        return consume(args)
    if args.command == "tail":
        return tail(args)
    raise ValueError(f"not a consumer command: {args.command}")


# -- consume ------------------------------------------------------------------------------------------------------


def load_router(spec: str, dedup_url: str | None) -> Router:
    """The Router ``spec`` (``module:name``) names, or a new one with the named callable as default handler."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise HandlerSpecError(f"--handler {spec!r} must look like module:name")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerSpecError(f"--handler {spec!r}: cannot import {module_name!r}: {exc}") from exc
    # The module's own code failed (SyntaxError, its top level raised, even sys.exit() or a
    # KeyboardInterrupt of its own): the command still ends with its one-line error and exit 2.
    except BaseException as exc:
        raise HandlerSpecError(
            f"--handler {spec!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise HandlerSpecError(f"{module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if isinstance(target, Router):
        if dedup_url is not None:
            target.dedup = _open_store(dedup_url)
        return target
    if not callable(target):
        raise HandlerSpecError(f"{spec!r} is neither a Router nor a function taking one Event")
    router = Router(dedup=_open_store(dedup_url or DEFAULT_DEDUP))
    router.default(target)
    return router


def _open_store(url: str) -> DedupStore:
    """``open_dedup(url)``, its failures wrapped as ``DedupURLError`` naming the option."""
    try:
        return open_dedup(url)
    except (SQLAlchemyError, ImportError, OSError) as exc:  # ImportError: a database driver not installed
        reason = (str(exc).splitlines() or [""])[0]  # SQLAlchemy appends a "Background on this error" line
        raise DedupURLError(f"--dedup {url!r} cannot be opened: {type(exc).__name__}: {reason}") from exc


def _on_signals(action: Callable[[], None]) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("openturk.consumer").info("%s: shutting down", signal.Signals(signum).name)
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once
        action()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def consume(args: argparse.Namespace) -> int:
    from openturk.consumer.sqs import ConsumerError, SQSConsumer

    err = Console(stderr=True, soft_wrap=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (args.dead_letter_queue is None) != (args.max_receives is None):
        err.print("[red]error[/red] --dead-letter-queue and --max-receives go together")
        return 2
    try:
        router = load_router(args.handler, args.dedup)
        if args.customer_id is not None:
            router.customer_id = args.customer_id
        consumer = SQSConsumer(
            args.queue_url,
            router,
            endpoint_url=args.aws_endpoint,
            region=args.region,
            concurrency=args.concurrency,
            wait_seconds=args.wait_seconds,
            batch_size=args.batch_size,
            visibility_timeout=args.visibility_timeout,
            failure_backoff_s=args.failure_backoff,
            dead_letter_queue_url=args.dead_letter_queue,
            max_receives=args.max_receives,
            sender_id=args.sender_id,
            shutdown_timeout_s=args.shutdown_timeout,
        )
    except ValueError as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        return 2
    _on_signals(consumer.stop)
    try:
        consumer.run()
    except ConsumerError as exc:
        err.print(f"[red]error[/red] {escape(str(exc))}")
        return 1
    return 0


# -- tail ---------------------------------------------------------------------------------------------------------


def tail(args: argparse.Namespace) -> int:
    """Print events as they arrive, deleting nothing.

    Each sweep receives what is visible (hiding it for at most TAIL_HOLD_S so the sweep can page past
    it), prints what was not printed before, and makes it all visible again at once. SQS has no peek:
    every look counts as a receive (ApproximateReceiveCount), so on a queue with a RedrivePolicy the
    messages nobody deletes reach its dead-letter queue after maxReceiveCount looks — a warning says so.
    An AWS error (a missing queue, an unreachable endpoint) ends it with one error line and status 1.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from openturk.consumer.sqs import make_sqs_client

    out = Console(soft_wrap=True, highlight=False)
    sqs = make_sqs_client(args.aws_endpoint, args.region, queue_url=args.queue_url)
    stop = threading.Event()
    _on_signals(stop.set)
    try:
        return _tail(out, sqs, args, stop)
    except (ClientError, BotoCoreError) as exc:
        # A watch has nothing to keep going for: the user sees why and runs it again.
        Console(stderr=True, soft_wrap=True).print(
            f"[red]error[/red] cannot tail {escape(args.queue_url)}: {escape(str(exc))}"
        )
        return 1


def _tail(out: Console, sqs: Any, args: argparse.Namespace, stop: threading.Event) -> int:
    redrive = sqs.get_queue_attributes(QueueUrl=args.queue_url, AttributeNames=["RedrivePolicy"])
    if "RedrivePolicy" in redrive.get("Attributes", {}):
        policy = json.loads(redrive["Attributes"]["RedrivePolicy"])
        out.print(
            f"[yellow]warning[/yellow] every look counts as a receive: with maxReceiveCount "
            f"{policy.get('maxReceiveCount')}, messages nobody deletes will move to the dead-letter queue"
        )
    deadline = time.monotonic() + args.seconds if args.seconds is not None else None
    seen: dict[str, None] = {}  # message ids printed, oldest first (bounded)
    printed = 0
    while not stop.is_set() and (args.count is None or printed < args.count):
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        wait = TAIL_POLL_S if remaining is None else max(0, min(TAIL_POLL_S, int(remaining)))
        fresh, held = _sweep(sqs, args.queue_url, seen, wait)
        try:
            for message in fresh:
                printed += _print_message(out, message, None if args.count is None else args.count - printed)
                if args.count is not None and printed >= args.count:
                    break
        finally:
            _show_again(sqs, args.queue_url, held)
        if held and not fresh:
            stop.wait(1.0)  # only old messages are visible: look again a little later, not in a tight loop
        elif not held and wait == 0:
            stop.wait(0.1)
    return 0


def _sweep(sqs: Any, queue_url: str, seen: dict[str, None], wait: int) -> tuple[list[dict[str, Any]], list[str]]:
    """One pass over the visible messages: (those not seen before, every receipt handle held)."""
    fresh: list[dict[str, Any]] = []
    held: list[str] = []
    started = time.monotonic()
    while time.monotonic() - started < TAIL_HOLD_S / 2:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0 if held else wait,
            VisibilityTimeout=TAIL_HOLD_S,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        for message in messages:
            held.append(message["ReceiptHandle"])
            if message["MessageId"] not in seen:
                seen[message["MessageId"]] = None
                fresh.append(message)
        while len(seen) > 100_000:
            del seen[next(iter(seen))]
    return fresh, held


def _show_again(sqs: Any, queue_url: str, receipts: list[str]) -> None:
    for start in range(0, len(receipts), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0}
            for i, r in enumerate(receipts[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def _print_message(out: Console, message: dict[str, Any], limit: int | None) -> int:
    """Print a message's events (at most ``limit``); return how many were printed."""
    attributes = message.get("Attributes", {})
    header = (
        f"[bold]message[/bold] {escape(message['MessageId'])}  receives "
        f"{attributes.get('ApproximateReceiveCount', '?')}  sender {escape(attributes.get('SenderId', '?'))}"
    )
    try:
        documents = documents_from(message["Body"])
    except MalformedNotification as exc:  # a body nested too deeply to parse included (events._decode)
        out.print(header)
        out.print(f"  [red]not a notification[/red]: {escape(str(exc))}")
        out.print(f"  {escape(message['Body'][:500])}")
        return 0
    count = 0
    for document in documents:
        out.print(f"{header}  document {escape(document.doc_id)}  customer {escape(document.customer_id or '-')}")
        for event in document.events:
            if limit is not None and count >= limit:
                return count
            out.print("  " + _event_line(event))
            count += 1
    return count


def _event_line(event: Event) -> str:
    when = event.event_timestamp.isoformat() if event.event_timestamp else "-"
    parts = [f"[cyan]{escape(event.event_type):<20}[/cyan]", when, f"HIT {escape(event.hit_id or '-')}"]
    if event.assignment_id:
        parts.append(f"assignment {escape(event.assignment_id)}")
    parts.append(f"type {escape(event.hit_type_id or '-')}")
    return "  ".join(parts)


__all__ = ["DedupURLError", "HandlerSpecError", "consume", "load_router", "register", "run", "tail"]
