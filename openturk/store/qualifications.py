"""Named queries for the qualification aggregate: requesters' types, workers' qualifications, requests.

The only module that writes SQL for qualifications. Rows come back as the dataclasses of
``openturk.domain.qualifications``; every query that serves a requester takes their CustomerId.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from openturk.domain.qualifications import Qualification, QualificationRequest, QualificationType
from openturk.store.schema import (
    hit_types,
    hits,
    qualification_requests,
    qualification_test_starts,
    qualification_types,
    qualifications,
    worker_blocks,
)


def _type(row: Row[Any]) -> QualificationType:
    return QualificationType(
        qualification_type_id=row.qualification_type_id,
        customer_id=row.customer_id,
        name=row.name,
        description=row.description,
        keywords=row.keywords,
        status=row.status,
        creation_time=row.created_at,
        retry_delay_s=row.retry_delay_s,
        test=row.test,
        answer_key=row.answer_key,
        test_duration_s=row.test_duration_s,
        auto_granted=bool(row.auto_granted),
        auto_granted_value=row.auto_granted_value,
    )


def _qualification(row: Row[Any]) -> Qualification:
    return Qualification(
        qualification_type_id=row.qualification_type_id,
        worker_id=row.worker_id,
        integer_value=row.integer_value,
        status=row.status,
        grant_time=row.grant_time,
        reason=row.reason,
    )


def _request(row: Row[Any]) -> QualificationRequest:
    return QualificationRequest(
        qualification_request_id=row.qualification_request_id,
        qualification_type_id=row.qualification_type_id,
        customer_id=row.customer_id,
        worker_id=row.worker_id,
        status=row.status,
        submit_time=row.submit_time,
        test=row.test,
        answer=row.answer,
        reason=row.reason,
    )


def _type_values(qualification_type: QualificationType) -> dict[str, Any]:
    return {
        "customer_id": qualification_type.customer_id,
        "name": qualification_type.name,
        "name_key": qualification_type.name if qualification_type.is_live else None,
        "description": qualification_type.description,
        "keywords": qualification_type.keywords,
        "status": qualification_type.status,
        "retry_delay_s": qualification_type.retry_delay_s,
        "test": qualification_type.test,
        "answer_key": qualification_type.answer_key,
        "test_duration_s": qualification_type.test_duration_s,
        "auto_granted": qualification_type.auto_granted,
        "auto_granted_value": qualification_type.auto_granted_value,
    }


class QualificationRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- types ------------------------------------------------------------------------------------
    def qualification_type(self, type_id: str, *, lock: bool = False) -> QualificationType | None:
        """The type; ``lock``: its row held until the commit (PostgreSQL, FOR NO KEY UPDATE: rows that
        refer to it can still be written), so that decisions about one type's requests take turns."""
        query = select(qualification_types).where(qualification_types.c.qualification_type_id == type_id)
        if lock:
            query = query.with_for_update(key_share=True)
        row = self.conn.execute(query).first()
        return _type(row) if row else None

    def live_type_named(self, customer_id: str, name: str) -> QualificationType | None:
        row = self.conn.execute(
            select(qualification_types).where(
                qualification_types.c.customer_id == customer_id, qualification_types.c.name_key == name
            )
        ).first()
        return _type(row) if row else None

    def insert_type(self, qualification_type: QualificationType) -> None:
        self.conn.execute(
            insert(qualification_types).values(
                qualification_type_id=qualification_type.qualification_type_id,
                created_at=qualification_type.creation_time,
                **_type_values(qualification_type),
            )
        )

    def save_type(self, qualification_type: QualificationType) -> None:
        self.conn.execute(
            update(qualification_types)
            .where(qualification_types.c.qualification_type_id == qualification_type.qualification_type_id)
            .values(**_type_values(qualification_type))
        )

    def statuses(self, customer_id: str, type_ids: Iterable[str]) -> dict[str, str]:
        """The status of each of the caller's own types among ``type_ids``."""
        wanted = set(type_ids)
        if not wanted:
            return {}
        rows = self.conn.execute(
            select(qualification_types.c.qualification_type_id, qualification_types.c.status).where(
                qualification_types.c.customer_id == customer_id,
                qualification_types.c.qualification_type_id.in_(sorted(wanted)),
            )
        )
        return {row.qualification_type_id: row.status for row in rows}

    def types_page(
        self,
        customer_id: str | None,
        after: tuple[int, str] | None,
        limit: int,
        *,
        requestable: bool,
        query_text: str | None = None,
        hidden_from: str | None = None,
    ) -> list[QualificationType]:
        """Live types in (CreationTime, Id) order: the caller's (``customer_id``) or everyone's.

        ``requestable`` keeps only Active types a worker can request (DECISION: every Active type is
        requestable; MTurk hid types only a requester could grant, which openturk does not track).
        ``hidden_from`` (a WorkerId) leaves out the types of requesters who blocked that worker.
        """
        query = select(qualification_types).where(qualification_types.c.status != "Disposing")
        if hidden_from is not None:
            blocked_by = select(worker_blocks.c.customer_id).where(
                worker_blocks.c.worker_id == hidden_from,
                worker_blocks.c.customer_id == qualification_types.c.customer_id,
            )
            query = query.where(~blocked_by.exists())
        if customer_id is not None:
            query = query.where(qualification_types.c.customer_id == customer_id)
        if requestable:
            query = query.where(qualification_types.c.status == "Active")
        if query_text:
            needle = query_text.lower()
            query = query.where(
                or_(
                    *(
                        func.lower(func.coalesce(column, "")).contains(needle, autoescape=True)
                        for column in (
                            qualification_types.c.name,
                            qualification_types.c.description,
                            qualification_types.c.keywords,
                        )
                    )
                )
            )
        if after is not None:
            query = query.where(
                tuple_(qualification_types.c.created_at, qualification_types.c.qualification_type_id) > tuple_(*after)
            )
        order = (qualification_types.c.created_at, qualification_types.c.qualification_type_id)
        return [_type(row) for row in self.conn.execute(query.order_by(*order).limit(limit))]

    # -- workers' qualifications -------------------------------------------------------------------
    def qualification(self, type_id: str, worker_id: str, *, lock: bool = False) -> Qualification | None:
        """The worker's qualification of that type; ``lock``: its row locked until the commit, for a
        change that depends on what it holds now (PostgreSQL; SQLite has one writer anyway)."""
        query = select(qualifications).where(
            qualifications.c.qualification_type_id == type_id, qualifications.c.worker_id == worker_id
        )
        if lock:
            query = query.with_for_update(key_share=True)
        row = self.conn.execute(query).first()
        return _qualification(row) if row else None

    def put_qualification(self, qualification: Qualification) -> None:
        """Create or overwrite the worker's qualification of that type."""
        values = {
            "integer_value": qualification.integer_value,
            "status": qualification.status,
            "grant_time": qualification.grant_time,
            "reason": qualification.reason,
        }
        done = self.conn.execute(
            update(qualifications)
            .where(
                qualifications.c.qualification_type_id == qualification.qualification_type_id,
                qualifications.c.worker_id == qualification.worker_id,
            )
            .values(**values)
        )
        if done.rowcount:
            return
        try:
            with self.conn.begin_nested():  # a concurrent grant may insert it first (PostgreSQL)
                self.conn.execute(
                    insert(qualifications).values(
                        qualification_type_id=qualification.qualification_type_id,
                        worker_id=qualification.worker_id,
                        **values,
                    )
                )
        except IntegrityError:  # it did: this one overwrites it, as it would have a moment later
            self.conn.execute(
                update(qualifications)
                .where(
                    qualifications.c.qualification_type_id == qualification.qualification_type_id,
                    qualifications.c.worker_id == qualification.worker_id,
                )
                .values(**values)
            )

    def qualifications_page(
        self, type_id: str, status: str | None, after: str | None, limit: int
    ) -> list[Qualification]:
        query = select(qualifications).where(qualifications.c.qualification_type_id == type_id)
        if status is not None:
            query = query.where(qualifications.c.status == status)
        if after is not None:
            query = query.where(qualifications.c.worker_id > after)
        return [
            _qualification(row) for row in self.conn.execute(query.order_by(qualifications.c.worker_id).limit(limit))
        ]

    def granted_values(self, worker_id: str, type_ids: Iterable[str]) -> dict[str, int]:
        """The IntegerValue of each of ``type_ids`` the worker holds Granted. A deleted type's grants
        count too: DeleteQualificationType "does not revoke Qualifications already assigned to Workers
        because the Qualifications might be needed for active HITs" (no new HIT can name it)."""
        wanted = sorted(set(type_ids))
        if not wanted:
            return {}
        rows = self.conn.execute(
            select(qualifications.c.qualification_type_id, qualifications.c.integer_value).where(
                qualifications.c.worker_id == worker_id,
                qualifications.c.status == "Granted",
                qualifications.c.qualification_type_id.in_(wanted),
            )
        )
        return {row.qualification_type_id: int(row.integer_value) for row in rows}

    def qualifications_of(self, worker_id: str) -> list[tuple[Qualification, str]]:
        """The worker's qualifications (Granted and Revoked) with their type's name, by type name."""
        rows = self.conn.execute(
            select(qualifications, qualification_types.c.name)
            .join(
                qualification_types,
                qualification_types.c.qualification_type_id == qualifications.c.qualification_type_id,
            )
            .where(qualifications.c.worker_id == worker_id)
            .order_by(qualification_types.c.name, qualifications.c.qualification_type_id)
        )
        return [(_qualification(row), str(row.name)) for row in rows]

    def pending_requests_of(self, worker_id: str) -> list[tuple[QualificationRequest, str]]:
        """The worker's Pending requests with their type's name, oldest first."""
        rows = self.conn.execute(
            select(qualification_requests, qualification_types.c.name)
            .join(
                qualification_types,
                qualification_types.c.qualification_type_id == qualification_requests.c.qualification_type_id,
            )
            .where(qualification_requests.c.worker_id == worker_id, qualification_requests.c.status == "Pending")
            .order_by(qualification_requests.c.submit_time, qualification_requests.c.qualification_request_id)
        )
        return [(_request(row), str(row.name)) for row in rows]

    # -- tests taken --------------------------------------------------------------------------------
    def start_test(self, type_id: str, worker_id: str, now: int) -> None:
        """Record (or restart) the worker's start of the type's Test."""
        mine = (
            qualification_test_starts.c.qualification_type_id == type_id,
            qualification_test_starts.c.worker_id == worker_id,
        )
        if self.conn.execute(update(qualification_test_starts).where(*mine).values(started_at=now)).rowcount:
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(qualification_test_starts).values(
                        qualification_type_id=type_id, worker_id=worker_id, started_at=now
                    )
                )
        except IntegrityError:  # a concurrent start made the row first
            self.conn.execute(update(qualification_test_starts).where(*mine).values(started_at=now))

    def test_started_at(self, type_id: str, worker_id: str) -> int | None:
        found = self.conn.execute(
            select(qualification_test_starts.c.started_at).where(
                qualification_test_starts.c.qualification_type_id == type_id,
                qualification_test_starts.c.worker_id == worker_id,
            )
        ).scalar()
        return None if found is None else int(found)

    def end_test(self, type_id: str, worker_id: str) -> None:
        self.conn.execute(
            delete(qualification_test_starts).where(
                qualification_test_starts.c.qualification_type_id == type_id,
                qualification_test_starts.c.worker_id == worker_id,
            )
        )

    # -- requests -----------------------------------------------------------------------------------
    def request(self, request_id: str) -> QualificationRequest | None:
        row = self.conn.execute(
            select(qualification_requests).where(qualification_requests.c.qualification_request_id == request_id)
        ).first()
        return _request(row) if row else None

    def insert_request(self, request: QualificationRequest) -> None:
        self.conn.execute(
            insert(qualification_requests).values(
                qualification_request_id=request.qualification_request_id,
                qualification_type_id=request.qualification_type_id,
                customer_id=request.customer_id,
                worker_id=request.worker_id,
                status=request.status,
                submit_time=request.submit_time,
                test=request.test,
                answer=request.answer,
                reason=request.reason,
            )
        )

    def decide_request(self, request_id: str, status: str, reason: str | None) -> None:
        self.conn.execute(
            update(qualification_requests)
            .where(qualification_requests.c.qualification_request_id == request_id)
            .values(status=status, reason=reason)
        )

    def reject_pending_requests(self, type_id: str, reason: str) -> None:
        self.conn.execute(
            update(qualification_requests)
            .where(
                qualification_requests.c.qualification_type_id == type_id,
                qualification_requests.c.status == "Pending",
            )
            .values(status="Rejected", reason=reason)
        )

    def has_pending_request(self, type_id: str, worker_id: str) -> bool:
        """Whether the worker's request for the type waits for its requester."""
        found = self.conn.execute(
            select(qualification_requests.c.qualification_request_id)
            .where(
                qualification_requests.c.qualification_type_id == type_id,
                qualification_requests.c.worker_id == worker_id,
                qualification_requests.c.status == "Pending",
            )
            .limit(1)
        ).first()
        return found is not None

    def last_request_time(self, type_id: str, worker_id: str) -> int | None:
        found = self.conn.execute(
            select(func.max(qualification_requests.c.submit_time)).where(
                qualification_requests.c.qualification_type_id == type_id,
                qualification_requests.c.worker_id == worker_id,
            )
        ).scalar()
        return None if found is None else int(found)

    def pending_requests_page(
        self, customer_id: str, type_id: str | None, after: tuple[int, str] | None, limit: int
    ) -> list[QualificationRequest]:
        query = select(qualification_requests).where(
            qualification_requests.c.customer_id == customer_id, qualification_requests.c.status == "Pending"
        )
        if type_id is not None:
            query = query.where(qualification_requests.c.qualification_type_id == type_id)
        if after is not None:
            query = query.where(
                tuple_(qualification_requests.c.submit_time, qualification_requests.c.qualification_request_id)
                > tuple_(*after)
            )
        order = (qualification_requests.c.submit_time, qualification_requests.c.qualification_request_id)
        return [_request(row) for row in self.conn.execute(query.order_by(*order).limit(limit))]

    # -- HIT types and HITs that require a type ------------------------------------------------------
    def hit_type_ids_requiring(self, customer_id: str, type_id: str) -> list[str]:
        """The caller's HIT types whose requirements name ``type_id`` (JSON text, matched then checked)."""
        rows = self.conn.execute(
            select(hit_types.c.hit_type_id, hit_types.c.qualification_requirements).where(
                hit_types.c.customer_id == customer_id,
                hit_types.c.qualification_requirements.contains(type_id),
            )
        )
        return sorted(
            row.hit_type_id
            for row in rows
            if any(req.get("QualificationTypeId") == type_id for req in json.loads(row.qualification_requirements))
        )

    def hit_ids_page(
        self, customer_id: str, hit_type_ids: list[str], after: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str]]:
        """(CreationTime, HITId) of the caller's undeleted HITs of those HIT types, in that order."""
        if not hit_type_ids:
            return []
        query = select(hits.c.creation_time, hits.c.hit_id).where(
            hits.c.customer_id == customer_id,
            hits.c.hit_type_id.in_(hit_type_ids),
            hits.c.status != "Disposed",
        )
        if after is not None:
            query = query.where(tuple_(hits.c.creation_time, hits.c.hit_id) > tuple_(*after))
        query = query.order_by(hits.c.creation_time, hits.c.hit_id).limit(limit)
        return [(int(row.creation_time), str(row.hit_id)) for row in self.conn.execute(query)]
