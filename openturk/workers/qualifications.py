"""A worker's side of qualifications: requesting one.

Errors are ``WorkerError`` (a 4xx for the worker API), never a half-written state.
"""

from __future__ import annotations

from dataclasses import dataclass

from openturk.clock import Clock
from openturk.domain import ids
from openturk.domain import qualifications as rules
from openturk.domain.qualifications import Qualification, QualificationRequest
from openturk.errors import WorkerError
from openturk.store.database import Database
from openturk.store.qualifications import QualificationRepository
from openturk.workers.actions import check_worker_id

MAX_ANSWER_BYTES = 65_535


@dataclass(frozen=True)
class Requested:
    qualification_request_id: str | None  # None when the type granted itself (AutoGranted)
    status: str  # Pending | Granted


def request(db: Database, clock: Clock, worker_id: str, type_id: str, answer: str | None) -> Requested:
    """Request a qualification: an AutoGranted type grants at once (no request is left), any other
    leaves a Pending request for the requester (DECISION: a Test's answers are stored with it and
    not yet scored). A second request needs the type's RetryDelayInSeconds to have passed [M]."""
    check_worker_id(worker_id)
    if answer is not None and len(answer.encode("utf-8")) > MAX_ANSWER_BYTES:
        raise WorkerError(400, "InvalidAnswer", f"Answer must be at most {MAX_ANSWER_BYTES} bytes.")
    with db.write() as conn:
        repo = QualificationRepository(conn)
        now = clock.now_ms()
        found = repo.qualification_type(type_id)
        if found is None or not found.is_live:
            raise WorkerError(404, "QualificationTypeNotFound", f"QualificationType {type_id} does not exist.")
        if found.status != "Active":
            raise WorkerError(409, "QualificationTypeNotRequestable", f"QualificationType {type_id} is not Active.")
        held = repo.qualification(type_id, worker_id)
        if held is not None and held.status == "Granted":
            raise WorkerError(409, "QualificationAlreadyExists", f"You already hold QualificationType {type_id}.")
        if found.test is not None and answer is None:
            raise WorkerError(400, "TestAnswerRequired", f"QualificationType {type_id} has a Test: send its Answer.")
        problem = rules.retake_problem(found, repo.last_request_time(type_id, worker_id), now)
        if problem is not None:
            raise WorkerError(409, *problem)
        if found.auto_granted:
            value = rules.granted_value(found, None)
            repo.put_qualification(Qualification(type_id, worker_id, value, "Granted", now))
            return Requested(None, "Granted")
        request_id = ids.entity_id()
        repo.insert_request(
            QualificationRequest(
                qualification_request_id=request_id,
                qualification_type_id=type_id,
                customer_id=found.customer_id,
                worker_id=worker_id,
                status="Pending",
                submit_time=now,
                test=found.test,
                answer=answer,
            )
        )
        return Requested(request_id, "Pending")
