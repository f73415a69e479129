"""The ``openturk`` command: serve, dispatch, deliveries, and requester and worker identities."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from openturk import exec_command, heap
from openturk.clock import SystemClock
from openturk.consumer import cli as consumer_cli
from openturk.consumer import route_cli
from openturk.notify import policy_cli
from openturk.settings import Settings
from openturk.store import db_cli
from openturk.store.database import Database, is_in_memory, missing_file
from openturk.store.db_cli import database_url

if TYPE_CHECKING:
    import uvicorn

console = Console(soft_wrap=True)


def _port(text: str) -> int:
    """A TCP port for argparse: 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0 picks a free one)")
    return port


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default="sqlite:///openturk.db",
        type=database_url,
        help="database URL: sqlite:///path or a file's path (default ./openturk.db), or postgresql://...",
    )


def _delivery_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--aws-endpoint",
        default=None,
        help="SQS/SNS endpoint notifications are sent to (default: real AWS if credentials are "
        "configured, else the embedded local endpoint: serve starts it, dispatch sends to serve's)",
    )
    parser.add_argument("--aws-access-key-id", default=None, help="the identity SQS/SNS messages are sent as")
    parser.add_argument("--aws-secret-access-key", default=None)
    parser.add_argument("--smtp-host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=25)
    parser.add_argument("--email-from", default="openturk@localhost")
    parser.add_argument(
        "--batch-window",
        type=float,
        default=0.0,
        help="seconds a wake-up waits for more events to share a message (default 0: events that commit "
        "while a send to their destination is in flight share its next message)",
    )
    parser.add_argument("--retry-base", type=float, default=1.0, help="first retry delay, seconds")
    parser.add_argument("--retry-cap", type=float, default=300.0, help="longest delay between tries, seconds")
    parser.add_argument("--max-attempts", type=int, default=12, help="tries before a message is dead-lettered")
    parser.add_argument(
        "--lease",
        type=float,
        default=30.0,
        help="seconds a dispatcher's claim lasts unrenewed (a send in flight renews it every third)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openturk", description="A self-hosted Amazon Mechanical Turk Requester API.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the Requester API server (and its dispatcher)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    _db_option(serve)
    serve.add_argument(
        "--auth",
        choices=["open", "sigv4"],
        default="open",
        help="open: any SigV4 request, the access key names the requester; sigv4: verify signatures",
    )
    serve.add_argument(
        "--virtual-clock", action="store_true", help="start the clock at real time and allow POST /api/clock/advance"
    )
    serve.add_argument(
        "--starting-balance", default="10000.00", type=_balance, help="each new requester's opening balance (USD)"
    )
    serve.add_argument("--no-dispatch", action="store_true", help="deliver from separate `openturk dispatch` processes")
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes sharing the listeners and the database (PostgreSQL for more than a few)",
    )
    serve.add_argument(
        "--local-aws-port",
        type=_port,
        default=Settings.embedded_aws_port,
        help="port of the embedded SQS/SNS endpoint (default %(default)s, beside the API's 8443)",
    )
    serve.add_argument(
        "--local-aws-state",
        default=None,
        help="file the embedded SQS/SNS endpoint keeps its queues, topics and messages in "
        "(default: next to an SQLite database, DB.local-aws; ./openturk.local-aws for PostgreSQL)",
    )
    serve.add_argument(
        "--admin-token",
        default=None,
        help="bearer token required by the admin routes (/api/clock, /api/deliveries, /metrics) when set; "
        "without it they answer loopback clients under --auth open and nobody under --auth sigv4",
    )
    serve.add_argument(
        "--file-url-secret",
        default=None,
        help="HMAC key of task tokens and GetFileUploadURL's download URLs (default: a random key made by the "
        "deployment's first server and kept in its database, shared by every server)",
    )
    serve.add_argument(
        "--task-port",
        type=_port,
        default=None,
        help="port of the task origin, the listener that serves requester content (default: --port + 2)",
    )
    serve.add_argument(
        "--task-origin",
        type=_origin,
        default=None,
        help="public origin of the task listener behind a proxy (default http://HOST:TASK_PORT); "
        "give it a host of its own in production, since cookies do not tell ports apart",
    )
    serve.add_argument(
        "--public-url",
        type=_origin,
        default=None,
        help="public origin of this listener behind a proxy (default http://HOST:PORT); "
        "GetFileUploadURL's download URLs name it",
    )
    serve.add_argument(
        "--timer-interval",
        type=_positive_seconds,
        default=1.0,
        help="seconds between passes of the timer loop (expiry, abandonment, auto-approval)",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        help="speak HTTPS with a certificate (localhost, 127.0.0.1, --host and MTurk's hostnames) from a local CA",
    )
    serve.add_argument(
        "--tls-dir",
        default=None,
        help="where the local CA and the certificate are kept (default: openturk-tls/ next to an SQLite database)",
    )
    serve.add_argument("--log-level", default="warning")
    _delivery_options(serve)

    dispatch = sub.add_parser("dispatch", help="deliver notifications from the database (no API)")
    _db_option(dispatch)
    dispatch.add_argument("--log-level", default="warning")
    dispatch.add_argument(
        "--local-aws-port",
        type=_port,
        default=Settings.embedded_aws_port,
        help="with no --aws-endpoint and no AWS credentials: the port of the embedded SQS/SNS endpoint "
        "that `openturk serve` runs on this machine (default %(default)s), which this process sends to",
    )
    _delivery_options(dispatch)

    deliveries = sub.add_parser("deliveries", help="list notification messages and their attempts")
    _db_option(deliveries)
    deliveries.add_argument("--hit-type-id")
    deliveries.add_argument("--state", choices=["pending", "sending", "delivered", "dead"])
    deliveries.add_argument("--since", type=float, help="epoch seconds")
    deliveries.add_argument("--limit", type=int, default=50)
    deliveries.add_argument("--json", action="store_true", help="print JSON instead of a table")
    deliveries_sub = deliveries.add_subparsers(dest="action")
    redrive = deliveries_sub.add_parser("redrive", help="send dead-lettered messages again (same EventDocId)")
    # Given here or before ``redrive``, either way: the default is the parent's, not restated here (a
    # subparser's default would overwrite a --db given before it, and redrive ./openturk.db instead).
    redrive.add_argument("--db", default=argparse.SUPPRESS, type=database_url, help="database URL (as for deliveries)")
    redrive.add_argument("message_ids", nargs="*", type=int, help="default: every dead message")

    requesters = sub.add_parser("requesters", help="manage requester accounts").add_subparsers(
        dest="action", required=True
    )
    create = requesters.add_parser("create", help="create a requester and print its key pair")
    create.add_argument("name", type=_at_most(255))
    _db_option(create)
    create.add_argument("--starting-balance", default="10000.00", type=_balance)

    layouts = sub.add_parser("layouts", help="manage HIT layouts (templates CreateHIT names with HITLayoutId)")
    layouts_sub = layouts.add_subparsers(dest="action", required=True)
    create_layout = layouts_sub.add_parser("create", help="store an HTML template with ${name} placeholders")
    create_layout.add_argument("name", type=_at_most(255))
    create_layout.add_argument("template", type=Path, help="HTML file (a whole page or a fragment)")
    create_layout.add_argument("--frame-height", type=int, default=0, help="HTMLQuestion FrameHeight (0: fit)")
    list_layouts = layouts_sub.add_parser("list", help="list a requester's layouts")
    list_layouts.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for layout_parser in (create_layout, list_layouts):
        owner = layout_parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--customer-id", help="the requester's CustomerId")
        owner.add_argument(
            "--access-key-id",
            type=_access_key_id,
            help="the requester's access key (create: an unknown key makes its requester, as --auth open would)",
        )
        layout_parser.add_argument(
            "--starting-balance", default="10000.00", type=_balance, help="for a requester made here"
        )
        _db_option(layout_parser)

    workers = sub.add_parser("workers", help="manage worker identities").add_subparsers(dest="action", required=True)
    create_worker = workers.add_parser("create", help="create a worker and print its bearer token")
    create_worker.add_argument("name", type=_at_most(255))
    create_worker.add_argument("--email", type=_at_most(254), help="where NotifyWorkers messages are also emailed")
    _db_option(create_worker)
    for action, text in (
        ("disable", "end a worker's web sessions and refuse its log-in"),
        ("enable", "allow it again"),
    ):
        toggle = workers.add_parser(action, help=text)
        toggle.add_argument("worker_id")
        _db_option(toggle)
    profile = workers.add_parser(
        "profile", help="show or change a worker's profile (system qualifications Locale and Adult)"
    )
    profile.add_argument("worker_id", metavar="WORKER_ID")
    profile.add_argument("--country", help="ISO 3166-1 alpha-2 code, e.g. US (a new country clears the subdivision)")
    profile.add_argument("--subdivision", help="ISO 3166-2 subdivision, e.g. WA or US-WA; '' clears it")
    profile.add_argument("--adult", action=argparse.BooleanOptionalAction, help="agreed to see adult content")
    profile.add_argument("--not-adult", dest="adult", action="store_false", default=None, help="same as --no-adult")
    _db_option(profile)
    masters = workers.add_parser("masters", help="grant or revoke the Masters qualification (sandbox and live ids)")
    masters.add_argument("masters_action", choices=("grant", "revoke"))
    masters.add_argument("worker_id", metavar="WORKER_ID")
    _db_option(masters)
    policy_cli.register(sub)
    route_cli.register(sub)
    exec_command.register(sub)
    db_cli.register(sub)
    consumer_cli.register(sub)
    return parser


def _cents(text: str) -> int:
    from openturk.domain.money import parse_amount

    return parse_amount(text, "--starting-balance")


def _no_database(url: str, out: Console) -> bool:
    """True, having said so on ``out``, when ``url`` names a SQLite file that is not there: a command
    that acts on a deployment's database must not make an empty one."""
    if (path := missing_file(url)) is None:
        return False
    out.print(f"[red]error[/red] no database at {path}: give the deployment's --db (serve makes it)")
    return True


def _at_most(limit: int) -> Callable[[str], str]:
    """A text for argparse that fits its column: SQLite would store a longer one, PostgreSQL (and so
    ``db copy`` to it) refuses it."""

    def check(text: str) -> str:
        if len(text) > limit:
            raise argparse.ArgumentTypeError(f"at most {limit} characters, not {len(text)}")
        if not text.strip():
            raise argparse.ArgumentTypeError("must not be empty")
        return text

    return check


def _access_key_id(text: str) -> str:
    """An access key id a signed request could name (its Credential's first part): what ``--auth
    open`` would make a requester of. An empty one made a requester nobody could reach."""
    if not text or len(text) > 128 or any(c.isspace() or c in ",/" for c in text):
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not an access key id (1-128 characters, no spaces, ',' or '/')"
        )
    return text


def _balance(text: str) -> str:
    """A starting balance for argparse: refused as a usage error (exit 2), not a traceback, when it is no amount."""
    from openturk.errors import OpenTurkError

    try:
        _cents(text)
    except OpenTurkError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in USD (like 10000.00)") from error
    return text


def _origin(text: str) -> str:
    """An origin for argparse: http(s)://host[:port], nothing after it."""
    from urllib.parse import urlsplit

    parts = urlsplit(text.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{text!r} is not an origin like https://tasks.example.org")
    return f"{parts.scheme}://{parts.netloc}"


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return seconds


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    from openturk.notify.local_aws import LOCAL_ACCESS_KEY, LOCAL_SECRET, real_credentials_configured

    if args.aws_endpoint and not args.aws_access_key_id and not real_credentials_configured():
        # An explicit local endpoint (moto, LocalStack) with no identity configured: any keys do.
        args.aws_access_key_id, args.aws_secret_access_key = LOCAL_ACCESS_KEY, LOCAL_SECRET
    return Settings(
        db_url=args.db,
        aws_endpoint=args.aws_endpoint,
        aws_access_key_id=args.aws_access_key_id,
        aws_secret_access_key=args.aws_secret_access_key,
        smtp_host=args.smtp_host,
        smtp_port=args.smtp_port,
        email_sender=args.email_from,
        batch_window_s=args.batch_window,
        retry_base_s=args.retry_base,
        retry_cap_s=args.retry_cap,
        max_attempts=args.max_attempts,
        lease_s=args.lease,
        **extra,  # type: ignore[arg-type]
    )


def serve(args: argparse.Namespace) -> int:

    from openturk.notify import local_aws as embedded
    from openturk.server import build_apps

    settings = _settings(
        args,
        host=args.host,
        port=args.port,
        auth=args.auth,
        virtual_clock=args.virtual_clock,
        starting_balance_cents=_cents(args.starting_balance),
        dispatch=not args.no_dispatch,
        admin_token=args.admin_token,
        file_url_secret=args.file_url_secret,
        timer_interval_s=args.timer_interval,
        embedded_aws_port=args.local_aws_port,
        embedded_aws_state=args.local_aws_state,
        task_port=args.task_port,
        task_origin=args.task_origin,
        public_url=args.public_url,
        tls=args.tls,
    )
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.workers > 1 and is_in_memory(settings.db_url):
        refusal = "an in-memory database lives in one process; --workers needs a file or PostgreSQL"
        console.print(f"[red]openturk serve: {refusal}[/red]")
        return 2
    for option, port in (("--port", settings.port), ("--task-port", settings.task_listen_port)):
        if (problem := _cannot_listen(settings.host, port)) is not None:
            console.print(f"[red]openturk serve: {option} {port} on {settings.host}: {escape(problem)}[/red]")
            return 2
    local_aws = None
    if settings.aws_endpoint is None and not embedded.real_credentials_configured():
        state = embedded.state_path(settings.embedded_aws_state, settings.db_url)
        try:
            local_aws = embedded.LocalAWS(settings.embedded_aws_port, state).start()
        except embedded.LocalAWSError as error:
            console.print(f"[red]openturk serve: {error}[/red]")
            return 2
        settings = replace(
            settings,
            aws_endpoint=local_aws.url,
            aws_access_key_id=embedded.LOCAL_ACCESS_KEY,
            aws_secret_access_key=embedded.LOCAL_SECRET,
        )
    certfile = keyfile = None
    if settings.tls:
        from openturk import tls

        files = tls.ensure(Path(args.tls_dir) if args.tls_dir else tls.default_dir(settings.db_url), (settings.host,))
        certfile, keyfile = str(files.cert), str(files.key)
    db = _migrated(settings.db_url)
    if settings.file_url_secret is None:
        from openturk.store.deployment_secrets import shared_secret

        # Every server of the deployment signs task tokens and download URLs with the same key.
        settings = replace(settings, file_url_secret=shared_secret(db))
    try:
        console.print(
            f"[bold]openturk[/bold] Requester API at [cyan]{settings.base_url}[/cyan] "
            f"(auth {settings.auth}, db {settings.db_url}{', virtual clock' if settings.virtual_clock else ''}"
            f"{f', {args.workers} processes' if args.workers > 1 else ''})"
        )
        if settings.tls:
            console.print(f"  TLS certificate from the local CA [cyan]{files.ca_cert}[/cyan] (openturk exec trusts it)")
        console.print(f'  boto3.client("mturk", endpoint_url="{settings.base_url}", region_name="us-east-1")')
        console.print(
            f"  worker site at [cyan]{settings.base_url}/[/cyan], task origin at [cyan]{settings.task_base_url}[/cyan]"
        )
        if local_aws is not None:
            console.print(
                f"  local SQS/SNS endpoint at [cyan]{local_aws.url}[/cyan] "
                f'(boto3.client("sqs", endpoint_url="{local_aws.url}", region_name="us-east-1"))'
            )
            console.print(f"  {embedded.what_is_kept(local_aws.state_path)}")
        sys.stdout.flush()
        tls_files = (certfile, keyfile)
        if args.workers > 1:
            db.dispose()  # each server process opens its own connections
            _serve_processes(settings, args.workers, args.log_level, tls_files)
        else:
            app, task_app = build_apps(settings, db)
            _run_loop(_serve_together(*_listeners(settings, app, task_app, args.log_level, tls_files)))
    finally:
        if local_aws is not None:
            local_aws.stop()
    return 0


def _listeners(
    settings: Settings, app: Any, task_app: Any, log_level: str, tls_files: tuple[str | None, str | None]
) -> tuple[uvicorn.Config, uvicorn.Config]:
    import uvicorn

    certfile, keyfile = tls_files
    return (
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            access_log=False,
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        ),
        # Same process, same database and clock; its own app has only the task routes.
        uvicorn.Config(
            task_app,
            host=settings.host,
            port=settings.task_listen_port,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        ),
    )


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``serve`` could not listen on ``host:port`` (another process has it), or None. Checked before
    anything starts: uvicorn's own failure came after the banner and, for the task port, with a
    traceback. Port 0 (any free one) always can."""
    import socket

    if port == 0:
        return None
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.create_server((host, port), family=family):
            return None
    except OSError as error:
        return error.strerror or str(error)


def _serve_processes(
    settings: Settings, workers: int, log_level: str, tls_files: tuple[str | None, str | None]
) -> None:
    """``serve --workers N``: N whole servers (API, site, task origin, timers, dispatcher) sharing the
    two listening sockets, which this process opened; the kernel spreads connections among them.

    They share nothing else but the database, as servers on several machines do. One that dies is
    replaced; SIGTERM or SIGINT stops them all.
    """
    import multiprocessing
    import signal
    import threading

    import uvicorn

    sockets = [
        uvicorn.Config("openturk", host=settings.host, port=settings.port).bind_socket(),
        uvicorn.Config("openturk", host=settings.host, port=settings.task_listen_port).bind_socket(),
    ]
    spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads

    def start(n: int) -> Any:
        child = spawn.Process(
            target=_serve_child, args=(settings, sockets, log_level, tls_files), name=f"openturk-serve-{n}"
        )
        child.start()
        return child

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    children = [start(n) for n in range(workers)]
    try:
        while not stopping.wait(0.5):
            for n, child in enumerate(children):
                if not child.is_alive():
                    logging.getLogger("openturk.serve").warning(
                        "server process %s exited (%s); starting another", child.pid, child.exitcode
                    )
                    children[n] = start(n)
    finally:
        for child in children:
            child.terminate()  # uvicorn finishes the requests in progress
        for child in children:
            child.join(15)
            if child.is_alive():
                child.kill()
                child.join(5)
        for sock in sockets:
            sock.close()


def _serve_child(
    settings: Settings, sockets: list[Any], log_level: str, tls_files: tuple[str | None, str | None]
) -> None:
    from openturk.server import build_apps

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app, task_app = build_apps(settings)
    _run_loop(_serve_together(*_listeners(settings, app, task_app, log_level, tls_files), sockets=sockets))


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` on uvloop where it is installed, as ``uvicorn.run`` would choose ("auto").

    Our processes start uvicorn's servers from their own coroutine (two listeners in one loop), so
    uvicorn's own loop set-up never runs; without this they ran on asyncio's default selector loop.
    """
    heap.settle_after_startup()  # what was built so far lives as long as the process
    try:
        import uvloop
    except ImportError:  # Windows, or uvloop not installed: asyncio's own loop
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def _serve_together(main: uvicorn.Config, companion: uvicorn.Config, sockets: list[Any] | None = None) -> None:
    """Run the main listener and a companion that stops with it (the main one owns the signals)."""
    import uvicorn

    class Companion(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the main listener catches SIGINT/SIGTERM; this one stops when it has

    second = Companion(companion)
    running = asyncio.create_task(second.serve(sockets=None if sockets is None else [sockets[1]]))
    try:
        await uvicorn.Server(main).serve(sockets=None if sockets is None else [sockets[0]])
    finally:
        second.should_exit = True
        await running


def dispatch(args: argparse.Namespace) -> int:
    from openturk.notify import local_aws as embedded
    from openturk.notify import transports
    from openturk.notify.dispatcher import Dispatcher
    from openturk.server import dispatcher_settings, worker_mail_loop

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if _no_database(args.db, console):
        return 2
    if args.aws_endpoint is None and not embedded.real_credentials_configured():
        # serve's defaults: its embedded endpoint, which a dispatcher beside it must send to as well
        # (with no credentials, real AWS could only refuse every send).
        args.aws_endpoint = f"http://127.0.0.1:{args.local_aws_port}"
    settings = _settings(args)
    db = _migrated(args.db)
    dispatcher = Dispatcher(db, transports.build(settings), dispatcher_settings(settings))
    console.print(f"[bold]openturk dispatch[/bold] delivering from {settings.db_url} as {dispatcher.owner}")
    console.print(f"  SQS/SNS at {settings.aws_endpoint or 'AWS (the configured credentials)'}")
    sys.stdout.flush()

    async def deliver() -> None:
        import signal

        db.listen()  # PostgreSQL: the servers' commits wake us (LISTEN/NOTIFY); SQLite: we poll
        # NotifyWorkers emails are retried here too: a --no-dispatch server leaves them to us.
        tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(worker_mail_loop(db, settings))]
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()

        def on_sigterm() -> None:
            # SIGTERM (systemd, a container's stop) stops it as Ctrl-C does; a second one ends it at once.
            loop.remove_signal_handler(signal.SIGTERM)
            stopped.set()

        with contextlib.suppress(NotImplementedError):  # Windows: no signal handlers on the loop
            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        signalled = asyncio.create_task(stopped.wait())
        try:
            await asyncio.wait([*tasks, signalled], return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Each task to its end: the dispatcher finishes its pass and, if it leads, gives the lead up
            # at once (else forming waits for the lead to lapse), then the sends in flight end.
            for task in [*tasks, signalled]:
                task.cancel()
            ended = await asyncio.gather(*tasks, signalled, return_exceptions=True)
        for outcome in ended:  # a task that failed (not one stopped) fails the command
            if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                raise outcome

    with contextlib.suppress(KeyboardInterrupt):
        _run_loop(deliver())
    return 0


def deliveries(args: argparse.Namespace) -> int:
    from openturk.notify import deliveries as listing
    from openturk.notify import outbox

    err = Console(stderr=True, soft_wrap=True)
    if _no_database(args.db, err):
        return 2
    try:
        since_ms = listing.since_ms(args.since) if args.since is not None else None
    except ValueError as exc:
        err.print(f"[red]error[/red] --since: {exc}")
        return 2
    db = _migrated(args.db)
    if args.action == "redrive":
        with db.write() as conn:
            states = outbox.message_states(conn, args.message_ids) if args.message_ids else {}
            count = outbox.redrive(conn, int(time.time() * 1000), args.message_ids or None)
        console.print(f"{count} dead-lettered message(s) will be sent again")
        # An id named that was not dead-lettered is left as it is; say so, and fail (a mistyped id).
        passed_over = [i for i in dict.fromkeys(args.message_ids) if states.get(i) != "dead"]
        for message_id in passed_over:
            state = states.get(message_id)
            console.print(
                f"message {message_id} does not exist"
                if state is None
                else f"message {message_id} is {state}, not dead-lettered: left as it is"
            )
        return 1 if passed_over else 0
    with db.read() as conn:
        rows = listing.list_messages(
            conn,
            hit_type_id=args.hit_type_id,
            state=args.state,
            since_ms=since_ms,
            limit=args.limit,
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table("id", "EventDocId", "state", "tries", "events", "transport", "destination", "last error")
    for row in rows:
        table.add_row(
            str(row["MessageId"]),
            row["EventDocId"],
            row["State"],
            str(row["Attempts"]),
            ",".join(row["EventTypes"]),
            row["Transport"],
            row["Destination"],
            row["LastError"] or "",
        )
    # Piped output is not cut to 80 columns: ids must stay whole for scripts and people.
    (console if sys.stdout.isatty() else Console(width=250)).print(table)
    return 0


def _migrated(url: str) -> Database:
    db = Database(url)
    db.migrate()
    return db


def requesters_create(args: argparse.Namespace) -> int:
    from openturk.domain import ids
    from openturk.requester.account import create_requester

    key_id, secret = ids.access_key_id(), ids.secret_access_key()
    customer_id = create_requester(
        _migrated(args.db),
        args.name,
        SystemClock().now_ms(),
        _cents(args.starting_balance),
        access_key_id=key_id,
        secret=secret,
    )
    console.print(f"CustomerId            {customer_id}")
    console.print(f"AWS_ACCESS_KEY_ID     {key_id}")
    console.print(f"AWS_SECRET_ACCESS_KEY {secret}")
    return 0


def layouts_command(args: argparse.Namespace) -> int:
    from openturk.requester.account import requester_for_open_key, requester_of_key
    from openturk.requester.layouts import create_hit_layout, hit_layouts_of

    db = _migrated(args.db)
    now = SystemClock().now_ms()
    if args.customer_id:
        customer_id = args.customer_id
    elif args.action == "create":
        customer_id = requester_for_open_key(db, args.access_key_id, now, _cents(args.starting_balance))
    else:
        known = requester_of_key(db, args.access_key_id)
        if known is None:
            console.print(f"[red]No requester has the access key {args.access_key_id}.[/red]")
            return 2
        customer_id = known
    if args.action == "list":
        found = hit_layouts_of(db, customer_id)
        if args.json:
            rows = [
                {
                    "HITLayoutId": x.hit_layout_id,
                    "Name": x.name,
                    "Parameters": x.parameter_names,
                    "FrameHeight": x.frame_height,
                }
                for x in found
            ]
            print(json.dumps(rows, indent=2))
            return 0
        table = Table("HITLayoutId", "Name", "Parameters", "FrameHeight")
        table.columns[0].no_wrap = True
        for layout in found:
            table.add_row(
                layout.hit_layout_id, layout.name, ", ".join(layout.parameter_names), str(layout.frame_height)
            )
        console.print(table)
        return 0
    try:
        template = args.template.read_text(encoding="utf-8-sig")  # an editor's byte order mark is not content
        layout = create_hit_layout(db, customer_id, args.name, template, args.frame_height, now)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        return 2
    console.print(f"HITLayoutId {layout.hit_layout_id}")
    console.print(f"Parameters  {', '.join(layout.parameter_names) or '(none)'}")
    return 0


def workers_command(args: argparse.Namespace) -> int:
    if args.action in ("disable", "enable"):
        return workers_disable(args)
    if args.action in ("profile", "masters"):
        return workers_profile(args)
    return workers_create(args)


def workers_disable(args: argparse.Namespace) -> int:
    from openturk.workers import accounts

    if _no_database(args.db, console):
        return 2
    try:
        accounts.set_disabled(_migrated(args.db), SystemClock(), args.worker_id, args.action == "disable")
    except accounts.AccountError as error:
        console.print(f"[red]{error.message}[/red]")
        return 2
    console.print(f"Worker {args.worker_id} {args.action}d")
    return 0


def workers_create(args: argparse.Namespace) -> int:
    from openturk.requester.account import create_worker

    worker_id, token = create_worker(_migrated(args.db), args.name, SystemClock().now_ms(), email=args.email)
    console.print(f"WorkerId {worker_id}")
    console.print(f"Token    {token}")
    return 0


def workers_profile(args: argparse.Namespace) -> int:
    """Print the profile, after changing what the options name (the rest is kept)."""
    from openturk.errors import WorkerError
    from openturk.workers import profiles

    db, clock = _migrated(args.db), SystemClock()
    try:
        if args.action == "masters":
            found = profiles.set_masters(db, clock, args.worker_id, granted=args.masters_action == "grant")
        elif args.country is None and args.subdivision is None and args.adult is None:
            found = profiles.get_profile(db, args.worker_id)
        else:
            current = profiles.get_profile(db, args.worker_id)
            country = current.country if args.country is None else args.country
            moved = args.country is not None and args.country.strip().upper() != current.country
            subdivision = args.subdivision if args.subdivision is not None else (None if moved else current.subdivision)
            adult = current.adult if args.adult is None else args.adult
            found = profiles.update_profile(
                db, clock, args.worker_id, country=country, subdivision=subdivision, adult=adult
            )
    except WorkerError as error:
        console.print(f"[red]{error.message}[/red]")
        return 2
    console.print(f"WorkerId    {found.worker_id}")
    console.print(f"Country     {found.country}")
    console.print(f"Subdivision {found.subdivision or '-'}")
    console.print(f"Adult       {1 if found.adult else 0}")
    console.print(f"Masters     {'yes' if found.is_master else 'no'}")
    return 0


COMMANDS = {
    "serve": serve,
    "exec": exec_command.run,
    "db": db_cli.run,
    "dispatch": dispatch,
    "deliveries": deliveries,
    "destinations": policy_cli.run,
    "route": route_cli.run,
    "consume": consumer_cli.run,
    "tail": consumer_cli.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in COMMANDS:
        return COMMANDS[args.command](args)
    if args.command == "requesters":
        return requesters_create(args)
    if args.command == "layouts":
        return layouts_command(args)
    return workers_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
