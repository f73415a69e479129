"""A worker's side of qualifications: requesting one, taking its test.

Errors are ``WorkerError`` (a 4xx for the worker API), never a half-written state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openturk.clock import Clock
from openturk.domain import answer_keys, answers, ids
from openturk.domain import qualifications as rules
from openturk.domain.qualifications import Qualification, QualificationRequest
from openturk.errors import WorkerError
from openturk.store.database import Database
from openturk.store.qualifications import QualificationRepository
from openturk.workers.actions import check_worker_id


@dataclass(frozen=True)
class Requested:
    qualification_request_id: str | None  # None when the type granted itself (AutoGranted)
    status: str  # Pending | Granted
    integer_value: int | None = None  # the value granted


def _selections(value: Any) -> list[str]:
    """What an answer selected, for scoring: a string is one selection, a list several."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    parts: Mapping[str, Any] = value
    chosen = [str(item) for item in parts.get("SelectionIdentifiers", [])]
    return chosen + [str(parts[name]) for name in ("FreeText", "OtherSelectionText") if name in parts]


def request(
    db: Database, clock: Clock, worker_id: str, type_id: str, test_answers: Sequence[tuple[str, Any]] | None
) -> Requested:
    """Request a qualification. An AutoGranted type grants at once; a type with a Test needs its
    answers (as the worker API's submit takes them) and, when it has an AnswerKey, grants at once
    with the value the answers score. Neither leaves a request. Any other request waits, Pending,
    for the requester, with the answers as a QuestionFormAnswers document. A second request needs
    the type's RetryDelayInSeconds to have passed [M]."""
    check_worker_id(worker_id)
    for identifier, value in test_answers or ():
        problem = answers.value_problem(identifier, value) if identifier else "QuestionIdentifier must not be empty."
        if problem is not None:
            raise WorkerError(400, "InvalidAnswer", problem)
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
        if found.test is not None and test_answers is None:
            raise WorkerError(400, "TestAnswersRequired", f"QualificationType {type_id} has a Test: send its Answers.")
        refusal = rules.retake_problem(found, repo.last_request_time(type_id, worker_id), now)
        if refusal is not None:
            raise WorkerError(409, *refusal)
        if found.auto_granted or found.answer_key is not None:
            if found.answer_key is not None:
                given = {identifier: _selections(value) for identifier, value in test_answers or ()}
                value = answer_keys.qualification_value(answer_keys.parse(found.answer_key), given)
            else:
                value = rules.granted_value(found, None)
            repo.put_qualification(Qualification(type_id, worker_id, value, "Granted", now))
            return Requested(None, "Granted", value)
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
                answer=None if test_answers is None else answers.answers_document(test_answers),
            )
        )
        return Requested(request_id, "Pending")
