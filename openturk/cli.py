"""The ``openturk`` command: serve, and manage requesters and workers."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rich.console import Console

from openturk.clock import SystemClock
from openturk.settings import Settings
from openturk.store.database import Database

console = Console(soft_wrap=True)


def _common_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="sqlite:///openturk.db",
                        help="database URL: sqlite:///path (default ./openturk.db) or postgresql://...")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openturk", description="A self-hosted Amazon Mechanical Turk Requester API.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the Requester API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    _common_db(serve)
    serve.add_argument("--auth", choices=["open", "sigv4"], default="open",
                       help="open: any SigV4 request, the access key names the requester; sigv4: verify signatures")
    serve.add_argument("--virtual-clock", action="store_true",
                       help="start the clock at real time and allow POST /api/clock/advance")
    serve.add_argument("--aws-endpoint", default=None, help="SQS/SNS endpoint notifications are sent to")
    serve.add_argument("--starting-balance", default="10000.00", help="each new requester's opening balance (USD)")
    serve.add_argument("--log-level", default="warning")

    requesters = sub.add_parser("requesters", help="manage requester accounts").add_subparsers(dest="action", required=True)
    create = requesters.add_parser("create", help="create a requester and print its key pair")
    create.add_argument("name")
    _common_db(create)
    create.add_argument("--starting-balance", default="10000.00")

    workers = sub.add_parser("workers", help="manage worker identities").add_subparsers(dest="action", required=True)
    create_worker = workers.add_parser("create", help="create a worker and print its bearer token")
    create_worker.add_argument("name")
    _common_db(create_worker)
    return parser


def _cents(text: str) -> int:
    from openturk.domain.money import parse_amount

    return parse_amount(text, "--starting-balance")


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from openturk.server import build_app

    settings = Settings(
        host=args.host, port=args.port, db_url=args.db, auth=args.auth, virtual_clock=args.virtual_clock,
        aws_endpoint=args.aws_endpoint, starting_balance_cents=_cents(args.starting_balance),
    )
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = build_app(settings)
    console.print(f"[bold]openturk[/bold] Requester API at [cyan]{settings.base_url}[/cyan] "
                  f"(auth {settings.auth}, db {settings.db_url}{', virtual clock' if settings.virtual_clock else ''})")
    console.print(f'  boto3.client("mturk", endpoint_url="{settings.base_url}", region_name="us-east-1")')
    sys.stdout.flush()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False)
    return 0


def _migrated(url: str) -> Database:
    db = Database(url)
    db.migrate()
    return db


def requesters_create(args: argparse.Namespace) -> int:
    from openturk.domain import ids
    from openturk.requester.account import create_requester

    key_id, secret = ids.access_key_id(), ids.secret_access_key()
    customer_id = create_requester(_migrated(args.db), args.name, SystemClock().now_ms(),
                                   _cents(args.starting_balance), access_key_id=key_id, secret=secret)
    console.print(f"CustomerId            {customer_id}")
    console.print(f"AWS_ACCESS_KEY_ID     {key_id}")
    console.print(f"AWS_SECRET_ACCESS_KEY {secret}")
    return 0


def workers_create(args: argparse.Namespace) -> int:
    from openturk.requester.account import create_worker

    worker_id, token = create_worker(_migrated(args.db), args.name, SystemClock().now_ms())
    console.print(f"WorkerId {worker_id}")
    console.print(f"Token    {token}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "requesters":
        return requesters_create(args)
    return workers_create(args)


if __name__ == "__main__":
    raise SystemExit(main())
