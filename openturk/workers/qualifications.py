"""A worker's side of qualifications: their own scores, requesting one, taking its test.

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
from openturk.store import profiles
from openturk.store.database import Database
from openturk.store.qualifications import QualificationRepository
from openturk.store.workers import WorkerRepository
from openturk.workers.actions import check_answers, check_worker_id


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


@dataclass(frozen=True)
class TestStarted:
    qualification_type_id: str
    name: str
    test: str  # the QuestionForm
    test_duration_s: int
    deadline: int  # epoch ms: answers after it are refused


def _requestable(repo: QualificationRepository, type_id: str, worker_id: str) -> rules.QualificationType:
    # Locked: two requests of one worker at the same moment would each find nothing Pending or
    # Granted, and both go through (PostgreSQL; SQLite has one writer anyway).
    found = repo.qualification_type(type_id, lock=True)
    # A worker the type's requester blocked sees nothing of that requester: as if it did not exist.
    if found is None or not found.is_live or WorkerRepository(repo.conn).is_blocked(found.customer_id, worker_id):
        raise WorkerError(404, "QualificationTypeNotFound", f"QualificationType {type_id} does not exist.")
    if found.status != "Active":
        raise WorkerError(409, "QualificationTypeNotRequestable", f"QualificationType {type_id} is not Active.")
    held = repo.qualification(type_id, worker_id)
    if held is not None and held.status == "Granted":
        raise WorkerError(409, "QualificationAlreadyExists", f"You already hold QualificationType {type_id}.")
    return found


def _retake_refusal(
    repo: QualificationRepository, found: rules.QualificationType, worker_id: str, now: int
) -> WorkerError | None:
    """Why the worker may not request (or take the Test of) the type again now: its retry rules, or
    a request of theirs still Pending (a second would give the requester two to decide for one worker)."""
    type_id = found.qualification_type_id
    refusal = rules.retake_problem(found, repo.last_request_time(type_id, worker_id), now)
    if refusal is not None:
        return WorkerError(409, *refusal)
    if repo.has_pending_request(type_id, worker_id):
        return WorkerError(
            409, "QualificationRequestPending", f"Your request for QualificationType {type_id} awaits its requester."
        )
    return None


def start_test(db: Database, clock: Clock, worker_id: str, type_id: str) -> TestStarted:
    """Show the type's Test and start its clock (again, when started before): the answers must
    come within TestDurationInSeconds. Refused like a request (missing, inactive, already held,
    retry delay not passed), and 404 NoTest for a type without a Test."""
    check_worker_id(worker_id)
    with db.write() as conn:
        repo = QualificationRepository(conn)
        now = clock.now_ms()
        found = _requestable(repo, type_id, worker_id)
        if found.test is None:
            raise WorkerError(404, "NoTest", f"QualificationType {type_id} has no Test.")
        refusal = _retake_refusal(repo, found, worker_id, now)
        if refusal is not None:
            raise refusal
        repo.start_test(type_id, worker_id, now)
        duration_s = found.test_duration_s or 0
        return TestStarted(type_id, found.name, found.test, duration_s, now + duration_s * 1000)


def started_test(db: Database, worker_id: str, type_id: str) -> TestStarted:
    """The Test the worker started (what their answers are checked against), without restarting
    its clock. ``WorkerError`` 404 for a missing type or one without a Test, 409 TestNotStarted
    when the worker has not started it (or already sent its answers)."""
    check_worker_id(worker_id)
    with db.read() as conn:
        repo = QualificationRepository(conn)
        found = repo.qualification_type(type_id)
        started_at = repo.test_started_at(type_id, worker_id)
    if found is None or not found.is_live:
        raise WorkerError(404, "QualificationTypeNotFound", f"QualificationType {type_id} does not exist.")
    if found.test is None:
        raise WorkerError(404, "NoTest", f"QualificationType {type_id} has no Test.")
    if started_at is None:
        raise WorkerError(
            409, "TestNotStarted", f"Start the Test of QualificationType {type_id} before sending its answers."
        )
    duration_s = found.test_duration_s or 0
    return TestStarted(type_id, found.name, found.test, duration_s, started_at + duration_s * 1000)


@dataclass(frozen=True)
class RequestableType:
    """A type the worker may ask for, and where the worker stands with it."""

    qualification_type: rules.QualificationType
    held: str | None  # Granted | Revoked | None
    pending: bool  # a request of theirs waits for the requester


def requestable_types(
    db: Database, worker_id: str, query_text: str | None, after: tuple[int, str] | None, limit: int
) -> list[RequestableType]:
    """ListQualificationTypes with MustBeRequestable (Active types, in CreationTime order, after
    ``after``), less the types of requesters who blocked the worker."""
    check_worker_id(worker_id)
    with db.read() as conn:
        repo = QualificationRepository(conn)
        found = repo.types_page(None, after, limit, requestable=True, query_text=query_text, hidden_from=worker_id)
        held = {q.qualification_type_id: q.status for q, _ in repo.qualifications_of(worker_id)}
        pending = {r.qualification_type_id for r, _ in repo.pending_requests_of(worker_id)}
    return [RequestableType(t, held.get(t.qualification_type_id), t.qualification_type_id in pending) for t in found]


def own(db: Database, worker_id: str) -> dict[str, Any]:
    """The worker's qualifications, as their dashboard shows them: system values (computed; a
    Masters they do not hold is left out), requesters' grants (Granted or Revoked, with the Reason
    of a revocation) and their Pending requests."""
    check_worker_id(worker_id)
    with db.read() as conn:
        repo = QualificationRepository(conn)
        standing = profiles.standing(conn, worker_id)
        held = repo.qualifications_of(worker_id)
        pending = repo.pending_requests_of(worker_id)
    system: list[dict[str, Any]] = []
    for type_id, (name, _) in rules.SYSTEM_TYPE_TEXTS.items():
        value = standing.value(type_id)
        if value is None:
            continue
        entry: dict[str, Any] = {"QualificationTypeId": type_id, "Name": name, "Status": "Granted", "System": True}
        if isinstance(value, str):
            country, _, subdivision = value.partition("-")
            entry["LocaleValue"] = {"Country": country, **({"Subdivision": subdivision} if subdivision else {})}
        else:
            entry["IntegerValue"] = value
        system.append(entry)
    granted = [
        {
            "QualificationTypeId": q.qualification_type_id,
            "Name": name,
            "Status": q.status,
            "IntegerValue": q.integer_value,
            "GrantTime": q.grant_time / 1000,
            "System": False,
            **({"Reason": q.reason} if q.status == "Revoked" and q.reason else {}),
        }
        for q, name in held
    ]
    requests = [
        {
            "QualificationRequestId": r.qualification_request_id,
            "QualificationTypeId": r.qualification_type_id,
            "Name": name,
            "Status": r.status,
            "SubmitTime": r.submit_time / 1000,
        }
        for r, name in pending
    ]
    return {"Qualifications": system + granted, "QualificationRequests": requests}


def request(
    db: Database, clock: Clock, worker_id: str, type_id: str, test_answers: Sequence[tuple[str, Any]] | None
) -> Requested:
    """Request a qualification. An AutoGranted type grants at once; a type with a Test needs its
    answers (as the worker API's submit takes them), sent within TestDurationInSeconds of
    ``start_test``, and, when it has an AnswerKey, grants at once
    with the value the answers score. Both keep the request, Approved, out of the requester's list.
    Any other request waits, Pending, for the requester, with the answers as a QuestionFormAnswers
    document. A second request (granted at once or not) needs the type's RetryDelayInSeconds to have
    passed since the last, and is refused when the type has none [M]."""
    check_worker_id(worker_id)
    check_answers(test_answers or ())
    with db.write() as conn:
        repo = QualificationRepository(conn)
        now = clock.now_ms()
        found = _requestable(repo, type_id, worker_id)
        if found.test is not None and test_answers is None:
            raise WorkerError(400, "TestAnswersRequired", f"QualificationType {type_id} has a Test: send its Answers.")
        refusal = _retake_refusal(repo, found, worker_id, now)
        if refusal is not None:
            raise refusal
        late = rules.test_time_problem(found, repo.test_started_at(type_id, worker_id), now)
        if late is not None:
            raise WorkerError(410 if late[0] == "TestTimeExpired" else 409, *late)
        # The answers are taken: a retake starts the Test again.
        repo.end_test(type_id, worker_id)
        granted_at_once = found.auto_granted or found.answer_key is not None
        request_id = ids.entity_id()
        # A request granted at once is kept too, Approved: the retry rules count from it, so a
        # revoked worker cannot take the Test again (or re-request) before RetryDelayInSeconds, or
        # ever when the type allows no retry.
        repo.insert_request(
            QualificationRequest(
                qualification_request_id=request_id,
                qualification_type_id=type_id,
                customer_id=found.customer_id,
                worker_id=worker_id,
                status="Approved" if granted_at_once else "Pending",
                submit_time=now,
                test=found.test,
                answer=None if test_answers is None else answers.answers_document(test_answers),
            )
        )
        if granted_at_once:
            if found.answer_key is not None:
                given = {identifier: _selections(value) for identifier, value in test_answers or ()}
                value = answer_keys.qualification_value(answer_keys.parse(found.answer_key), given)
            else:
                value = rules.granted_value(found, None)
            repo.put_qualification(Qualification(type_id, worker_id, value, "Granted", now))
            return Requested(None, "Granted", value)
        return Requested(request_id, "Pending")
