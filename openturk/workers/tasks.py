"""What a worker may see of a HIT: its preview, and the task of an assignment they hold.

``preview`` is the one place the site decides whether a worker may preview a HIT (requester blocks,
requirements guarding PreviewAndAccept or DiscoverPreviewAndAccept). It is meant to give way to the
worker API's ``actions.preview`` once that lands, with the same refusals.
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
from openturk.store.workers import WorkerRepository
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
    """The HIT as ``worker_id`` may preview it. A HIT that does not exist, is disposed, is of a
    requester blocking the worker or hidden from them (DiscoverPreviewAndAccept) is a 404, as if it did
    not exist; one guarded by PreviewAndAccept that they do not meet is a 403."""
    with db.read() as conn:
        repo = Repository(conn)
        now = clock.now_ms()
        hit = repo.hit(hit_id)
        if hit is None or hit.status == "Disposed" or WorkerRepository(conn).is_blocked(hit.customer_id, worker_id):
            raise WorkerError(404, "HITNotFound", f"HIT {hit_id} does not exist.")
        hit_type = repo.hit_type(hit.hit_type_id)
        assert hit_type is not None
        standing = _standing(repo, worker_id, [hit_type])
        if not _qualifies(hit_type, standing, "Discover"):
            raise WorkerError(404, "HITNotFound", f"HIT {hit_id} does not exist.")
        if not _qualifies(hit_type, standing, "Preview"):
            raise WorkerError(
                403, "DoesNotMeetRequirements", "You do not meet the qualification requirements to preview this HIT."
            )
        available = repo.slot_count(hit_id).available(hit.max_assignments)
        if repo.worker_has_accepted(worker_id, hit_id):
            reason: str | None = "You have already worked on this HIT."
        elif lifecycle.is_expired(hit, now) or hit.status != "Assignable" or available == 0:
            reason = "This HIT is no longer available."
        elif not _qualifies(hit_type, standing, "Accept"):
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
