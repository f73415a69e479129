"""Named queries over one connection: the only module that writes SQL for the lifecycle.

Rows come back as domain dataclasses. ``hit(..., for_update=True)`` locks the HIT row on
PostgreSQL (on SQLite the write transaction already holds the database lock), which serialises
every transition of one HIT across processes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Row, bindparam, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from openturk.cache import LRU
from openturk.domain.layouts import HITLayout
from openturk.domain.lifecycle import AUTO_DISPOSE_AFTER_MS, REVIEW
from openturk.domain.model import HIT, Assignment, HITType, SlotCounts
from openturk.store.prepared import Prepared
from openturk.store.schema import (
    access_keys,
    assignments,
    bonus_payments,
    clock_state,
    events,
    hit_layouts,
    hit_types,
    hits,
    ledger,
    request_tokens,
    requesters,
    timer_failures,
    worker_blocks,
    workers,
)


def _hit(row: Row[Any]) -> HIT:
    return HIT(
        hit_id=row.hit_id,
        customer_id=row.customer_id,
        hit_type_id=row.hit_type_id,
        question=row.question,
        max_assignments=row.max_assignments,
        status=row.status,
        review_status=row.review_status,
        creation_time=row.creation_time,
        expiration=row.expiration,
        expiry_processed=bool(row.expiry_processed),
        requester_annotation=row.requester_annotation,
        hit_layout_id=row.hit_layout_id,
    )


def _hit_type(row: Row[Any]) -> HITType:
    return HITType(
        hit_type_id=row.hit_type_id,
        customer_id=row.customer_id,
        title=row.title,
        description=row.description,
        keywords=row.keywords,
        reward_cents=row.reward_cents,
        assignment_duration_s=row.assignment_duration_s,
        auto_approval_delay_s=row.auto_approval_delay_s,
        qualification_requirements=json.loads(row.qualification_requirements),
    )


def _hit_layout(row: Row[Any]) -> HITLayout:
    return HITLayout(
        hit_layout_id=row.hit_layout_id,
        customer_id=row.customer_id,
        name=row.name,
        template=row.template,
        frame_height=row.frame_height,
    )


def _assignment(row: Row[Any]) -> Assignment:
    return Assignment(**{name: getattr(row, name) for name in Assignment.__dataclass_fields__})


# Statements on the hot paths are built once and run as ``Prepared`` statements: SQLAlchemy's
# per-call machinery was most of a request's CPU time (bench/api.py; see store/prepared.py).
_P = bindparam
_ACCESS_KEY = Prepared(
    select(access_keys.c.customer_id, access_keys.c.secret_access_key).where(
        access_keys.c.access_key_id == _P("access_key_id")
    )
)
_BALANCES_QUERY = select(requesters.c.balance_cents, requesters.c.on_hold_cents).where(
    requesters.c.customer_id == _P("customer_id")
)
_BALANCES = Prepared(_BALANCES_QUERY)
_BALANCES_FOR_UPDATE = Prepared(_BALANCES_QUERY.with_for_update())
_CHANGE_BALANCES = Prepared(
    update(requesters)
    .where(requesters.c.customer_id == _P("b_customer_id"))
    .values(
        balance_cents=requesters.c.balance_cents + _P("b_balance"),
        on_hold_cents=requesters.c.on_hold_cents + _P("b_on_hold"),
    )
)
_INSERT_LEDGER = Prepared(insert(ledger))
_HELD = Prepared(select(hits.c.held_cents).where(hits.c.hit_id == _P("hit_id")))
_CHANGE_HELD = Prepared(
    update(hits).where(hits.c.hit_id == _P("b_hit_id")).values(held_cents=hits.c.held_cents + _P("b_held"))
)
_PRICE = (assignments.c.reward_cents + assignments.c.fee_cents).label("price")
# Accepted and Submitted only, spelled out rather than an expanding IN so it can be Prepared.
_UNPAID = Prepared(
    select(assignments.c.status, _PRICE, func.count().label("number"))
    .where(
        assignments.c.hit_id == _P("hit_id"),
        (assignments.c.status == "Accepted") | (assignments.c.status == "Submitted"),
    )
    .group_by(assignments.c.status, _PRICE)
)
_HIT_TYPE = Prepared(select(hit_types).where(hit_types.c.hit_type_id == _P("hit_type_id")))
_HIT_QUERY = select(hits).where(hits.c.hit_id == _P("hit_id"))
_HIT = Prepared(_HIT_QUERY)
_HIT_FOR_UPDATE = Prepared(_HIT_QUERY.with_for_update())
_INSERT_HIT = Prepared(insert(hits))
_SAVE_HIT = Prepared(
    update(hits)
    .where(hits.c.hit_id == _P("b_hit_id"))
    .values(
        hit_type_id=_P("b_hit_type_id"),
        max_assignments=_P("b_max_assignments"),
        status=_P("b_status"),
        review_status=_P("b_review_status"),
        expiration=_P("b_expiration"),
        expiry_processed=_P("b_expiry_processed"),
    )
)
# Every status (Returned and Abandoned are ignored by the caller): no expanding IN, so it can be Prepared.
_SLOT_COUNT = Prepared(
    select(assignments.c.status, func.count().label("number"))
    .where(assignments.c.hit_id == _P("hit_id"))
    .group_by(assignments.c.status)
)
_SLOT_COUNTS = (
    select(assignments.c.hit_id, assignments.c.status, func.count())
    .where(
        assignments.c.hit_id.in_(_P("hit_ids", expanding=True)),
        assignments.c.status.in_(_P("statuses", expanding=True)),
    )
    .group_by(assignments.c.hit_id, assignments.c.status)
)
_ASSIGNMENT_QUERY = select(assignments).where(assignments.c.assignment_id == _P("assignment_id"))
_ASSIGNMENT = Prepared(_ASSIGNMENT_QUERY)
_ASSIGNMENT_FOR_UPDATE = Prepared(_ASSIGNMENT_QUERY.with_for_update())
_INSERT_ASSIGNMENT = Prepared(insert(assignments))
_ASSIGNMENT_FIELDS = [
    name for name in Assignment.__dataclass_fields__ if name not in ("assignment_id", "hit_id", "worker_id")
]
_SAVE_ASSIGNMENT = Prepared(
    update(assignments)
    .where(assignments.c.assignment_id == _P("b_assignment_id"))
    .values({name: _P(f"b_{name}") for name in _ASSIGNMENT_FIELDS})
)
_COUNTED = ("Accepted", "Submitted", "Approved", "Rejected")


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


# HIT types never change once created, so a row read may be kept; any caller can create HIT types
# (in open mode any caller at all), so the cache has a size.
HIT_TYPE_CACHE_SIZE = 4096
_hit_type_cache: LRU[str, HITType] = LRU(HIT_TYPE_CACHE_SIZE)


class Repository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- requesters and workers -------------------------------------------------------------
    def access_key(self, access_key_id: str) -> tuple[str, str | None] | None:
        row = _ACCESS_KEY.first(self.conn, {"access_key_id": access_key_id})
        return (row.customer_id, row.secret_access_key) if row else None

    def requester_exists(self, customer_id: str) -> bool:
        found = self.conn.execute(select(requesters.c.customer_id).where(requesters.c.customer_id == customer_id))
        return found.first() is not None

    def insert_requester(self, customer_id: str, name: str, now: int) -> None:
        self.conn.execute(
            insert(requesters).values(
                customer_id=customer_id, name=name, balance_cents=0, on_hold_cents=0, created_at=now
            )
        )

    def insert_access_key(self, access_key_id: str, customer_id: str, secret: str | None, now: int) -> None:
        self.conn.execute(
            insert(access_keys).values(
                access_key_id=access_key_id, customer_id=customer_id, secret_access_key=secret, created_at=now
            )
        )

    def insert_worker(self, worker_id: str, name: str | None, token_hash: str | None, now: int) -> None:
        self.conn.execute(insert(workers).values(worker_id=worker_id, name=name, token_hash=token_hash, created_at=now))

    def worker_for_token(self, token_hash: str) -> str | None:
        return self.conn.execute(
            select(workers.c.worker_id).where(workers.c.token_hash == token_hash)
        ).scalar_one_or_none()

    # -- ledger -------------------------------------------------------------------------------
    def insert_ledger_entry(
        self,
        customer_id: str,
        amount_cents: int,
        from_account: str,
        to_account: str,
        kind: str,
        reference: str | None,
        hit_id: str | None,
        now: int,
    ) -> None:
        """One journal row; only ``openturk.ledger`` calls this, with the totals it changes."""
        _INSERT_LEDGER.run(
            self.conn,
            {
                "customer_id": customer_id,
                "amount_cents": amount_cents,
                "from_account": from_account,
                "to_account": to_account,
                "kind": kind,
                "reference": reference,
                "hit_id": hit_id,
                "created_at": now,
            },
        )

    def balances(self, customer_id: str, *, for_update: bool = False) -> tuple[int, int]:
        """(balance, on hold) in cents."""
        row = (_BALANCES_FOR_UPDATE if for_update else _BALANCES).first(self.conn, {"customer_id": customer_id})
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def change_balances(self, customer_id: str, *, balance: int = 0, on_hold: int = 0) -> None:
        if balance or on_hold:
            _CHANGE_BALANCES.run(self.conn, {"b_customer_id": customer_id, "b_balance": balance, "b_on_hold": on_hold})

    def held_cents(self, hit_id: str) -> int:
        return int(_HELD.first(self.conn, {"hit_id": hit_id})[0])

    def change_held_cents(self, hit_id: str, cents: int) -> None:
        _CHANGE_HELD.run(self.conn, {"b_hit_id": hit_id, "b_held": cents})

    def unpaid_assignments(self, hit_id: str) -> list[tuple[str, int, int]]:
        """(status, reward + fee, number) of the HIT's Accepted and Submitted assignments."""
        rows = _UNPAID.all(self.conn, {"hit_id": hit_id})
        return [(str(status), int(price), int(number)) for status, price, number in rows]

    # -- HIT types ------------------------------------------------------------------------------
    def hit_type(self, hit_type_id: str) -> HITType | None:
        cached = _hit_type_cache.get(hit_type_id)
        if cached is not None:
            return cached
        row = _HIT_TYPE.first(self.conn, {"hit_type_id": hit_type_id})
        if row is None:
            return None
        found = _hit_type(row)
        _hit_type_cache.put(hit_type_id, found)
        return found

    def hit_type_by_digest(self, customer_id: str, digest: str) -> HITType | None:
        row = self.conn.execute(
            select(hit_types).where(hit_types.c.customer_id == customer_id, hit_types.c.properties_digest == digest)
        ).first()
        return _hit_type(row) if row else None

    def insert_hit_type(self, hit_type: HITType, digest: str, now: int) -> None:
        self.conn.execute(
            insert(hit_types).values(
                hit_type_id=hit_type.hit_type_id,
                customer_id=hit_type.customer_id,
                title=hit_type.title,
                description=hit_type.description,
                keywords=hit_type.keywords,
                reward_cents=hit_type.reward_cents,
                assignment_duration_s=hit_type.assignment_duration_s,
                auto_approval_delay_s=hit_type.auto_approval_delay_s,
                qualification_requirements=json.dumps(hit_type.qualification_requirements),
                properties_digest=digest,
                created_at=now,
            )
        )

    def hit_types_by_id(self, ids: Iterable[str]) -> dict[str, HITType]:
        """The HIT types named (missing ids are left out); most come from the process cache."""
        found = {}
        for hit_type_id in set(ids):
            hit_type = self.hit_type(hit_type_id)
            if hit_type is not None:
                found[hit_type_id] = hit_type
        return found

    # -- HIT layouts ------------------------------------------------------------------------------
    def insert_hit_layout(self, layout: HITLayout, now: int) -> None:
        self.conn.execute(
            insert(hit_layouts).values(
                hit_layout_id=layout.hit_layout_id,
                customer_id=layout.customer_id,
                name=layout.name,
                template=layout.template,
                frame_height=layout.frame_height,
                created_at=now,
            )
        )

    def hit_layout(self, hit_layout_id: str) -> HITLayout | None:
        row = self.conn.execute(select(hit_layouts).where(hit_layouts.c.hit_layout_id == hit_layout_id)).first()
        return _hit_layout(row) if row else None

    def hit_layouts_of(self, customer_id: str) -> list[HITLayout]:
        rows = self.conn.execute(
            select(hit_layouts)
            .where(hit_layouts.c.customer_id == customer_id)
            .order_by(hit_layouts.c.created_at, hit_layouts.c.hit_layout_id)
        )
        return [_hit_layout(row) for row in rows]

    # -- HITs -------------------------------------------------------------------------------------
    def hit(self, hit_id: str, *, for_update: bool = False) -> HIT | None:
        row = (_HIT_FOR_UPDATE if for_update else _HIT).first(self.conn, {"hit_id": hit_id})
        return _hit(row) if row else None

    def insert_hit(self, hit: HIT, review_policies: tuple[str | None, str | None] = (None, None)) -> None:
        """A new HIT holding nothing yet: ``openturk.ledger`` reserves its escrow."""
        _INSERT_HIT.run(
            self.conn,
            {
                "hit_id": hit.hit_id,
                "customer_id": hit.customer_id,
                "hit_type_id": hit.hit_type_id,
                "hit_layout_id": hit.hit_layout_id,
                "question": hit.question,
                "requester_annotation": hit.requester_annotation,
                "max_assignments": hit.max_assignments,
                "status": hit.status,
                "review_status": hit.review_status,
                "creation_time": hit.creation_time,
                "expiration": hit.expiration,
                "expiry_processed": hit.expiry_processed,
                "held_cents": 0,
                "assignment_review_policy": review_policies[0],
                "hit_review_policy": review_policies[1],
            },
        )

    def save_hit(self, hit: HIT) -> None:
        _SAVE_HIT.run(
            self.conn,
            {
                "b_hit_id": hit.hit_id,
                "b_hit_type_id": hit.hit_type_id,
                "b_max_assignments": hit.max_assignments,
                "b_status": hit.status,
                "b_review_status": hit.review_status,
                "b_expiration": hit.expiration,
                "b_expiry_processed": hit.expiry_processed,
            },
        )

    def hits_page(
        self,
        customer_id: str,
        after: tuple[int, str] | None,
        limit: int,
        *,
        statuses: Sequence[str] | None = None,
        hit_type_id: str | None = None,
        exclude_disposed: bool = True,
    ) -> list[HIT]:
        """HITs in (CreationTime, HITId) order, after the keyset position ``after``."""
        query = select(hits).where(hits.c.customer_id == customer_id)
        if statuses is not None:
            query = query.where(hits.c.status.in_(statuses))
        elif exclude_disposed:
            query = query.where(hits.c.status != "Disposed")
        if hit_type_id is not None:
            query = query.where(hits.c.hit_type_id == hit_type_id)
        if after is not None:
            query = query.where(tuple_(hits.c.creation_time, hits.c.hit_id) > tuple_(*after))
        query = query.order_by(hits.c.creation_time, hits.c.hit_id).limit(limit)
        return [_hit(row) for row in self.conn.execute(query)]

    def slot_counts(self, hit_ids: Sequence[str]) -> dict[str, SlotCounts]:
        counts = {hit_id: SlotCounts() for hit_id in hit_ids}
        if not hit_ids:
            return counts
        if len(hit_ids) == 1:
            return {hit_ids[0]: self.slot_count(hit_ids[0])}
        rows = self.conn.execute(_SLOT_COUNTS, {"hit_ids": list(hit_ids), "statuses": _COUNTED}).all()
        for hit_id, status, number in rows:
            current = counts[hit_id]
            if status == "Accepted":
                counts[hit_id] = current.with_change(pending=number)
            elif status == "Submitted":
                counts[hit_id] = current.with_change(submitted=number)
            else:
                counts[hit_id] = current.with_change(completed=number)
        return counts

    def slot_count(self, hit_id: str) -> SlotCounts:
        by_status: dict[str, int] = dict(_SLOT_COUNT.all(self.conn, {"hit_id": hit_id}))
        return SlotCounts(
            pending=int(by_status.get("Accepted", 0)),
            submitted=int(by_status.get("Submitted", 0)),
            completed=int(by_status.get("Approved", 0)) + int(by_status.get("Rejected", 0)),
        )

    # -- assignments ------------------------------------------------------------------------------
    def assignment(self, assignment_id: str, *, for_update: bool = False) -> Assignment | None:
        statement = _ASSIGNMENT_FOR_UPDATE if for_update else _ASSIGNMENT
        row = statement.first(self.conn, {"assignment_id": assignment_id})
        return _assignment(row) if row else None

    def assignment_with_hit(self, assignment_id: str, *, for_update: bool = False) -> tuple[Assignment, HIT] | None:
        """An assignment and its HIT. Locking takes the HIT row first, then the assignment's (re-read
        under the lock): every transition locks in that order, so two never deadlock."""
        assignment = self.assignment(assignment_id)
        if assignment is None:
            return None
        hit = self.hit(assignment.hit_id, for_update=for_update)
        if for_update:
            assignment = self.assignment(assignment_id, for_update=True)
        return (assignment, hit) if assignment is not None and hit is not None else None

    def insert_assignment(self, assignment: Assignment) -> None:
        _INSERT_ASSIGNMENT.run(self.conn, assignment.__dict__)

    def save_assignment(self, assignment: Assignment) -> None:
        values = {f"b_{name}": getattr(assignment, name) for name in _ASSIGNMENT_FIELDS}
        _SAVE_ASSIGNMENT.run(self.conn, {"b_assignment_id": assignment.assignment_id, **values})

    def worker_has_accepted(self, worker_id: str, hit_id: str) -> bool:
        found = self.conn.execute(
            select(assignments.c.assignment_id)
            .where(assignments.c.worker_id == worker_id, assignments.c.hit_id == hit_id)
            .limit(1)
        ).first()
        return found is not None

    def assignments_page(
        self, hit_id: str, statuses: Sequence[str], after: tuple[int, str] | None, limit: int
    ) -> list[Assignment]:
        """Assignments of a HIT in (SubmitTime, AssignmentId) order."""
        query = select(assignments).where(assignments.c.hit_id == hit_id, assignments.c.status.in_(statuses))
        if after is not None:
            query = query.where(tuple_(assignments.c.submit_time, assignments.c.assignment_id) > tuple_(*after))
        query = query.order_by(assignments.c.submit_time, assignments.c.assignment_id).limit(limit)
        return [_assignment(row) for row in self.conn.execute(query)]

    def has_submitted_assignments(self, hit_id: str) -> bool:
        return self.slot_count(hit_id).submitted > 0

    def worker_record(self, worker_id: str) -> tuple[int, int]:
        """(approved, approved or rejected) assignments of a worker, across requesters."""
        rows: dict[str, int] = dict(
            self.conn.execute(
                select(assignments.c.status, func.count())
                .where(assignments.c.worker_id == worker_id, assignments.c.status.in_(("Approved", "Rejected")))
                .group_by(assignments.c.status)
            ).all()
        )
        approved = int(rows.get("Approved", 0))
        return approved, approved + int(rows.get("Rejected", 0))

    def open_hits_for_worker(self, worker_id: str, now: int, limit: int) -> list[HIT]:
        """Assignable, unexpired HITs the worker has never accepted, of requesters not blocking it, newest first."""
        mine = select(assignments.c.hit_id).where(assignments.c.worker_id == worker_id)
        blocking = select(worker_blocks.c.customer_id).where(worker_blocks.c.worker_id == worker_id)
        query = (
            select(hits)
            .where(
                hits.c.status == "Assignable",
                hits.c.expiration > now,
                hits.c.hit_id.not_in(mine),
                hits.c.customer_id.not_in(blocking),  # a blocked worker sees nothing of that requester
            )
            .order_by(hits.c.creation_time.desc(), hits.c.hit_id)
            .limit(limit)
        )
        return [_hit(row) for row in self.conn.execute(query)]

    # -- bonuses ----------------------------------------------------------------------------------
    def insert_bonus(self, **values: Any) -> None:
        self.conn.execute(insert(bonus_payments).values(**values))

    def bonuses_page(
        self, customer_id: str, *, hit_id: str | None, assignment_id: str | None, after: int | None, limit: int
    ) -> list[Row[Any]]:
        query = select(bonus_payments).where(bonus_payments.c.customer_id == customer_id)
        if hit_id is not None:
            query = query.where(bonus_payments.c.hit_id == hit_id)
        if assignment_id is not None:
            query = query.where(bonus_payments.c.assignment_id == assignment_id)
        if after is not None:
            query = query.where(bonus_payments.c.bonus_id > after)
        return list(self.conn.execute(query.order_by(bonus_payments.c.bonus_id).limit(limit)))

    # -- idempotency tokens ------------------------------------------------------------------------
    def request_token(self, customer_id: str, token: str) -> Row[Any] | None:
        return self.conn.execute(
            select(request_tokens).where(request_tokens.c.customer_id == customer_id, request_tokens.c.token == token)
        ).first()

    def put_request_token(
        self, customer_id: str, token: str, operation: str, result_id: str, request_id: str, now: int
    ) -> None:
        self.conn.execute(
            request_tokens.delete().where(request_tokens.c.customer_id == customer_id, request_tokens.c.token == token)
        )
        self.conn.execute(
            insert(request_tokens).values(
                customer_id=customer_id,
                token=token,
                operation=operation,
                result_id=result_id,
                request_id=request_id,
                created_at=now,
            )
        )

    # -- timers -----------------------------------------------------------------------------------
    def next_due(self, until: int) -> DueTimer | None:
        """The earliest timer item to fire at or before ``until``.

        An item that failed is left out of its kind's due query and comes back once its
        ``retry_at`` is reached, so it never holds up the items due after it.
        """
        candidates = [
            self.conn.execute(
                select(hits.c.expiration, hits.c.hit_id)
                .where(
                    hits.c.expiry_processed.is_(False),
                    hits.c.status != "Disposed",
                    hits.c.expiration <= until,
                    ~_failing("expire", hits.c.hit_id),
                )
                .order_by(hits.c.expiration, hits.c.hit_id)
                .limit(1)
            ).first(),
            self.conn.execute(
                select(assignments.c.deadline, assignments.c.assignment_id)
                .where(
                    assignments.c.status == "Accepted",
                    assignments.c.deadline <= until,
                    ~_failing("abandon", assignments.c.assignment_id),
                )
                .order_by(assignments.c.deadline, assignments.c.assignment_id)
                .limit(1)
            ).first(),
            self.conn.execute(
                select(assignments.c.auto_approval_time, assignments.c.assignment_id)
                .where(
                    assignments.c.status == "Submitted",
                    assignments.c.auto_approval_time <= until,
                    ~_failing("auto_approve", assignments.c.assignment_id),
                )
                .order_by(assignments.c.auto_approval_time, assignments.c.assignment_id)
                .limit(1)
            ).first(),
        ]
        # Disposable (what DeleteHIT accepts: in review, nothing submitted left undecided) and 120 days old.
        undecided = (
            select(assignments.c.assignment_id)
            .where(assignments.c.hit_id == hits.c.hit_id, assignments.c.status.in_(("Accepted", "Submitted")))
            .exists()
        )
        candidates.append(
            self.conn.execute(
                select(hits.c.creation_time + AUTO_DISPOSE_AFTER_MS, hits.c.hit_id)
                .where(
                    hits.c.status.in_(REVIEW),
                    hits.c.creation_time <= until - AUTO_DISPOSE_AFTER_MS,
                    ~undecided,
                    ~_failing("dispose", hits.c.hit_id),
                )
                .order_by(hits.c.creation_time, hits.c.hit_id)
                .limit(1)
            ).first()
        )
        kinds = ("expire", "abandon", "auto_approve", "dispose")
        due = [DueTimer(row[0], kind, row[1]) for row, kind in zip(candidates, kinds, strict=True) if row is not None]
        retry = self.conn.execute(
            select(timer_failures.c.retry_at, timer_failures.c.kind, timer_failures.c.item_id)
            .where(timer_failures.c.retry_at <= until)
            .order_by(timer_failures.c.retry_at, timer_failures.c.kind, timer_failures.c.item_id)
            .limit(1)
        ).first()
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
        changed = self.conn.execute(
            update(clock_state).where(clock_state.c.singleton == 1).values(offset_ms=offset_ms)
        ).rowcount
        if not changed:
            self.conn.execute(insert(clock_state).values(singleton=1, offset_ms=offset_ms))
