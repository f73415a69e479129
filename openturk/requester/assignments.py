"""Assignments as the requester sees them: read, list, approve, reject."""

from __future__ import annotations

from typing import Any

from openturk import expiry, transitions
from openturk.api import enums
from openturk.domain import lifecycle
from openturk.domain.model import HIT, Assignment
from openturk.errors import AssignmentDoesNotExist, InvalidAssignmentState
from openturk.requester import hits as hits_ops
from openturk.requester import paging
from openturk.requester.context import Context
from openturk.requester.registry import operation
from openturk.store.repository import Repository

# The statuses the wire shows: Accepted, Returned and Abandoned assignments are openturk's own.
VISIBLE = enums.ASSIGNMENT_STATUSES
OVERRIDE_WINDOW_MS = 30 * 24 * 3600 * 1000


def assignment_to_wire(assignment: Assignment) -> dict[str, Any]:
    return {
        "AssignmentId": assignment.assignment_id,
        "WorkerId": assignment.worker_id,
        "HITId": assignment.hit_id,
        "AssignmentStatus": assignment.status,
        "AutoApprovalTime": assignment.auto_approval_time,
        "AcceptTime": assignment.accept_time,
        "SubmitTime": assignment.submit_time,
        "ApprovalTime": assignment.approval_time,
        "RejectionTime": assignment.rejection_time,
        "Deadline": assignment.deadline,
        "Answer": assignment.answer,
        "RequesterFeedback": assignment.requester_feedback,
    }


def owned_assignment(
    repo: Repository, ctx: Context, assignment_id: str, *, lock_at: int | None = None
) -> tuple[Assignment, HIT]:
    """A submitted (or decided) assignment of one of the caller's HITs.

    DECISION: an assignment still in progress does not exist for the requester, as on MTurk.
    With ``lock_at`` both are locked for a transition at that time, the HIT's passed expiry and the
    assignment's passed auto-approval applied first (``expiry.catch_up_assignment``).
    """
    found = repo.assignment_with_hit(assignment_id, for_update=lock_at is not None)
    if found is None or found[1].customer_id != ctx.customer_id or found[0].status not in VISIBLE:
        raise AssignmentDoesNotExist(f"Assignment {assignment_id} does not exist.")
    assignment, hit = found
    return (assignment, hit) if lock_at is None else expiry.catch_up_assignment(repo, assignment, hit, lock_at)


def _feedback(params: dict[str, Any]) -> str | None:
    feedback = params.get("RequesterFeedback")
    if feedback is None:
        return None
    lifecycle.check_feedback(feedback)
    return str(feedback)


@operation("GetAssignment")
def get_assignment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        repo = Repository(conn)
        assignment, hit = owned_assignment(repo, ctx, params["AssignmentId"])
        return {"Assignment": assignment_to_wire(assignment), "HIT": hits_ops.hits_to_wire(repo, [hit])[0]}


@operation("ListAssignmentsForHIT")
def list_assignments_for_hit(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    statuses = params.get("AssignmentStatuses") or list(VISIBLE)
    with ctx.db.read() as conn:
        repo = Repository(conn)
        hit = hits_ops.owned_hit(repo, ctx, params["HITId"])
        page, token = paging.paginate(
            params,
            "ListAssignmentsForHIT",
            lambda after, limit: repo.assignments_page(hit.hit_id, statuses, tuple(after) if after else None, limit),
            lambda a: [a.submit_time, a.assignment_id],
            [0, ""],
        )
        return {"NextToken": token, "NumResults": len(page), "Assignments": [assignment_to_wire(a) for a in page]}


@operation("ApproveAssignment")
def approve_assignment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    feedback = _feedback(params)
    override = params.get("OverrideRejection", False)
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        assignment, hit = owned_assignment(repo, ctx, params["AssignmentId"], lock_at=now)
        if assignment.status == "Rejected" and override:
            assert assignment.submit_time is not None
            if now - assignment.submit_time > OVERRIDE_WINDOW_MS or hit.status == "Disposed":
                raise InvalidAssignmentState(
                    "A rejection can be overridden only within 30 days of submission, before the HIT is deleted."
                )
        elif assignment.status != "Submitted":
            raise InvalidAssignmentState("This operation can be called with a status of: Submitted")
        transitions.approve(repo, hit, assignment, feedback, now)
    return {}


@operation("RejectAssignment")
def reject_assignment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    feedback = _feedback(params)
    assert feedback is not None
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        assignment, hit = owned_assignment(repo, ctx, params["AssignmentId"], lock_at=now)
        if assignment.status != "Submitted":
            raise InvalidAssignmentState("This operation can be called with a status of: Submitted")
        transitions.reject(repo, hit, assignment, feedback, now)
    return {}
