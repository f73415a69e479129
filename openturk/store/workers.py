"""Named queries of the worker aggregate: a worker's email, requesters' blocks, and the inbox."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from openturk.store.schema import assignments, hits, worker_blocks, worker_messages, workers

WORKED = ("Submitted", "Approved", "Rejected")


class WorkerRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- profile ------------------------------------------------------------------------------------
    def set_email(self, worker_id: str, email: str | None) -> None:
        self.conn.execute(update(workers).where(workers.c.worker_id == worker_id).values(email=email))

    def emails(self, worker_ids: Iterable[str]) -> dict[str, str]:
        query = select(workers.c.worker_id, workers.c.email).where(
            workers.c.worker_id.in_(list(worker_ids)), workers.c.email.is_not(None)
        )
        return {row.worker_id: row.email for row in self.conn.execute(query)}

    # -- blocks -------------------------------------------------------------------------------------
    def block(self, customer_id: str, worker_id: str, reason: str, now: int) -> None:
        """Create the block, or replace the Reason of an existing one (also when a concurrent call
        created it first: the insert runs in a savepoint)."""
        mine = (worker_blocks.c.customer_id == customer_id, worker_blocks.c.worker_id == worker_id)
        if self.conn.execute(update(worker_blocks).where(*mine).values(reason=reason)).rowcount:
            return
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(worker_blocks).values(
                        customer_id=customer_id, worker_id=worker_id, reason=reason, created_at=now
                    )
                )
        except IntegrityError:
            self.conn.execute(update(worker_blocks).where(*mine).values(reason=reason))

    def unblock(self, customer_id: str, worker_id: str) -> None:
        self.conn.execute(
            delete(worker_blocks).where(
                worker_blocks.c.customer_id == customer_id, worker_blocks.c.worker_id == worker_id
            )
        )

    def is_blocked(self, customer_id: str, worker_id: str) -> bool:
        query = select(worker_blocks.c.worker_id).where(
            worker_blocks.c.customer_id == customer_id, worker_blocks.c.worker_id == worker_id
        )
        return self.conn.execute(query).first() is not None

    def block_count(self, customer_id: str) -> int:
        query = select(func.count()).select_from(worker_blocks).where(worker_blocks.c.customer_id == customer_id)
        return int(self.conn.execute(query).scalar_one())

    def blocks_page(self, customer_id: str, after: str | None, limit: int) -> list[Row[Any]]:
        query = select(worker_blocks.c.worker_id, worker_blocks.c.reason).where(
            worker_blocks.c.customer_id == customer_id
        )
        if after is not None:
            query = query.where(worker_blocks.c.worker_id > after)
        return list(self.conn.execute(query.order_by(worker_blocks.c.worker_id).limit(limit)))

    # -- NotifyWorkers ------------------------------------------------------------------------------
    def worked_for(self, customer_id: str, worker_ids: Iterable[str]) -> set[str]:
        """Those of ``worker_ids`` with submitted work (Submitted/Approved/Rejected) on the requester's HITs."""
        query = (
            select(assignments.c.worker_id)
            .join(hits, hits.c.hit_id == assignments.c.hit_id)
            .where(
                hits.c.customer_id == customer_id,
                assignments.c.worker_id.in_(list(worker_ids)),
                assignments.c.status.in_(WORKED),
            )
            .distinct()
        )
        return set(self.conn.execute(query).scalars())

    def insert_message(self, worker_id: str, customer_id: str, subject: str, text: str, now: int) -> int:
        result = self.conn.execute(
            insert(worker_messages).values(
                worker_id=worker_id, customer_id=customer_id, subject=subject, message_text=text, sent_time=now
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def message(self, message_id: int) -> Row[Any] | None:
        return self.conn.execute(select(worker_messages).where(worker_messages.c.message_id == message_id)).first()

    def record_email(self, message_id: int, emailed_at: int | None, error: str | None) -> None:
        self.conn.execute(
            update(worker_messages)
            .where(worker_messages.c.message_id == message_id)
            .values(emailed_at=emailed_at, email_error=error)
        )

    def inbox(self, worker_id: str, limit: int, before: int | None = None) -> list[Row[Any]]:
        """The worker's messages, newest first (only those older than message ``before``, if given)."""
        query = (
            select(worker_messages)
            .where(worker_messages.c.worker_id == worker_id)
            .order_by(worker_messages.c.message_id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(worker_messages.c.message_id < before)
        return list(self.conn.execute(query))
