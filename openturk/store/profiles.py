"""Named queries behind system qualifications: workers' profiles and their assignment record."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from openturk.domain import profiles, qualifications
from openturk.domain.profiles import WorkerProfile
from openturk.domain.qualifications import AssignmentRecord, WorkerStanding
from openturk.store.qualifications import QualificationRepository
from openturk.store.schema import assignments, worker_profiles, workers


def standing(conn: Connection, worker_id: str, type_ids: Iterable[str] = ()) -> WorkerStanding:
    """The worker's system values, and their grants of the requester types among ``type_ids``."""
    repo = ProfileRepository(conn)
    custom = set(type_ids) - qualifications.SYSTEM_TYPES
    return WorkerStanding(
        record=repo.assignment_record(worker_id),
        profile=repo.profile(worker_id) or profiles.default(worker_id),
        granted=QualificationRepository(conn).granted_values(worker_id, custom),
    )


class ProfileRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def worker_exists(self, worker_id: str) -> bool:
        return (
            self.conn.execute(select(workers.c.worker_id).where(workers.c.worker_id == worker_id)).first() is not None
        )

    def profile(self, worker_id: str) -> WorkerProfile | None:
        """The stored profile, or None when the worker never set one (the defaults then apply)."""
        row = self.conn.execute(select(worker_profiles).where(worker_profiles.c.worker_id == worker_id)).first()
        if row is None:
            return None
        return WorkerProfile(
            worker_id=row.worker_id,
            country=row.country,
            subdivision=row.subdivision,
            adult=bool(row.adult),
            masters_granted_at=row.masters_granted_at,
            updated_at=row.updated_at,
        )

    def put_profile(self, profile: WorkerProfile, now: int) -> None:
        """Create or overwrite the row; the worker must exist (``workers``)."""
        values = {
            "country": profile.country,
            "subdivision": profile.subdivision,
            "adult": profile.adult,
            "masters_granted_at": profile.masters_granted_at,
            "updated_at": now,
        }
        done = self.conn.execute(
            update(worker_profiles).where(worker_profiles.c.worker_id == profile.worker_id).values(**values)
        )
        if done.rowcount:
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(worker_profiles).values(worker_id=profile.worker_id, **values))
        except IntegrityError:  # a concurrent first write made the row between the update and the insert
            self.conn.execute(
                update(worker_profiles).where(worker_profiles.c.worker_id == profile.worker_id).values(**values)
            )

    def assignment_record(self, worker_id: str) -> AssignmentRecord:
        """How the worker's ended assignments, across requesters, ended (in-progress ones do not count)."""
        counts: dict[str, int] = {
            str(status): int(count)
            for status, count in self.conn.execute(
                select(assignments.c.status, func.count())
                .where(assignments.c.worker_id == worker_id, assignments.c.status != "Accepted")
                .group_by(assignments.c.status)
            ).all()
        }
        return AssignmentRecord(
            submitted=counts.get("Submitted", 0),
            approved=counts.get("Approved", 0),
            rejected=counts.get("Rejected", 0),
            returned=counts.get("Returned", 0),
            abandoned=counts.get("Abandoned", 0),
        )
