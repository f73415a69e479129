"""Named queries of the HIT aggregate: HIT types, HIT layouts, HITs and their slot counts.

``hit(..., for_update=True)`` locks the HIT row on PostgreSQL (on SQLite the write transaction
already holds the database lock), which serialises every transition of one HIT across processes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, tuple_, update

from openturk.cache import LRU
from openturk.domain.layouts import HITLayout
from openturk.domain.model import HIT, HITType, SlotCounts
from openturk.store.prepared import Prepared
from openturk.store.schema import assignments, hit_layouts, hit_types, hits, worker_blocks


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
        hit_layout_parameters=tuple((name, value) for name, value in json.loads(row.hit_layout_parameters or "[]")),
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


# Statements on the hot paths are built once and run as ``Prepared`` statements: SQLAlchemy's
# per-call machinery was most of a request's CPU time (bench/api.py; see store/prepared.py).
_P = bindparam
_HIT_TYPE = Prepared(select(hit_types).where(hit_types.c.hit_type_id == _P("hit_type_id")))
_HIT_QUERY = select(hits).where(hits.c.hit_id == _P("hit_id"))
_HIT = Prepared(_HIT_QUERY)
# FOR NO KEY UPDATE on PostgreSQL: see requesters.py (rows referencing this one may be inserted meanwhile).
_HIT_FOR_UPDATE = Prepared(_HIT_QUERY.with_for_update(key_share=True))
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
_COUNTED = ("Accepted", "Submitted", "Approved", "Rejected")

# HIT types never change once created, so a row read may be kept; any caller can create HIT types
# (in open mode any caller at all), so the cache has a size.
HIT_TYPE_CACHE_SIZE = 4096
_hit_type_cache: LRU[str, HITType] = LRU(HIT_TYPE_CACHE_SIZE)


class HITRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

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
                "hit_layout_parameters": json.dumps(hit.hit_layout_parameters) if hit.hit_layout_parameters else None,
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
