"""Worker actions as transitions: each runs in one write transaction with the events it implies.

Errors are ``WorkerError`` (a 4xx for the worker API), never a half-written state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openturk import expiry, ledger, review_runs, transitions
from openturk.clock import Clock
from openturk.domain import answers, ids, lifecycle, money, qualifications, questions
from openturk.domain.model import HIT, Assignment, HITType
from openturk.errors import WorkerError
from openturk.store import profiles
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.store.workers import WorkerRepository
from openturk.workers import file_refs

WORKER_ID = re.compile(r"^A[A-Z0-9]{1,63}\Z")
# Form fields MTurk reserved on /mturk/externalSubmit: never stored as answers.
RESERVED_FIELDS = {"assignmentId", "hitId", "turkSubmitTo", "workerId"}
PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"


def check_worker_id(worker_id: Any) -> str:
    if not isinstance(worker_id, str) or not WORKER_ID.match(worker_id):
        raise WorkerError(400, "InvalidWorkerId", "WorkerId must be 'A' followed by upper-case letters and digits.")
    return worker_id


def check_answers(fields: Iterable[tuple[str, Any]]) -> None:
    """Refuse (400 InvalidAnswer, naming it) the first answer the worker API cannot take."""
    for identifier, value in fields:
        # Judged as written into the answers document, where characters XML cannot hold are dropped.
        problem = (
            answers.value_problem(identifier, value)
            if answers.xml_text(identifier)
            else "QuestionIdentifier must not be empty (nor only characters XML cannot hold)."
        )
        if problem is not None:
            raise WorkerError(400, "InvalidAnswer", problem)


@dataclass(frozen=True)
class Accepted:
    assignment_id: str
    hit_id: str
    deadline: int


def _standing(repo: Repository, worker_id: str, hit_types: Iterable[HITType]) -> qualifications.WorkerStanding:
    """The worker's system values and their grants of the requester types these HIT types require."""
    custom = {type_id for t in hit_types for type_id in qualifications.custom_type_ids(t.qualification_requirements)}
    return profiles.standing(repo.conn, worker_id, custom)


def _qualifies(hit_type: HITType, standing: qualifications.WorkerStanding, action: str) -> bool:
    return all(
        qualifications.meets(req, standing)
        for req in hit_type.qualification_requirements
        if qualifications.guards(req, action)
    )


# How many open HITs discovery reads at most to fill one list: a bound on the work one request does
# when most open HITs are hidden from the worker by DiscoverPreviewAndAccept requirements.
MAX_DISCOVERY_SCAN = 10_000


def available_hits(db: Database, clock: Clock, worker_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """Assignable HITs the worker may discover and has never accepted, newest first.

    Requirements guarding Discover filter before the list is cut to ``limit``: HITs hidden from the
    worker never leave it short while discoverable ones exist (within ``MAX_DISCOVERY_SCAN``)."""
    with db.read() as conn:
        repo = Repository(conn)
        now = clock.now_ms()
        scan = limit
        while True:  # bounded: ``scan`` grows fourfold up to MAX_DISCOVERY_SCAN
            hits = repo.open_hits_for_worker(worker_id, now, scan)
            types = repo.hit_types_by_id(hit.hit_type_id for hit in hits)
            standing = _standing(repo, worker_id, types.values())
            visible = [hit for hit in hits if _qualifies(types[hit.hit_type_id], standing, "Discover")]
            if len(visible) >= limit or len(hits) < scan or scan >= MAX_DISCOVERY_SCAN:
                break
            scan = min(scan * 4, MAX_DISCOVERY_SCAN)
        visible = visible[:limit]
        counts = repo.slot_counts([hit.hit_id for hit in visible])
        return [
            {
                "HITId": hit.hit_id,
                "HITTypeId": hit.hit_type_id,
                "Title": types[hit.hit_type_id].title,
                "Description": types[hit.hit_type_id].description,
                "Keywords": types[hit.hit_type_id].keywords or "",
                "Reward": money.format_amount(types[hit.hit_type_id].reward_cents),
                "AssignmentDurationInSeconds": types[hit.hit_type_id].assignment_duration_s,
                "Expiration": hit.expiration / 1000,
                "NumberOfAssignmentsAvailable": counts[hit.hit_id].available(hit.max_assignments),
                "Qualified": _qualifies(types[hit.hit_type_id], standing, "Accept"),
            }
            for hit in visible
        ]


def preview(db: Database, clock: Clock, worker_id: str, hit_id: str) -> dict[str, Any]:
    """What a worker sees before accepting: the HIT's text, reward, time allotted and question.

    Raises ``WorkerError`` 404 as for a HIT that does not exist when it does not, is disposed, its
    requester blocked the worker, or a requirement guarding Preview (PreviewAndAccept,
    DiscoverPreviewAndAccept) is not met; 410 when it can no longer be accepted (expired, or no
    longer Assignable or Unassignable). ``Qualified`` says whether the worker may accept it."""
    check_worker_id(worker_id)
    with db.read() as conn:
        repo = Repository(conn)
        now = clock.now_ms()
        hit = repo.hit(hit_id)
        hit_type = None if hit is None else repo.hit_type(hit.hit_type_id)
        if (
            hit is None
            or hit_type is None
            or hit.status == "Disposed"
            or WorkerRepository(conn).is_blocked(hit.customer_id, worker_id)
        ):
            raise WorkerError(404, "HITNotFound", f"HIT {hit_id} does not exist.")
        standing = _standing(repo, worker_id, [hit_type])
        if not _qualifies(hit_type, standing, "Preview"):
            # As MTurk: a HIT the worker may not preview is not shown at all.
            raise WorkerError(404, "HITNotFound", f"HIT {hit_id} does not exist.")
        if lifecycle.is_expired(hit, now) or hit.status not in ("Assignable", "Unassignable"):
            raise WorkerError(410, "HITNotAvailable", f"HIT {hit_id} can no longer be accepted.")
        return {
            "HITId": hit.hit_id,
            "HITTypeId": hit.hit_type_id,
            "RequesterId": hit.customer_id,
            "Title": hit_type.title,
            "Description": hit_type.description,
            "Keywords": hit_type.keywords or "",
            "Reward": money.format_amount(hit_type.reward_cents),
            "AssignmentDurationInSeconds": hit_type.assignment_duration_s,
            "Expiration": hit.expiration / 1000,
            "NumberOfAssignmentsAvailable": repo.slot_count(hit.hit_id).available(hit.max_assignments),
            "QuestionKind": questions.parse_question(hit.question).kind,
            "Question": hit.question,
            "Qualified": _qualifies(hit_type, standing, "Accept"),
        }


def accept(db: Database, clock: Clock, worker_id: str, hit_id: str) -> Accepted:
    check_worker_id(worker_id)
    with db.write() as conn:
        repo = Repository(conn)
        now = clock.now_ms()
        hit = expiry.locked_hit(repo, hit_id, now)
        if hit is None or WorkerRepository(conn).is_blocked(hit.customer_id, worker_id):
            # A blocked worker learns nothing: the answer of a HIT that does not exist.
            raise WorkerError(404, "HITNotFound", f"HIT {hit_id} does not exist.")
        hit_type = repo.hit_type(hit.hit_type_id)
        assert hit_type is not None
        standing = _standing(repo, worker_id, [hit_type])
        if not _qualifies(hit_type, standing, "Preview"):
            # As preview answers: a HIT the worker may not even preview does not exist for them.
            raise WorkerError(404, "HITNotFound", f"HIT {hit_id} does not exist.")
        if repo.worker_has_accepted(worker_id, hit_id):
            raise WorkerError(409, "AlreadyAccepted", f"Worker {worker_id} has already accepted HIT {hit_id}.")
        counts = repo.slot_count(hit_id)
        if lifecycle.is_expired(hit, now):
            raise WorkerError(410, "HITExpired", f"HIT {hit_id} has expired.")
        if hit.status != "Assignable" or counts.available(hit.max_assignments) == 0:
            raise WorkerError(409, "HITNotAssignable", f"HIT {hit_id} has no assignment available.")
        if not _qualifies(hit_type, standing, "Accept"):
            raise WorkerError(
                403, "DoesNotMeetRequirements", "You do not meet the qualification requirements of this HIT."
            )
        assignment = Assignment(
            assignment_id=ids.entity_id(),
            hit_id=hit_id,
            worker_id=worker_id,
            status="Accepted",
            accept_time=now,
            deadline=now + hit_type.assignment_duration_s * 1000,
            reward_cents=hit_type.reward_cents,
            fee_cents=ledger.assignment_fee(hit_type, hit),
        )
        hit, events = lifecycle.accept(hit, counts, assignment, now)
        repo.insert_assignment(assignment)
        transitions.record(repo, hit, repo.slot_count(hit_id), events, now, hit_type)
        return Accepted(assignment.assignment_id, hit_id, assignment.deadline)


def own_open_assignment(
    repo: Repository, worker_id: str | None, assignment_id: str, now: int
) -> tuple[Assignment, HIT]:
    found = expiry.locked_assignment(repo, assignment_id, now)
    if found is None:
        raise WorkerError(404, "AssignmentNotFound", f"Assignment {assignment_id} does not exist.")
    locked, hit = found
    if worker_id is not None and locked.worker_id != worker_id:
        raise WorkerError(403, "NotYourAssignment", f"Assignment {assignment_id} belongs to another worker.")
    if locked.status != "Accepted":
        raise WorkerError(409, "AssignmentNotOpen", f"Assignment {assignment_id} is {locked.status}, not in progress.")
    if locked.deadline <= now:
        raise WorkerError(410, "AssignmentExpired", f"The time allotted for assignment {assignment_id} has passed.")
    return locked, hit


def submit(
    db: Database, clock: Clock, worker_id: str | None, assignment_id: str, fields: Sequence[tuple[str, Any]]
) -> None:
    """Submit answers; ``worker_id`` None means the caller proved nothing beyond the assignment id
    (MTurk's externalSubmit form)."""
    check_answers(fields)
    with db.write() as conn:
        repo = Repository(conn)
        now = clock.now_ms()
        assignment, hit = own_open_assignment(repo, worker_id, assignment_id, now)
        hit_type = repo.hit_type(hit.hit_type_id)
        assert hit_type is not None
        counts = repo.slot_count(hit.hit_id)
        document = answers.answers_document(file_refs.checked_fields(conn, assignment_id, fields))
        hit, submitted, events = lifecycle.submit(
            hit, counts, assignment, document, hit_type.auto_approval_delay_s, now
        )
        repo.save_assignment(submitted)
        transitions.record(repo, hit, repo.slot_count(hit.hit_id), events, now, hit_type, review=False)
        review_runs.after_submit(repo, hit, submitted, events, now)
        if hit_type.auto_approval_delay_s == 0:
            # Approved "0 seconds after" submission: in the same transaction, so no reader (DeleteHIT
            # right after, as Dallinger does) sees a Submitted assignment waiting for a timer pass.
            _approve_if_still_submitted(repo, assignment_id, now)


def _approve_if_still_submitted(repo: Repository, assignment_id: str, now: int) -> None:
    found = repo.assignment_with_hit(assignment_id, for_update=True)
    if found is not None and found[0].status == "Submitted":  # a review policy may have decided it
        transitions.approve(repo, found[1], found[0], None, now)


def return_assignment(db: Database, clock: Clock, worker_id: str, assignment_id: str) -> None:
    with db.write() as conn:
        repo = Repository(conn)
        now = clock.now_ms()
        assignment, hit = own_open_assignment(repo, worker_id, assignment_id, now)
        hit, released, events = lifecycle.release(hit, repo.slot_count(hit.hit_id), assignment, "return", now)
        repo.save_assignment(released)
        transitions.record(repo, hit, repo.slot_count(hit.hit_id), events, now)


def messages(db: Database, worker_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The worker's NotifyWorkers inbox, newest first."""
    with db.read() as conn:
        rows = WorkerRepository(conn).inbox(worker_id, limit)
    return [
        {
            "MessageId": str(row.message_id),
            "RequesterId": row.customer_id,
            "Subject": row.subject,
            "MessageText": row.message_text,
            "SentTime": row.sent_time / 1000,
        }
        for row in rows
    ]
