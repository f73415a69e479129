"""MTurk's batch results CSV: one row per assignment a requester sees, answers as ``Answer.*`` columns.

The columns and their order are those of the CSV MTurk's requester site downloaded for a batch: the
HIT's and the assignment's, then ``Input.*`` (the batch input row that filled the layout's
placeholders: openturk's are the HITLayoutParameters of CreateHIT), then ``Answer.*``, then the empty
``Approve`` and ``Reject`` columns a requester filled in to upload decisions. Differences (DECISION,
docs/decisions.md): a HIT with no assignment to show has one row with the assignment columns empty;
a HIT made without a layout has its Input cells empty; times are UTC. Every cell that a
spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return)
is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from openturk.domain import money
from openturk.requester.dashboard import AssignmentView, HITView, assignments_of
from openturk.store.schema import assignments, hits

HIT_COLUMNS = (
    "HITId",
    "HITTypeId",
    "Title",
    "Description",
    "Keywords",
    "Reward",
    "CreationTime",
    "MaxAssignments",
    "RequesterAnnotation",
    "AssignmentDurationInSeconds",
    "AutoApprovalDelayInSeconds",
    "Expiration",
    "NumberOfSimilarHITs",
    "LifetimeInSeconds",
)
ASSIGNMENT_COLUMNS = (
    "AssignmentId",
    "WorkerId",
    "AssignmentStatus",
    "AcceptTime",
    "SubmitTime",
    "AutoApprovalTime",
    "ApprovalTime",
    "RejectionTime",
    "RequesterFeedback",
    "WorkTimeInSeconds",
    "LifetimeApprovalRate",
    "Last30DaysApprovalRate",
    "Last7DaysApprovalRate",
)
COLUMNS = HIT_COLUMNS + ASSIGNMENT_COLUMNS
DECISION_COLUMNS = ("Approve", "Reject")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class ApprovalRate:
    approved: int
    decided: int

    def text(self) -> str:
        """MTurk's form: ``100% (3/3)``; ``0% (0/0)`` for a worker with no decided assignment."""
        percent = self.approved * 100 // self.decided if self.decided else 0
        return f"{percent}% ({self.approved}/{self.decided})"


# A worker's approval rates on one requester's HITs: ever, in the last 30 days, in the last 7.
Rates = tuple[ApprovalRate, ApprovalRate, ApprovalRate]


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it, never evaluates it (CSV/formula injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def results_csv(conn: Connection, views: Sequence[HITView], now: int) -> str:
    """The batch results of ``views`` (HITs of one requester), with the answers of each assignment."""
    rows: list[dict[str, str]] = []
    input_names: dict[str, None] = {}
    answer_names: dict[str, None] = {}
    for view in views:
        input_names.update(dict.fromkeys(name for name, _ in view.hit.hit_layout_parameters))
        found = assignments_of(conn, view.hit.hit_id)
        for item in found:
            answer_names.update(dict.fromkeys(name for name, _ in item.answers))
        rates = _rates(conn, view.hit.customer_id, {item.assignment.worker_id for item in found}, now)
        rows.extend(_row(view, item, rates) for item in found)
        if not found:
            rows.append(_row(view, None, {}))
    header = [
        *COLUMNS,
        *(f"Input.{name}" for name in input_names),
        *(f"Answer.{name}" for name in answer_names),
        *DECISION_COLUMNS,
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    writer.writerows([safe_cell(row.get(name, "")) for name in header] for row in rows)
    return out.getvalue()


def _row(view: HITView, item: AssignmentView | None, rates: dict[str, Rates]) -> dict[str, str]:
    hit, hit_type = view.hit, view.hit_type
    row = {
        "HITId": hit.hit_id,
        "HITTypeId": hit.hit_type_id,
        "Title": hit_type.title,
        "Description": hit_type.description,
        "Keywords": hit_type.keywords or "",
        "Reward": "$" + money.format_amount(hit_type.reward_cents),
        "CreationTime": _time(hit.creation_time),
        "MaxAssignments": str(hit.max_assignments),
        "RequesterAnnotation": hit.requester_annotation or "",
        "AssignmentDurationInSeconds": str(hit_type.assignment_duration_s),
        "AutoApprovalDelayInSeconds": str(hit_type.auto_approval_delay_s),
        "Expiration": _time(hit.expiration),
        "NumberOfSimilarHITs": "",
        "LifetimeInSeconds": str(max(0, hit.expiration - hit.creation_time) // 1000),
    }
    row |= {f"Input.{name}": value for name, value in hit.hit_layout_parameters}
    if item is None:
        return row
    assignment = item.assignment
    lifetime, month, week = rates.get(assignment.worker_id, (ApprovalRate(0, 0),) * 3)
    work_ms = (assignment.submit_time - assignment.accept_time) if assignment.submit_time is not None else None
    row |= {
        "AssignmentId": assignment.assignment_id,
        "WorkerId": assignment.worker_id,
        "AssignmentStatus": assignment.status,
        "AcceptTime": _time(assignment.accept_time),
        "SubmitTime": _time(assignment.submit_time),
        "AutoApprovalTime": _time(assignment.auto_approval_time),
        "ApprovalTime": _time(assignment.approval_time),
        "RejectionTime": _time(assignment.rejection_time),
        "RequesterFeedback": assignment.requester_feedback or "",
        "WorkTimeInSeconds": str(work_ms // 1000) if work_ms is not None else "",
        "LifetimeApprovalRate": lifetime.text(),
        "Last30DaysApprovalRate": month.text(),
        "Last7DaysApprovalRate": week.text(),
    }
    row |= {f"Answer.{name}": value for name, value in item.answers}
    return row


def _rates(conn: Connection, customer_id: str, worker_ids: Iterable[str], now: int) -> dict[str, Rates]:
    """Each worker's approval rate on this requester's HITs: ever, in the last 30 days, the last 7.

    An assignment counts in a window when it was approved or rejected in it.
    """
    workers = sorted(worker_ids)
    if not workers:
        return {}
    decided_at = func.coalesce(assignments.c.approval_time, assignments.c.rejection_time)
    query = (
        select(assignments.c.worker_id, assignments.c.status, decided_at)
        .join(hits, hits.c.hit_id == assignments.c.hit_id)
        .where(
            hits.c.customer_id == customer_id,
            assignments.c.worker_id.in_(workers),
            assignments.c.status.in_(("Approved", "Rejected")),
        )
    )
    tallies: dict[str, list[list[int]]] = {worker: [[0, 0], [0, 0], [0, 0]] for worker in workers}
    for worker_id, status, at in conn.execute(query):
        windows = (True, at is not None and now - at <= 30 * DAY_MS, at is not None and now - at <= 7 * DAY_MS)
        for tally, inside in zip(tallies[worker_id], windows, strict=True):
            if inside:
                tally[1] += 1
                tally[0] += status == "Approved"
    return {worker: (ApprovalRate(*t[0]), ApprovalRate(*t[1]), ApprovalRate(*t[2])) for worker, t in tallies.items()}


def _time(epoch_ms: int | None) -> str:
    """MTurk's batch results wrote times as ``Wed Nov 29 14:51:30 PST 2026``; openturk's are UTC."""
    if epoch_ms is None:
        return ""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
