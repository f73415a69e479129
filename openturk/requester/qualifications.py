"""Qualification types, workers' qualifications and qualification requests.

Another requester's type answers like a missing one (DECISION, spec §2), except where MTurk let
anyone read a type: GetQualificationType and ListQualificationTypes show every live type, without
its AnswerKey unless the caller owns it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from openturk import worker_mail
from openturk.domain import ids, worker_notices
from openturk.domain import qualifications as rules
from openturk.domain.qualifications import Qualification, QualificationRequest, QualificationType
from openturk.errors import (
    InvalidParameterValue,
    InvalidQualificationRequestState,
    InvalidQualificationState,
    InvalidQualificationTypeState,
    ParameterOutOfRange,
    PermissionDenied,
    QualificationDoesNotExist,
    QualificationRequestDoesNotExist,
    QualificationTypeAlreadyExists,
    QualificationTypeDoesNotExist,
)
from openturk.requester import paging
from openturk.requester.context import Context
from openturk.requester.hits import hits_to_wire
from openturk.requester.registry import operation
from openturk.store import profiles
from openturk.store.qualifications import QualificationRepository
from openturk.store.repository import Repository
from openturk.store.worker_emails import WorkerEmailRepository
from openturk.store.workers import WorkerRepository

DUPLICATE_NAME = (
    "You have already created a QualificationType with this name. A QualificationType's name must be unique "
    "among all of the QualificationTypes created by the same user."
)
# MTurk's one answer for a worker without the qualification and for a type that is missing or not
# the caller's alike (Dallinger/Dallinger#3331 live, boto/boto#3171 sandbox; Dallinger's 2018
# sandbox test read it for the type id "NONEXISTENT"). Requesters match the sentence, full stop
# included, to mean "not granted yet".
NO_SUCH_QUALIFICATION = "You requested a Qualification that does not exist."
# MTurk's system types, readable by everyone (GetQualificationType, ListQualificationTypes with
# MustBeRequestable false); none can be requested, granted or revoked through the API.
SYSTEM_TYPES = rules.SYSTEM_TYPE_TEXTS


# -- wire shapes ---------------------------------------------------------------------------------
def type_to_wire(qualification_type: QualificationType, caller: str) -> dict[str, Any]:
    owned = qualification_type.customer_id == caller
    return {
        "QualificationTypeId": qualification_type.qualification_type_id,
        "CreationTime": qualification_type.creation_time,
        "Name": qualification_type.name,
        "Description": qualification_type.description,
        "Keywords": qualification_type.keywords,
        "QualificationTypeStatus": qualification_type.status,
        "Test": qualification_type.test,
        "TestDurationInSeconds": qualification_type.test_duration_s,
        "AnswerKey": qualification_type.answer_key if owned else None,
        "RetryDelayInSeconds": qualification_type.retry_delay_s,
        "IsRequestable": qualification_type.status == "Active",
        "AutoGranted": qualification_type.auto_granted,
        "AutoGrantedValue": qualification_type.auto_granted_value if qualification_type.auto_granted else None,
    }


def _system_to_wire(type_id: str) -> dict[str, Any]:
    name, description = SYSTEM_TYPES[type_id]
    return {
        "QualificationTypeId": type_id,
        "CreationTime": 0,
        "Name": name,
        "Description": description,
        "Keywords": "",
        "QualificationTypeStatus": "Active",
        "IsRequestable": False,
        "AutoGranted": False,
    }


def qualification_to_wire(qualification: Qualification) -> dict[str, Any]:
    return {
        "QualificationTypeId": qualification.qualification_type_id,
        "WorkerId": qualification.worker_id,
        "GrantTime": qualification.grant_time,
        "IntegerValue": qualification.integer_value,
        "Status": qualification.status,
    }


def request_to_wire(request: QualificationRequest) -> dict[str, Any]:
    return {
        "QualificationRequestId": request.qualification_request_id,
        "QualificationTypeId": request.qualification_type_id,
        "WorkerId": request.worker_id,
        "Test": request.test,
        "Answer": request.answer,
        "SubmitTime": request.submit_time,
    }


# -- lookups -------------------------------------------------------------------------------------
def _not_a_system_type(type_id: str) -> None:
    if type_id in SYSTEM_TYPES:
        raise QualificationTypeDoesNotExist(
            f"QualificationType {type_id} is a system QualificationType: its values are computed for each worker "
            "and cannot be listed or changed; read one with GetQualificationScore."
        )


def owned_type(repo: QualificationRepository, ctx: Context, type_id: str, *, live: bool = True) -> QualificationType:
    """The caller's type; a missing, foreign or (with ``live``) deleted one does not exist."""
    _not_a_system_type(type_id)
    found = repo.qualification_type(type_id)
    if found is None or found.customer_id != ctx.customer_id or (live and not found.is_live):
        raise QualificationTypeDoesNotExist(f"QualificationType {type_id} does not exist.")
    return found


def _grantable_type(repo: QualificationRepository, ctx: Context, type_id: str) -> QualificationType:
    """A type the caller may grant or revoke: their own and not deleted (DECISION: foreign → PermissionDenied)."""
    _not_a_system_type(type_id)
    found = repo.qualification_type(type_id)
    if found is None or (found.customer_id == ctx.customer_id and not found.is_live):
        raise QualificationTypeDoesNotExist(f"QualificationType {type_id} does not exist.")
    if found.customer_id != ctx.customer_id:
        raise PermissionDenied(f"You do not own QualificationType {type_id}.")
    return found


def _pending_request(repo: QualificationRepository, ctx: Context, request_id: str) -> QualificationRequest:
    request = repo.request(request_id)
    if request is None or request.customer_id != ctx.customer_id:
        raise QualificationRequestDoesNotExist(f"QualificationRequest {request_id} does not exist.")
    if request.status != "Pending":
        raise InvalidQualificationRequestState(
            f"QualificationRequest {request_id} is {request.status}. This operation can be called with a status of: "
            "Pending"
        )
    return request


# -- qualification types -------------------------------------------------------------------------
@operation("CreateQualificationType")
def create_qualification_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rules.check_text(params["Name"], params["Description"], params.get("Keywords"))
    auto_granted = bool(params.get("AutoGranted", False))
    rules.check_test(params.get("Test"), params.get("AnswerKey"), params.get("TestDurationInSeconds"), auto_granted)
    _check_seconds(params)
    now = ctx.clock.now_ms()
    candidate = QualificationType(
        qualification_type_id=ids.entity_id(),
        customer_id=ctx.customer_id,
        name=params["Name"],
        description=params["Description"],
        keywords=params.get("Keywords"),
        status=params["QualificationTypeStatus"],
        creation_time=now,
        retry_delay_s=params.get("RetryDelayInSeconds"),
        test=params.get("Test"),
        answer_key=params.get("AnswerKey"),
        test_duration_s=params.get("TestDurationInSeconds"),
        auto_granted=auto_granted,
        # AutoGrantedValue defaults to 1 [M]; it is kept only for an auto-granted type.
        auto_granted_value=params.get("AutoGrantedValue", 1) if auto_granted else params.get("AutoGrantedValue"),
    )
    with ctx.db.write() as conn:
        repo = QualificationRepository(conn)
        if repo.live_type_named(ctx.customer_id, candidate.name) is not None:
            raise QualificationTypeAlreadyExists(DUPLICATE_NAME)
        try:
            with conn.begin_nested():
                repo.insert_type(candidate)
        except IntegrityError as exc:  # another process took the name between the check and the insert
            raise QualificationTypeAlreadyExists(DUPLICATE_NAME) from exc
        return {"QualificationType": type_to_wire(candidate, ctx.customer_id)}


def _check_seconds(params: dict[str, Any]) -> None:
    """RetryDelayInSeconds may be 0 (retake at once); a test needs a moment to be taken in (MTurk's
    "positive integer")."""
    for field, least in (("RetryDelayInSeconds", 0), ("TestDurationInSeconds", 1)):
        value = params.get(field)
        if value is not None and value < least:
            raise ParameterOutOfRange(f"Value {value} for {field} is out of range; it must be at least {least}.")


@operation("GetQualificationType")
def get_qualification_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    type_id = params["QualificationTypeId"]
    if type_id in SYSTEM_TYPES:
        return {"QualificationType": _system_to_wire(type_id)}
    with ctx.db.read() as conn:
        found = QualificationRepository(conn).qualification_type(type_id)
    if found is None or (found.customer_id != ctx.customer_id and not found.is_live):
        raise QualificationTypeDoesNotExist(f"QualificationType {type_id} does not exist.")
    return {"QualificationType": type_to_wire(found, ctx.customer_id)}


@operation("ListQualificationTypes")
def list_qualification_types(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Live types in (CreationTime, Id) order; system types (CreationTime 0) first when not requestable-only."""
    requestable = params["MustBeRequestable"]
    owner = ctx.customer_id if params.get("MustBeOwnedByCaller") else None
    query_text = params.get("Query")
    with_system = not requestable and owner is None

    def fetch(after: Any, limit: int) -> list[tuple[int, str, dict[str, Any]]]:
        position = tuple(after) if after else (-1, "")
        items: list[tuple[int, str, dict[str, Any]]] = []
        if with_system:
            for type_id in sorted(SYSTEM_TYPES):
                wire = _system_to_wire(type_id)
                if (0, type_id) > position and _system_matches(wire, query_text):
                    items.append((0, type_id, wire))
        items = items[:limit]
        rows = QualificationRepository(conn).types_page(
            owner,
            position if after else None,
            limit - len(items),
            requestable=requestable,
            query_text=query_text,
        )
        items += [(row.creation_time, row.qualification_type_id, type_to_wire(row, ctx.customer_id)) for row in rows]
        return items

    with ctx.db.read() as conn:
        page, token = paging.paginate(params, "ListQualificationTypes", fetch, lambda item: [item[0], item[1]], [0, ""])
    return {"NextToken": token, "NumResults": len(page), "QualificationTypes": [item[2] for item in page]}


def _system_matches(wire: dict[str, Any], query_text: str | None) -> bool:
    if not query_text:
        return True
    needle = query_text.casefold()
    return any(needle in str(wire[field]).casefold() for field in ("Name", "Description", "Keywords"))


@operation("UpdateQualificationType")
def update_qualification_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Description, status, test, retry delay and auto-granting change; Name and Keywords cannot [M]."""
    rules.check_text(None, params.get("Description"), None)
    _check_seconds(params)
    # "If you omit the Test parameter, the test for the Qualification type is unchanged" and "If you
    # want to update the test duration or answer key for an existing test without changing the
    # questions, you must specify a Test parameter with the original questions."
    without_test = [name for name in ("TestDurationInSeconds", "AnswerKey") if name in params and "Test" not in params]
    if without_test:
        raise InvalidParameterValue(
            f"{' and '.join(without_test)} change a test only with its Test: give Test (the original "
            "questions, to keep them) with TestDurationInSeconds."
        )
    with ctx.db.write() as conn:
        repo = QualificationRepository(conn)
        current = owned_type(repo, ctx, params["QualificationTypeId"])
        # A retry delay can change but not be removed (retries stay allowed [M]): the wire has no way to unset it.
        retry_delay = params.get("RetryDelayInSeconds", current.retry_delay_s)
        test = params.get("Test", current.test)
        # A new Test without an AnswerKey has no key [M].
        answer_key = params.get("AnswerKey", None if "Test" in params else current.answer_key)
        duration = params.get("TestDurationInSeconds", current.test_duration_s if "Test" not in params else None)
        auto_granted = params.get("AutoGranted", current.auto_granted)
        if test is not None and auto_granted:
            raise InvalidParameterValue("A QualificationType with a Test cannot be AutoGranted.")
        rules.check_test(test, answer_key, duration, auto_granted)
        updated = replace(
            current,
            description=params.get("Description", current.description),
            status=params.get("QualificationTypeStatus", current.status),
            retry_delay_s=retry_delay,
            test=test,
            answer_key=answer_key,
            test_duration_s=duration,
            auto_granted=auto_granted,
            auto_granted_value=params.get(
                "AutoGrantedValue", current.auto_granted_value if current.auto_granted_value is not None else 1
            )
            if auto_granted
            else params.get("AutoGrantedValue", current.auto_granted_value),
        )
        repo.save_type(updated)
        return {"QualificationType": type_to_wire(updated, ctx.customer_id)}


@operation("DeleteQualificationType")
def delete_qualification_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Status Disposing: no new use, its name free at once, pending requests rejected, grants kept [M].

    Deleting it again is refused as MTurk refused DisposeQualificationType on a disposing type (an
    answer recorded in chbrown/formious: ``InvalidQualificationTypeState``, Active,Inactive)."""
    with ctx.db.write() as conn:
        repo = QualificationRepository(conn)
        current = owned_type(repo, ctx, params["QualificationTypeId"], live=False)
        if current.status == "Disposing":
            raise InvalidQualificationTypeState("This operation can be called with a status of: Active,Inactive")
        repo.save_type(replace(current, status="Disposing"))
        repo.reject_pending_requests(current.qualification_type_id, "The QualificationType was deleted.")
    return {}


@operation("ListHITsForQualificationType")
def list_hits_for_qualification_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        repo = QualificationRepository(conn)
        found = owned_type(repo, ctx, params["QualificationTypeId"], live=False)
        hit_type_ids = repo.hit_type_ids_requiring(ctx.customer_id, found.qualification_type_id)
        keys, token = paging.paginate(
            params,
            "ListHITsForQualificationType",
            lambda after, limit: repo.hit_ids_page(
                ctx.customer_id, hit_type_ids, tuple(after) if after else None, limit
            ),
            lambda key: list(key),
            [0, ""],
        )
        hit_repo = Repository(conn)
        found_hits = [hit for hit in (hit_repo.hit(hit_id) for _, hit_id in keys) if hit is not None]
        return {"NextToken": token, "NumResults": len(found_hits), "HITs": hits_to_wire(hit_repo, found_hits)}


# -- workers' qualifications ---------------------------------------------------------------------
class _Notices:
    """Qualification notices: inbox rows, and their emails queued, in the operation's transaction; the
    emails are sent after it commits and retried by the mail loop (as NotifyWorkers does)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.queued: list[int] = []

    def add(self, conn: Connection, worker_id: str, notice: tuple[str, str]) -> None:
        repo = WorkerRepository(conn)
        subject, text = notice
        message_id = repo.insert_message(worker_id, self.ctx.customer_id, subject, text, self.ctx.clock.now_ms())
        address = repo.emails([worker_id]).get(worker_id)
        if address is not None:
            WorkerEmailRepository(conn).queue(message_id, address, worker_mail.wall_ms())
            self.queued.append(message_id)

    def send(self) -> None:
        worker_mail.send(self.ctx.db, self.ctx.settings, self.queued)


@operation("AssociateQualificationWithWorker")
def associate_qualification_with_worker(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Grant or re-grant (overwriting the value); pending requests are left as they are [M].

    SendNotification (default true [M]) puts a notice in the worker's inbox and emails it when the
    worker has an address."""
    notices = _Notices(ctx)
    with ctx.db.write() as conn:
        repo = QualificationRepository(conn)
        found = _grantable_type(repo, ctx, params["QualificationTypeId"])
        value = params.get("IntegerValue", 1)
        repo.put_qualification(
            Qualification(found.qualification_type_id, params["WorkerId"], value, "Granted", ctx.clock.now_ms())
        )
        if params.get("SendNotification", True):
            notices.add(conn, params["WorkerId"], worker_notices.qualification_granted(found.name, value))
    notices.send()
    return {}


@operation("DisassociateQualificationFromWorker")
def disassociate_qualification_from_worker(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    notices = _Notices(ctx)
    with ctx.db.write() as conn:
        repo = QualificationRepository(conn)
        found = _grantable_type(repo, ctx, params["QualificationTypeId"])
        # Locked: two revocations at once must not both find it Granted (PostgreSQL).
        held = repo.qualification(found.qualification_type_id, params["WorkerId"], lock=True)
        if held is None:
            raise QualificationDoesNotExist(
                f"Worker {params['WorkerId']} does not have QualificationType {found.qualification_type_id}: "
                "the Qualification does not exist."
            )
        if held.status != "Granted":
            raise InvalidQualificationState(
                f"The Qualification is {held.status}. This operation can be called with a status of: Granted"
            )
        repo.put_qualification(replace(held, status="Revoked", reason=params.get("Reason")))
        # The Reason is shown to the worker [M]: in their inbox (and mailbox).
        notices.add(conn, held.worker_id, worker_notices.qualification_revoked(found.name, params.get("Reason")))
    notices.send()
    return {}


@operation("GetQualificationScore")
def get_qualification_score(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if params["QualificationTypeId"] in SYSTEM_TYPES:
        return {"Qualification": _system_score(ctx, params["QualificationTypeId"], params["WorkerId"])}
    with ctx.db.read() as conn:
        repo = QualificationRepository(conn)
        found = repo.qualification_type(params["QualificationTypeId"])
        mine = found is not None and found.customer_id == ctx.customer_id  # a deleted one's grants stay readable
        held = repo.qualification(params["QualificationTypeId"], params["WorkerId"]) if mine else None
    if held is None:
        raise QualificationDoesNotExist(NO_SUCH_QUALIFICATION)
    if held.status != "Granted":
        # MTurk refuses a revoked one (Dallinger's sandbox tests, test_retrieving_revoked_qualifications_raises,
        # and its RevokedQualification read this message); ListWorkersWithQualificationType still shows it.
        raise InvalidQualificationState(
            f"The Qualification is {held.status}. This operation can be called with a status of: Granted"
        )
    return {"Qualification": qualification_to_wire(held)}


def _system_score(ctx: Context, type_id: str, worker_id: str) -> dict[str, Any]:
    """A system qualification, computed now (DECISION: readable by any requester, but only for a
    worker who submitted work to them, as NotifyWorkers reaches only those; a Masters the worker
    does not hold does not exist). GrantTime: Masters' grant, the profile's last change for Locale
    and Adult, now for the statistics."""
    with ctx.db.read() as conn:
        worked = WorkerRepository(conn).worked_for(ctx.customer_id, [worker_id])
        standing = profiles.standing(conn, worker_id)
    value = standing.value(type_id) if worker_id in worked else None
    if value is None:
        raise QualificationDoesNotExist(NO_SUCH_QUALIFICATION)
    profile = standing.profile
    if type_id in rules.MASTERS_TYPES:
        grant_time = profile.masters_granted_at
    elif type_id in (rules.LOCALE, rules.ADULT):
        grant_time = profile.updated_at
    else:
        grant_time = None
    wire: dict[str, Any] = {
        "QualificationTypeId": type_id,
        "WorkerId": worker_id,
        "GrantTime": ctx.clock.now_ms() if grant_time is None else grant_time,
        "Status": "Granted",
    }
    if isinstance(value, str):
        wire["LocaleValue"] = {"Country": profile.country}
        if profile.subdivision is not None:
            wire["LocaleValue"]["Subdivision"] = profile.subdivision
    else:
        wire["IntegerValue"] = value
    return wire


@operation("ListWorkersWithQualificationType")
def list_workers_with_qualification_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Granted and Revoked alike unless Status names one (DECISION); ordered by WorkerId."""
    with ctx.db.read() as conn:
        repo = QualificationRepository(conn)
        found = owned_type(repo, ctx, params["QualificationTypeId"], live=False)
        page, token = paging.paginate(
            params,
            "ListWorkersWithQualificationType",
            lambda after, limit: repo.qualifications_page(
                found.qualification_type_id, params.get("Status"), after, limit
            ),
            lambda held: held.worker_id,
            "",
        )
    return {"NextToken": token, "NumResults": len(page), "Qualifications": [qualification_to_wire(q) for q in page]}


# -- qualification requests ----------------------------------------------------------------------
@operation("ListQualificationRequests")
def list_qualification_requests(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Pending requests for the caller's types (one type, or all), oldest first (DECISION)."""
    with ctx.db.read() as conn:
        repo = QualificationRepository(conn)
        type_id = params.get("QualificationTypeId")
        if type_id is not None:
            owned_type(repo, ctx, type_id, live=False)
        page, token = paging.paginate(
            params,
            "ListQualificationRequests",
            lambda after, limit: repo.pending_requests_page(
                ctx.customer_id, type_id, tuple(after) if after else None, limit
            ),
            lambda request: [request.submit_time, request.qualification_request_id],
            [0, ""],
        )
    return {"NextToken": token, "NumResults": len(page), "QualificationRequests": [request_to_wire(r) for r in page]}


@operation("AcceptQualificationRequest")
def accept_qualification_request(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Grants the type; the worker is told in their inbox (DECISION, as MTurk's dashboard told them)."""
    notices = _Notices(ctx)
    with ctx.db.write() as conn:
        repo = QualificationRepository(conn)
        request = _pending_request(repo, ctx, params["QualificationRequestId"])
        found = repo.qualification_type(request.qualification_type_id)
        assert found is not None
        if not found.is_live:
            raise InvalidQualificationTypeState(f"QualificationType {found.qualification_type_id} has been deleted.")
        value = rules.granted_value(found, params.get("IntegerValue"))
        repo.put_qualification(
            Qualification(found.qualification_type_id, request.worker_id, value, "Granted", ctx.clock.now_ms())
        )
        repo.decide_request(request.qualification_request_id, "Approved", None)
        notice = worker_notices.qualification_request_decided(found.name, True, value, None)
        notices.add(conn, request.worker_id, notice)
    notices.send()
    return {}


@operation("RejectQualificationRequest")
def reject_qualification_request(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The Reason is shown to the worker [M]: in their inbox (and mailbox)."""
    notices = _Notices(ctx)
    with ctx.db.write() as conn:
        repo = QualificationRepository(conn)
        request = _pending_request(repo, ctx, params["QualificationRequestId"])
        repo.decide_request(request.qualification_request_id, "Rejected", params.get("Reason"))
        found = repo.qualification_type(request.qualification_type_id)
        assert found is not None
        notice = worker_notices.qualification_request_decided(found.name, False, None, params.get("Reason"))
        notices.add(conn, request.worker_id, notice)
    notices.send()
    return {}
