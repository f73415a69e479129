"""Named queries of the timers: which expiry, abandonment, auto-approval or disposal is due next,
the failures waiting for their retry, and the virtual clock's offset."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from openturk.domain import uploads
from openturk.domain.lifecycle import AUTO_DISPOSE_AFTER_MS, REVIEW
from openturk.store.database import CLOCK, announce
from openturk.store.prepared import Prepared
from openturk.store.schema import assignments, clock_state, events, hits, timer_failures, uploaded_files


class DueTimer(NamedTuple):
    """A timer item to fire ``at``: its due time, or (``retry``) the retry time after it failed."""

    at: int
    kind: str
    item_id: str
    retry: bool = False


def _failing(kind: str, item_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the item failed before: it then waits for its retry time, not its due time."""
    return (
        select(timer_failures.c.item_id)
        .where(timer_failures.c.kind == kind, timer_failures.c.item_id == item_id)
        .exists()
    )


def _one_of(column: ColumnElement[Any], values: tuple[str, ...]) -> ColumnElement[bool]:
    """``column IN values`` spelled out, so the statement can be ``Prepared`` (no expanding IN)."""
    return or_(*(column == value for value in values))


def _assignment_due(kind: str, status: str, due: ColumnElement[Any]) -> Prepared:
    """The earliest assignment in ``status`` whose ``due`` time has come (and that did not fail as ``kind``)."""
    return Prepared(
        select(due, assignments.c.assignment_id)
        .where(
            assignments.c.status == status,
            due <= bindparam("until"),
            ~_failing(kind, assignments.c.assignment_id),
        )
        .order_by(due, assignments.c.assignment_id)
        .limit(1)
    )


# Each kind's earliest due item. Built once and run as ``Prepared`` statements: the timer runner asks
# on every pass, and building and compiling six statements each time was most of a pass's CPU.
_DUE = {
    "expire": Prepared(
        select(hits.c.expiration, hits.c.hit_id)
        .where(
            hits.c.expiry_processed.is_(False),
            hits.c.status != "Disposed",
            hits.c.expiration <= bindparam("until"),
            ~_failing("expire", hits.c.hit_id),
        )
        .order_by(hits.c.expiration, hits.c.hit_id)
        .limit(1)
    ),
    "abandon": _assignment_due("abandon", "Accepted", assignments.c.deadline),
    "auto_approve": _assignment_due("auto_approve", "Submitted", assignments.c.auto_approval_time),
    # Disposable (what DeleteHIT accepts: in review, nothing submitted left undecided) and 120 days old.
    "dispose": Prepared(
        select((hits.c.creation_time + AUTO_DISPOSE_AFTER_MS).label("due"), hits.c.hit_id)
        .where(
            _one_of(hits.c.status, REVIEW),
            hits.c.creation_time <= bindparam("created_until"),
            ~select(assignments.c.assignment_id)
            .where(assignments.c.hit_id == hits.c.hit_id, _one_of(assignments.c.status, ("Accepted", "Submitted")))
            .exists(),
            ~_failing("dispose", hits.c.hit_id),
        )
        .order_by(hits.c.creation_time, hits.c.hit_id)
        .limit(1)
    ),
    # Files of an assignment that ended unsubmitted, a grace period after its deadline.
    "drop_uploads": Prepared(
        select((assignments.c.deadline + uploads.UNSUBMITTED_GRACE_MS).label("due"), assignments.c.assignment_id)
        .select_from(uploaded_files.join(assignments, assignments.c.assignment_id == uploaded_files.c.assignment_id))
        .where(
            _one_of(assignments.c.status, uploads.UNSUBMITTED_STATUSES),
            assignments.c.deadline <= bindparam("deadline_until"),
            ~_failing("drop_uploads", assignments.c.assignment_id),
        )
        .order_by(assignments.c.deadline, assignments.c.assignment_id)
        .limit(1)
    ),
}
_DUE_PARAMS = {
    "expire": ("until",),
    "abandon": ("until",),
    "auto_approve": ("until",),
    "dispose": ("created_until",),
    "drop_uploads": ("deadline_until",),
}
_RETRY_DUE = Prepared(
    select(timer_failures.c.retry_at, timer_failures.c.kind, timer_failures.c.item_id)
    .where(timer_failures.c.retry_at <= bindparam("until"))
    .order_by(timer_failures.c.retry_at, timer_failures.c.kind, timer_failures.c.item_id)
    .limit(1)
)


class TimerRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- timers -----------------------------------------------------------------------------------
    def next_due(self, until: int) -> DueTimer | None:
        """The earliest timer item to fire at or before ``until``.

        An item that failed is left out of its kind's due query and comes back once its
        ``retry_at`` is reached, so it never holds up the items due after it.
        """
        params = {
            "until": until,
            "created_until": until - AUTO_DISPOSE_AFTER_MS,
            "deadline_until": until - uploads.UNSUBMITTED_GRACE_MS,
        }
        due = []
        for kind, query in _DUE.items():
            row = query.first(self.conn, {name: params[name] for name in _DUE_PARAMS[kind]})
            if row is not None:
                due.append(DueTimer(row[0], kind, row[1]))
        retry = _RETRY_DUE.first(self.conn, {"until": until})
        if retry is not None:
            due.append(DueTimer(retry.retry_at, retry.kind, retry.item_id, retry=True))
        return min(due) if due else None

    def timer_failure_attempts(self, kind: str, item_id: str) -> int:
        """How many times the item has failed since it last fired (0: never, or it fired since)."""
        attempts = self.conn.execute(
            select(timer_failures.c.attempts).where(timer_failures.c.kind == kind, timer_failures.c.item_id == item_id)
        ).scalar_one_or_none()
        return int(attempts or 0)

    def save_timer_failure(self, kind: str, item_id: str, attempts: int, retry_at: int, error: str, now: int) -> None:
        """Record the item's latest failure and when to try it again."""
        changes = {"attempts": attempts, "retry_at": retry_at, "last_error": error}
        where = (timer_failures.c.kind == kind, timer_failures.c.item_id == item_id)
        if self.conn.execute(update(timer_failures).where(*where).values(changes)).rowcount:
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(timer_failures).values(kind=kind, item_id=item_id, first_failed_at=now, **changes)
                )
        except IntegrityError:
            # Another process recorded a failure of the same item first: update theirs.
            self.conn.execute(update(timer_failures).where(*where).values(changes))

    def clear_timer_failure(self, kind: str, item_id: str) -> None:
        self.conn.execute(
            timer_failures.delete().where(timer_failures.c.kind == kind, timer_failures.c.item_id == item_id)
        )

    def last_event_time(self, hit_id: str) -> int | None:
        """When the HIT's latest recorded transition happened."""
        value = self.conn.execute(select(func.max(events.c.event_time)).where(events.c.hit_id == hit_id)).scalar()
        return None if value is None else int(value)

    # -- clock ------------------------------------------------------------------------------------
    def clock_offset(self) -> int:
        return int(
            self.conn.execute(select(clock_state.c.offset_ms).where(clock_state.c.singleton == 1)).scalar_one_or_none()
            or 0
        )

    def save_clock_offset(self, offset_ms: int) -> None:
        """Store the virtual clock's offset if it is ahead of the stored one (time never goes back),
        and tell every process's timer runner once this commits."""
        ahead = update(clock_state).where(clock_state.c.singleton == 1, clock_state.c.offset_ms < offset_ms)
        if self.conn.execute(ahead.values(offset_ms=offset_ms)).rowcount:
            announce(self.conn, CLOCK)
        elif self.conn.execute(select(clock_state.c.singleton)).first() is None:
            try:
                with self.conn.begin_nested():  # another process may store the first offset meanwhile
                    self.conn.execute(insert(clock_state).values(singleton=1, offset_ms=offset_ms))
            except IntegrityError:
                self.conn.execute(ahead.values(offset_ms=offset_ms))
            announce(self.conn, CLOCK)
