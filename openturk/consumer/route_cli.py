"""``openturk route``: split a mixed notification queue into per-event-type queues.

    openturk route --from SOURCE_URL --to AssignmentSubmitted=URL_A --to HITReviewable,HITExpired=URL_B \\
        [--default URL] [--aws-endpoint URL] [--region R] [--once | --seconds S]

The main parser calls ``register(subparsers)`` and sends ``args.command == "route"`` to ``run(args)``.
Exit status: 0 done; 1 with ``--once`` when some message could not be routed and was left in the
source queue, or when the source queue cannot be read at all (it does not exist, access is denied:
one error line); 2 bad input (a malformed ``--to``, a name in it that is no MTurk event type). Other
ReceiveMessage errors (an endpoint down) are logged and retried with a backoff doubling from 1 s to
30 s. Without ``--once``/``--seconds`` it runs until SIGTERM or SIGINT and finishes the batch in hand
first. ``AWS_ENDPOINT_URL`` and the usual AWS variables are honoured.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from openturk.consumer.split import RouteError, RouteTable, SourceUnavailable, Splitter
from openturk.consumer.sqs import endpoint_url, make_sqs_client

log = logging.getLogger("openturk.consumer.route")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``route`` to the main parser's subcommands."""
    route = subparsers.add_parser(
        "route",
        help="republish a mixed notification queue's events into per-event-type queues",
        description="Each document goes to every target that takes one of its event types, holding only "
        "those events, with its original EventDocId; the source message is deleted once every target "
        "accepted its part. Events no --to names go to --default, or are dropped with a log line.",
    )
    route.add_argument("--from", dest="source", required=True, metavar="QUEUE_URL", help="the mixed queue")
    route.add_argument(
        "--to",
        dest="routes",
        action="append",
        required=True,
        metavar="EventType[,EventType...]=QUEUE_URL",
        help="where events of these types go (repeatable; a type named twice goes to both queues)",
    )
    route.add_argument("--default", default=None, metavar="QUEUE_URL", help="where other event types go")
    route.add_argument(
        "--aws-endpoint",
        default=None,
        type=endpoint_url,
        metavar="URL",
        help="SQS endpoint (default: AWS_ENDPOINT_URL, else real AWS)",
    )
    route.add_argument("--region", default=None, help="default: the source queue URL's region, else us-east-1")
    route.add_argument(
        "--retry-delay",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds before a message that could not be routed is tried again, doubling per try",
    )
    route.add_argument("--retry-cap", type=float, default=300.0, metavar="S", help="longest retry delay")
    route.add_argument("--log-level", default="info")
    mode = route.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="route what the source queue holds now, then exit")
    mode.add_argument("--seconds", type=float, default=None, metavar="S", help="route for S seconds, then exit")


def run(args: argparse.Namespace) -> int:
    """Route until done (see the module docstring for the exit status)."""
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        table = RouteTable.parse(args.routes, args.default, source=args.source)
    except RouteError as exc:
        log.error("%s", exc)
        return 2
    splitter = Splitter(
        sqs_client(args.source, args.aws_endpoint, args.region),
        args.source,
        table,
        wait_s=5,  # short long-polls: SIGTERM waits at most this long for the receive in hand
        retry_base_s=args.retry_delay,
        retry_cap_s=args.retry_cap,
    )
    stop = threading.Event()
    with _stopping_on_signals(stop):
        try:
            report = splitter.run(stop, seconds=args.seconds, once=args.once)
        except SourceUnavailable as exc:
            log.error("%s", exc)
            return 1
    log.info(
        "routed %d document(s) as %d part(s); %d event(s) had no target and were dropped; "
        "%d message(s) left in the source queue to try again",
        report.documents,
        report.parts,
        report.dropped,
        report.kept,
    )
    return 1 if args.once and report.kept else 0


def sqs_client(queue_url: str, endpoint: str | None, region: str | None) -> Any:
    """The source's client (and the targets'): ``openturk.consumer.make_sqs_client``'s rules."""
    return make_sqs_client(endpoint, region, queue_url=queue_url)


@contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop``: the batch in hand is finished, nothing new is received."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda _sig, _frame: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
