"""Named queries of a worker's dashboard: their assignments and bonuses by UTC day, and their totals.

Every query takes the worker's id and reads only that worker's rows. A "day" is a whole number of
UTC days since the epoch: the day an assignment was submitted (accepted, while it is still in
progress or when it was returned or abandoned) and the day a bonus was granted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, select, union

from openturk.store.schema import assignments, bonus_payments, hit_types, hits, requesters

DAY_MS = 24 * 60 * 60 * 1000

_WORKED_AT = func.coalesce(assignments.c.submit_time, assignments.c.accept_time)
_ASSIGNMENT_DAY: ColumnElement[Any] = (_WORKED_AT // DAY_MS).label("day")
_BONUS_DAY: ColumnElement[Any] = (bonus_payments.c.grant_time // DAY_MS).label("day")


class DashboardQueries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _days(self, worker_id: str) -> Any:
        return union(
            select(_ASSIGNMENT_DAY).where(assignments.c.worker_id == worker_id),
            select(_BONUS_DAY).where(bonus_payments.c.worker_id == worker_id),
        ).subquery()

    def days(self, worker_id: str, limit: int, offset: int) -> list[int]:
        """The days on which the worker worked or was paid a bonus, newest first."""
        days = self._days(worker_id)
        query = select(days.c.day).order_by(days.c.day.desc()).limit(limit).offset(offset)
        return [int(day) for day in self.conn.execute(query).scalars()]

    def day_count(self, worker_id: str) -> int:
        return int(self.conn.execute(select(func.count()).select_from(self._days(worker_id))).scalar_one())

    def assignments_between(self, worker_id: str, first_day: int, last_day: int) -> list[Row[Any]]:
        """The worker's assignments of the days ``first_day``..``last_day``, newest first, with the
        HIT's title and the requester's name."""
        query = (
            select(
                assignments.c.assignment_id,
                assignments.c.hit_id,
                assignments.c.status,
                assignments.c.accept_time,
                assignments.c.submit_time,
                assignments.c.auto_approval_time,
                assignments.c.approval_time,
                assignments.c.rejection_time,
                assignments.c.requester_feedback,
                assignments.c.reward_cents,
                _WORKED_AT.label("worked_at"),
                hit_types.c.title,
                hits.c.customer_id,
                requesters.c.name.label("requester_name"),
            )
            .join(hits, hits.c.hit_id == assignments.c.hit_id)
            .join(hit_types, hit_types.c.hit_type_id == hits.c.hit_type_id)
            .join(requesters, requesters.c.customer_id == hits.c.customer_id)
            .where(
                assignments.c.worker_id == worker_id,
                _WORKED_AT.between(first_day * DAY_MS, (last_day + 1) * DAY_MS - 1),
            )
            .order_by(_WORKED_AT.desc(), assignments.c.assignment_id)
        )
        return list(self.conn.execute(query))

    def bonuses_between(self, worker_id: str, first_day: int, last_day: int) -> list[Row[Any]]:
        """The worker's bonuses granted on the days ``first_day``..``last_day``, newest first."""
        query = (
            select(
                bonus_payments.c.bonus_id,
                bonus_payments.c.assignment_id,
                bonus_payments.c.amount_cents,
                bonus_payments.c.reason,
                bonus_payments.c.grant_time,
                hit_types.c.title,
                bonus_payments.c.customer_id,
                requesters.c.name.label("requester_name"),
            )
            .join(hits, hits.c.hit_id == bonus_payments.c.hit_id)
            .join(hit_types, hit_types.c.hit_type_id == hits.c.hit_type_id)
            .join(requesters, requesters.c.customer_id == bonus_payments.c.customer_id)
            .where(
                bonus_payments.c.worker_id == worker_id,
                bonus_payments.c.grant_time.between(first_day * DAY_MS, (last_day + 1) * DAY_MS - 1),
            )
            .order_by(bonus_payments.c.grant_time.desc(), bonus_payments.c.bonus_id.desc())
        )
        return list(self.conn.execute(query))

    def reward_totals(self, worker_id: str) -> dict[str, tuple[int, int]]:
        """(count, reward in cents) of the worker's assignments by status, over all time."""
        query = (
            select(assignments.c.status, func.count(), func.coalesce(func.sum(assignments.c.reward_cents), 0))
            .where(assignments.c.worker_id == worker_id)
            .group_by(assignments.c.status)
        )
        return {row[0]: (int(row[1]), int(row[2])) for row in self.conn.execute(query)}

    def bonus_total(self, worker_id: str) -> tuple[int, int]:
        """(count, cents) of every bonus the worker was paid."""
        query = select(func.count(), func.coalesce(func.sum(bonus_payments.c.amount_cents), 0)).where(
            bonus_payments.c.worker_id == worker_id
        )
        row = self.conn.execute(query).one()
        return int(row[0]), int(row[1])

    def requester_names(self, customer_ids: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(customer_ids))
        if not wanted:
            return {}
        query = select(requesters.c.customer_id, requesters.c.name).where(requesters.c.customer_id.in_(wanted))
        return {row.customer_id: row.name for row in self.conn.execute(query)}
