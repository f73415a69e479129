"""``openturk db upgrade | copy | sums``: the schema's revision, moving a deployment between stores."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from openturk.store import copy
from openturk.store.database import Database, missing_file

console = Console(soft_wrap=True)


def database_url(text: str) -> str:
    """A ``--db`` (``--from``, ``--to``) as argparse takes it: a database URL, or the path of an SQLite
    file (``openturk.db``, ``/srv/openturk.db``) made into its URL."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a database URL or an SQLite file's path")
    return text if "://" in text else f"sqlite:///{text}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="upgrade a database, or copy one to another store").add_subparsers(
        dest="action", required=True
    )
    upgrade = db.add_parser("upgrade", help="bring the schema to the newest revision")
    upgrade.add_argument(
        "--db", default="sqlite:///openturk.db", type=database_url, help="database URL (default ./openturk.db)"
    )
    copying = db.add_parser(
        "copy", help="copy everything (ids and delivery history included) into an empty database, then verify it"
    )
    copying.add_argument("--from", dest="source", required=True, type=database_url, help="e.g. sqlite:///openturk.db")
    copying.add_argument(
        "--to", dest="target", required=True, type=database_url, help="e.g. postgresql://user@host/openturk"
    )
    sums = db.add_parser("sums", help="each table's row count and checksum (compare two databases)")
    sums.add_argument(
        "--db", default="sqlite:///openturk.db", type=database_url, help="database URL (default ./openturk.db)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except SQLAlchemyError as error:  # a database that cannot be reached or opened: one line, not a traceback
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        console.print(f"[red]openturk db {args.action}: {escape(reason)}[/red]")
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.action == "upgrade":
        database = Database(args.db)
        try:
            before = copy.revision(database)
            database.migrate()
            console.print(f"{args.db}: revision {before or '(empty)'} → {copy.revision(database)}")
        finally:
            database.dispose()
        return 0
    for option, url in (("--db", getattr(args, "db", None)), ("--from", getattr(args, "source", None))):
        if url is not None and (path := missing_file(url)) is not None:  # they read a deployment's database
            console.print(f"[red]openturk db {args.action}: no database at {path} ({option})[/red]")
            return 2
    if args.action == "sums":
        database = Database(args.db)
        try:
            _print(copy.sums(database), f"{args.db} at revision {copy.revision(database)}")
        finally:
            database.dispose()
        return 0
    source, target = Database(args.source), Database(args.target)
    try:
        copied = copy.copy(source, target)
    except copy.CopyRefused as refusal:
        console.print(f"[red]openturk db copy: {refusal}[/red]")
        return 2
    finally:
        source.dispose()
        target.dispose()
    _print(copied, f"copied {sum(t.rows for t in copied)} rows; every table's count and checksum match the source")
    return 0


def _print(sums: list[copy.TableSum], title: str) -> None:
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("checksum (sha256)", overflow="fold")
    for entry in sums:
        table.add_row(entry.table, str(entry.rows), entry.checksum)
    # Piped output is not cut to 80 columns: a checksum is compared whole, by scripts and people.
    (console if sys.stdout.isatty() else Console(width=250, soft_wrap=True)).print(table)
