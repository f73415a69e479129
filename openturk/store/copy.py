"""Copy a whole openturk database to another (SQLite → PostgreSQL, or back), and prove the copy.

Every table of ``schema.metadata`` (but the running processes' own state, ``RUNTIME_TABLES``) is
copied in foreign-key order with its ids as they are (HITIds, AssignmentIds, EventDocIds, message
and attempt numbers), in batches, in one transaction on the target; PostgreSQL's sequences then
continue after the copied ids. The proof is per table: the row count and a checksum of the rows as
SQLAlchemy reads them (the same Python values on either engine), independent of row order, so the
copy is verified by reading both sides back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from alembic.migration import MigrationContext
from sqlalchemy import Connection, Integer, Table, func, insert, select, text

from openturk.store.database import Database
from openturk.store.schema import metadata

BATCH = 1000

# State of the processes running on a database, not of the deployment: which dispatcher leads (its
# lapse time moves while it runs, and it is given up as it stops). A copy starts without it, and
# neither the emptiness check nor the proof counts it; the target's first dispatcher takes the lead.
RUNTIME_TABLES = frozenset({"forming_lead"})


def _deployment_tables() -> list[Table]:
    return [table for table in metadata.sorted_tables if table.name not in RUNTIME_TABLES]


class CopyRefused(Exception):
    """The copy cannot start: the message says why and what to do."""


@dataclass(frozen=True)
class TableSum:
    table: str
    rows: int
    checksum: str


def revision(db: Database) -> str | None:
    """The Alembic revision the database is at (None: not created yet)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from openturk.store.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    found = ScriptDirectory.from_config(config).get_current_head()
    assert found is not None
    return found


def copy(source: Database, target: Database) -> list[TableSum]:
    """Copy everything from ``source`` (at the newest revision) into ``target`` (migrated here, and
    empty); return the target's sums, which equal the source's (``CopyRefused`` otherwise)."""
    newest = head()
    if revision(source) != newest:
        raise CopyRefused(
            f"The source database is at revision {revision(source)}, not {newest}: "
            "run `openturk db upgrade --db SOURCE` first."
        )
    target.migrate()
    with target.read() as conn:
        occupied = [table.name for table in _deployment_tables() if _count(conn, table)]
    if occupied:
        raise CopyRefused(f"The target database is not empty (tables with rows: {', '.join(occupied)}).")
    with source.read() as reading, target.engine.begin() as writing:
        for table in _deployment_tables():
            batch: list[dict[str, Any]] = []
            for row in reading.execute(select(table)).mappings():
                batch.append(dict(row))
                if len(batch) >= BATCH:
                    writing.execute(insert(table), batch)
                    batch = []
            if batch:
                writing.execute(insert(table), batch)
        if writing.dialect.name == "postgresql":
            _continue_sequences(writing)
    source_sums, target_sums = sums(source), sums(target)
    if source_sums != target_sums:
        differing = [a.table for a, b in zip(source_sums, target_sums, strict=True) if a != b]
        raise CopyRefused(f"The copy differs from the source in: {', '.join(differing)}.")
    return target_sums


def sums(db: Database) -> list[TableSum]:
    """Each table's row count and order-independent checksum."""
    with db.read() as conn:
        return [_sum(conn, table) for table in _deployment_tables()]


def _sum(conn: Connection, table: Table) -> TableSum:
    digests = sorted(_row_digest(row) for row in _rows(conn, table))
    total = hashlib.sha256()
    for digest in digests:
        total.update(digest)
    return TableSum(table.name, len(digests), total.hexdigest())


def _rows(conn: Connection, table: Table) -> Iterator[dict[str, Any]]:
    for row in conn.execute(select(table)).mappings():
        yield dict(row)


def _row_digest(row: dict[str, Any]) -> bytes:
    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray | memoryview):
            return {"bytes": bytes(value).hex()}
        return value

    canonical = json.dumps({key: plain(value) for key, value in sorted(row.items())}, default=str)
    return hashlib.sha256(canonical.encode()).digest()


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _continue_sequences(conn: Connection) -> None:
    """Make PostgreSQL's identity sequences continue after the ids copied in."""
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            if isinstance(column.type, Integer) and column.autoincrement is True:
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 1), "
                        f"(SELECT MAX({column.name}) FROM {table.name}) IS NOT NULL)"
                    )
                )
