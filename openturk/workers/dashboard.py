"""A worker's dashboard and inbox, HTTP-free: what they did, day by day, what it earned, and the
messages requesters sent them (NotifyWorkers).

Everything is read for one worker, named by the caller (the signed-in session): no query here can
return another worker's assignment, bonus or message. Days are UTC days; an assignment belongs to
the day it was submitted (the day it was accepted while in progress, returned or abandoned), a
bonus to the day it was granted. Pages hold whole days, newest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from openturk.store.dashboard import DAY_MS, DashboardQueries
from openturk.store.database import Database
from openturk.store.workers import WorkerRepository

DAYS_PER_PAGE = 7
MESSAGES_PER_PAGE = 25
# What the worker reads for each assignment status: MTurk's dashboard calls Submitted "Pending".
STATUS_LABELS = {
    "Accepted": "In progress",
    "Submitted": "Pending",
    "Approved": "Approved",
    "Rejected": "Rejected",
    "Returned": "Returned",
    "Abandoned": "Abandoned",
}


@dataclass(frozen=True)
class AssignmentLine:
    assignment_id: str
    hit_id: str
    title: str
    requester_id: str
    requester_name: str
    status: str
    reward_cents: int
    accept_time: int
    submit_time: int | None
    auto_approval_time: int | None
    decided_time: int | None  # approval or rejection
    feedback: str | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class BonusLine:
    bonus_id: int
    assignment_id: str
    title: str
    requester_id: str
    requester_name: str
    amount_cents: int
    reason: str
    grant_time: int


@dataclass(frozen=True)
class Earnings:
    """Rewards by outcome and bonuses, in cents. Earned = approved rewards + bonuses; pending rewards
    are earned only if approved."""

    approved_count: int = 0
    approved_cents: int = 0
    pending_count: int = 0
    pending_cents: int = 0
    rejected_count: int = 0
    bonus_count: int = 0
    bonus_cents: int = 0

    @property
    def earned_cents(self) -> int:
        return self.approved_cents + self.bonus_cents


@dataclass(frozen=True)
class Day:
    day: int  # UTC days since the epoch
    assignments: Sequence[AssignmentLine]
    bonuses: Sequence[BonusLine]
    earnings: Earnings

    @property
    def start_ms(self) -> int:
        return self.day * DAY_MS


@dataclass(frozen=True)
class Dashboard:
    days: Sequence[Day]
    overall: Earnings
    page: int
    pages: int


@dataclass(frozen=True)
class Message:
    message_id: int
    requester_id: str
    requester_name: str
    subject: str
    text: str
    sent_time: int


@dataclass(frozen=True)
class Inbox:
    messages: Sequence[Message]
    older_than: int | None  # the ``before`` of the next (older) page, None on the last


def earnings_of(lines: Iterable[AssignmentLine], bonuses: Iterable[BonusLine]) -> Earnings:
    """The earnings of some assignments and bonuses (one day's)."""
    counts = {"Approved": [0, 0], "Submitted": [0, 0], "Rejected": [0, 0]}
    for line in lines:
        if line.status in counts:
            counts[line.status][0] += 1
            counts[line.status][1] += line.reward_cents
    paid = list(bonuses)
    return Earnings(
        approved_count=counts["Approved"][0],
        approved_cents=counts["Approved"][1],
        pending_count=counts["Submitted"][0],
        pending_cents=counts["Submitted"][1],
        rejected_count=counts["Rejected"][0],
        bonus_count=len(paid),
        bonus_cents=sum(bonus.amount_cents for bonus in paid),
    )


def dashboard(db: Database, worker_id: str, page: int = 1, days_per_page: int = DAYS_PER_PAGE) -> Dashboard:
    """Page ``page`` (from 1) of the worker's days, newest first, and their earnings over all time.
    A page past the last has no days."""
    page = max(1, page)
    with db.read() as conn:
        queries = DashboardQueries(conn)
        day_count = queries.day_count(worker_id)
        days = queries.days(worker_id, days_per_page, (page - 1) * days_per_page)
        lines: list[AssignmentLine] = []
        bonuses: list[BonusLine] = []
        if days:
            lines = [_line(row) for row in queries.assignments_between(worker_id, days[-1], days[0])]
            bonuses = [_bonus(row) for row in queries.bonuses_between(worker_id, days[-1], days[0])]
        totals = queries.reward_totals(worker_id)
        bonus_count, bonus_cents = queries.bonus_total(worker_id)
    overall = Earnings(
        approved_count=totals.get("Approved", (0, 0))[0],
        approved_cents=totals.get("Approved", (0, 0))[1],
        pending_count=totals.get("Submitted", (0, 0))[0],
        pending_cents=totals.get("Submitted", (0, 0))[1],
        rejected_count=totals.get("Rejected", (0, 0))[0],
        bonus_count=bonus_count,
        bonus_cents=bonus_cents,
    )
    return Dashboard(
        days=[_day(day, lines, bonuses) for day in days],
        overall=overall,
        page=page,
        pages=max(1, -(-day_count // days_per_page)),
    )


def inbox(db: Database, worker_id: str, before: int | None = None, limit: int = MESSAGES_PER_PAGE) -> Inbox:
    """The worker's NotifyWorkers messages, newest first, ``limit`` at a time (older than ``before``)."""
    with db.read() as conn:
        rows = WorkerRepository(conn).inbox(worker_id, limit + 1, before)
        names = DashboardQueries(conn).requester_names(row.customer_id for row in rows)
    messages = [
        Message(
            message_id=int(row.message_id),
            requester_id=row.customer_id,
            requester_name=names.get(row.customer_id, row.customer_id),
            subject=row.subject,
            text=row.message_text,
            sent_time=int(row.sent_time),
        )
        for row in rows[:limit]
    ]
    return Inbox(messages, messages[-1].message_id if len(rows) > limit else None)


def _day(day: int, lines: Sequence[AssignmentLine], bonuses: Sequence[BonusLine]) -> Day:
    start, end = day * DAY_MS, (day + 1) * DAY_MS
    mine = [line for line in lines if start <= (line.submit_time or line.accept_time) < end]
    paid = [bonus for bonus in bonuses if start <= bonus.grant_time < end]
    return Day(day, mine, paid, earnings_of(mine, paid))


def _line(row: Row[Any]) -> AssignmentLine:
    status = str(row.status)
    decided = row.approval_time if status == "Approved" else row.rejection_time
    return AssignmentLine(
        assignment_id=str(row.assignment_id),
        hit_id=str(row.hit_id),
        title=str(row.title),
        requester_id=str(row.customer_id),
        requester_name=str(row.requester_name),
        status=status,
        reward_cents=int(row.reward_cents),
        accept_time=int(row.accept_time),
        submit_time=_ms(row.submit_time),
        auto_approval_time=_ms(row.auto_approval_time),
        decided_time=_ms(decided),
        feedback=row.requester_feedback,
    )


def _bonus(row: Row[Any]) -> BonusLine:
    return BonusLine(
        bonus_id=int(row.bonus_id),
        assignment_id=str(row.assignment_id),
        title=str(row.title),
        requester_id=str(row.customer_id),
        requester_name=str(row.requester_name),
        amount_cents=int(row.amount_cents),
        reason=str(row.reason),
        grant_time=int(row.grant_time),
    )


def _ms(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None
