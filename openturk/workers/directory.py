"""The admin's list of workers, HTTP-free: account, state and what each did, a page at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openturk.store.database import Database
from openturk.store.worker_directory import WorkerDirectory

WORKERS_PER_PAGE = 50


@dataclass(frozen=True)
class WorkerEntry:
    worker_id: str
    name: str | None
    created_at: int
    login: str | None  # the e-mail address the worker signs in with; None without a web account
    disabled_at: int | None
    assignments: Mapping[str, int]  # count by status

    @property
    def has_account(self) -> bool:
        return self.login is not None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def worked(self) -> int:
        return sum(self.assignments.get(status, 0) for status in ("Submitted", "Approved", "Rejected"))


@dataclass(frozen=True)
class WorkerList:
    workers: Sequence[WorkerEntry]
    page: int
    pages: int
    total: int


def list_workers(db: Database, page: int = 1, per_page: int = WORKERS_PER_PAGE) -> WorkerList:
    """Page ``page`` (from 1) of every worker, newest first; a page past the last is empty."""
    page = max(1, page)
    with db.read() as conn:
        directory = WorkerDirectory(conn)
        total = directory.count()
        rows = directory.page(per_page, (page - 1) * per_page)
        counts = directory.assignment_counts(row.worker_id for row in rows)
    entries = [
        WorkerEntry(
            worker_id=row.worker_id,
            name=row.name,
            created_at=int(row.created_at),
            login=row.login or None,
            disabled_at=row.disabled_at,
            assignments=counts.get(row.worker_id, {}),
        )
        for row in rows
    ]
    return WorkerList(entries, page, max(1, -(-total // per_page)), total)
