"""Named queries of the assignment aggregate: assignments and the bonuses paid on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, tuple_, update

from openturk.domain.model import HIT, Assignment
from openturk.store.hits import HITRepository
from openturk.store.prepared import Prepared
from openturk.store.schema import assignments, bonus_payments


def _assignment(row: Row[Any]) -> Assignment:
    return Assignment(**{name: getattr(row, name) for name in Assignment.__dataclass_fields__})


# Statements on the hot paths are built once and run as ``Prepared`` statements: SQLAlchemy's
# per-call machinery was most of a request's CPU time (bench/api.py; see store/prepared.py).
_P = bindparam
_ASSIGNMENT_QUERY = select(assignments).where(assignments.c.assignment_id == _P("assignment_id"))
_ASSIGNMENT = Prepared(_ASSIGNMENT_QUERY)
# FOR NO KEY UPDATE on PostgreSQL: see requesters.py (rows referencing this one may be inserted meanwhile).
_ASSIGNMENT_FOR_UPDATE = Prepared(_ASSIGNMENT_QUERY.with_for_update(key_share=True))
_INSERT_ASSIGNMENT = Prepared(insert(assignments))
_ASSIGNMENT_FIELDS = [
    name for name in Assignment.__dataclass_fields__ if name not in ("assignment_id", "hit_id", "worker_id")
]
_SAVE_ASSIGNMENT = Prepared(
    update(assignments)
    .where(assignments.c.assignment_id == _P("b_assignment_id"))
    .values({name: _P(f"b_{name}") for name in _ASSIGNMENT_FIELDS})
)


class AssignmentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- assignments ------------------------------------------------------------------------------
    def assignment(self, assignment_id: str, *, for_update: bool = False) -> Assignment | None:
        statement = _ASSIGNMENT_FOR_UPDATE if for_update else _ASSIGNMENT
        row = statement.first(self.conn, {"assignment_id": assignment_id})
        return _assignment(row) if row else None

    def assignment_with_hit(self, assignment_id: str, *, for_update: bool = False) -> tuple[Assignment, HIT] | None:
        """An assignment and its HIT. Locking takes the HIT row first, then the assignment's (re-read
        under the lock): every transition locks in that order, so two never deadlock."""
        assignment = self.assignment(assignment_id)
        if assignment is None:
            return None
        hit = HITRepository(self.conn).hit(assignment.hit_id, for_update=for_update)
        if for_update:
            assignment = self.assignment(assignment_id, for_update=True)
        return (assignment, hit) if assignment is not None and hit is not None else None

    def insert_assignment(self, assignment: Assignment) -> None:
        _INSERT_ASSIGNMENT.run(self.conn, assignment.__dict__)

    def save_assignment(self, assignment: Assignment) -> None:
        values = {f"b_{name}": getattr(assignment, name) for name in _ASSIGNMENT_FIELDS}
        _SAVE_ASSIGNMENT.run(self.conn, {"b_assignment_id": assignment.assignment_id, **values})

    def worker_has_accepted(self, worker_id: str, hit_id: str) -> bool:
        found = self.conn.execute(
            select(assignments.c.assignment_id)
            .where(assignments.c.worker_id == worker_id, assignments.c.hit_id == hit_id)
            .limit(1)
        ).first()
        return found is not None

    def assignments_page(
        self, hit_id: str, statuses: Sequence[str], after: tuple[int, str] | None, limit: int
    ) -> list[Assignment]:
        """Assignments of a HIT in (SubmitTime, AssignmentId) order."""
        query = select(assignments).where(assignments.c.hit_id == hit_id, assignments.c.status.in_(statuses))
        if after is not None:
            query = query.where(tuple_(assignments.c.submit_time, assignments.c.assignment_id) > tuple_(*after))
        query = query.order_by(assignments.c.submit_time, assignments.c.assignment_id).limit(limit)
        return [_assignment(row) for row in self.conn.execute(query)]

    def has_submitted_assignments(self, hit_id: str) -> bool:
        return HITRepository(self.conn).slot_count(hit_id).submitted > 0

    # -- bonuses ----------------------------------------------------------------------------------
    def insert_bonus(self, **values: Any) -> None:
        self.conn.execute(insert(bonus_payments).values(**values))

    def bonuses_page(
        self, customer_id: str, *, hit_id: str | None, assignment_id: str | None, after: int | None, limit: int
    ) -> list[Row[Any]]:
        query = select(bonus_payments).where(bonus_payments.c.customer_id == customer_id)
        if hit_id is not None:
            query = query.where(bonus_payments.c.hit_id == hit_id)
        if assignment_id is not None:
            query = query.where(bonus_payments.c.assignment_id == assignment_id)
        if after is not None:
            query = query.where(bonus_payments.c.bonus_id > after)
        return list(self.conn.execute(query.order_by(bonus_payments.c.bonus_id).limit(limit)))
