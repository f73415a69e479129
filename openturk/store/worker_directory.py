"""Named queries of the admin's list of workers: who they are, their log-in and what they did."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, func, select

from openturk.store.schema import assignments, worker_accounts, workers


class WorkerDirectory:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def page(self, limit: int, offset: int) -> list[Row[Any]]:
        """Workers, newest first, with their web log-in (None for a worker made with a bearer token)."""
        query = (
            select(
                workers.c.worker_id,
                workers.c.name,
                workers.c.created_at,
                workers.c.email,
                worker_accounts.c.login,
                worker_accounts.c.disabled_at,
            )
            .outerjoin(worker_accounts, worker_accounts.c.worker_id == workers.c.worker_id)
            .order_by(workers.c.created_at.desc(), workers.c.worker_id)
            .limit(limit)
            .offset(offset)
        )
        return list(self.conn.execute(query))

    def count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(workers)).scalar_one())

    def assignment_counts(self, worker_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per worker, how many assignments they hold in each status."""
        wanted = sorted(set(worker_ids))
        if not wanted:
            return {}
        query = (
            select(assignments.c.worker_id, assignments.c.status, func.count())
            .where(assignments.c.worker_id.in_(wanted))
            .group_by(assignments.c.worker_id, assignments.c.status)
        )
        counts: dict[str, dict[str, int]] = {}
        for worker_id, status, count in self.conn.execute(query):
            counts.setdefault(worker_id, {})[status] = int(count)
        return counts
