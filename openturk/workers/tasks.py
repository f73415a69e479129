"""What a worker may see of a HIT: its preview, and the task of an assignment they hold.

Whether a worker may preview a HIT at all is decided in one place, the worker API's
``actions.preview``; ``preview`` here adds what the site's page shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from openturk.clock import Clock
from openturk.domain import lifecycle
from openturk.domain.model import HIT, Assignment, HITType
from openturk.domain.questions import Question, parse_question
from openturk.errors import WorkerError
from openturk.store import discovery as store
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.workers import actions
from openturk.workers.actions import _qualifies, _standing


@dataclass(frozen=True)
class Preview:
    hit: HIT
    hit_type: HITType
    question: Question
    requester_name: str
    available: int
    # Why the worker cannot accept it now (None: they can).
    not_acceptable: str | None


@dataclass(frozen=True)
class Task:
    assignment: Assignment
    hit: HIT
    hit_type: HITType
    question: Question
    now: int

    @property
    def seconds_left(self) -> int:
        return max(0, (self.assignment.deadline - self.now) // 1000)

    @property
    def open(self) -> bool:
        return self.assignment.status == "Accepted" and self.assignment.deadline > self.now


def preview(db: Database, clock: Clock, worker_id: str, hit_id: str) -> Preview:
    """The HIT as ``worker_id`` may preview it, with ``actions.preview``'s refusals: 404 as if it did
    not exist (missing, disposed, a requester blocking the worker, a requirement guarding Preview not
    met), 410 when it can no longer be accepted."""
    actions.preview(db, clock, worker_id, hit_id)
    with db.read() as conn:
        repo = Repository(conn)
        now = clock.now_ms()
        hit = repo.hit(hit_id)
        hit_type = None if hit is None else repo.hit_type(hit.hit_type_id)
        if hit is None or hit_type is None:  # deleted since the check: as actions.preview says then
            raise WorkerError(404, "HITNotFound", f"HIT {hit_id} does not exist.")
        available = repo.slot_count(hit_id).available(hit.max_assignments)
        if repo.worker_has_accepted(worker_id, hit_id):
            reason: str | None = "You have already worked on this HIT."
        elif lifecycle.is_expired(hit, now) or hit.status != "Assignable" or available == 0:
            reason = "This HIT has no assignment available now."
        elif not _qualifies(hit_type, _standing(repo, worker_id, [hit_type]), "Accept"):
            reason = "You do not meet the qualification requirements to accept this HIT."
        else:
            reason = None
        names = store.requester_names(conn, [hit.customer_id])
    return Preview(
        hit=hit,
        hit_type=hit_type,
        question=parse_question(hit.question),
        requester_name=names.get(hit.customer_id, hit.customer_id),
        available=available,
        not_acceptable=reason,
    )


def task(db: Database, clock: Clock, worker_id: str, assignment_id: str) -> Task:
    """The assignment ``worker_id`` holds with its HIT; another worker's is a 404, as a missing one."""
    with db.read() as conn:
        repo = Repository(conn)
        found = repo.assignment_with_hit(assignment_id)
        if found is None or found[0].worker_id != worker_id:
            raise WorkerError(404, "AssignmentNotFound", f"Assignment {assignment_id} does not exist.")
        assignment, hit = found
        hit_type = repo.hit_type(hit.hit_type_id)
        assert hit_type is not None
    return Task(assignment, hit, hit_type, parse_question(hit.question), clock.now_ms())
