"""Named queries of NotifyWorkers' email queue: one row per message to email, claimed to send."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, Select, insert, select, update

from openturk.store.schema import worker_emails, worker_messages


class WorkerEmailRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def queue(self, message_id: int, address: str, now: int) -> None:
        """Queue the message's email, due at once; in the transaction that writes the message."""
        self.conn.execute(
            insert(worker_emails).values(message_id=message_id, address=address, attempts=0, next_attempt_at=now)
        )

    def due(self, now: int, limit: int) -> list[int]:
        query = (
            select(worker_emails.c.message_id)
            .where(worker_emails.c.next_attempt_at <= now)
            .order_by(worker_emails.c.next_attempt_at, worker_emails.c.message_id)
            .limit(limit)
        )
        return [int(message_id) for message_id in self.conn.execute(query).scalars()]

    def claim(self, message_id: int, now: int, lease_until: int) -> bool:
        """Take the row if it is due, moving it to ``lease_until``: whoever moved it sends it."""
        claimed = self.conn.execute(
            update(worker_emails)
            .where(worker_emails.c.message_id == message_id, worker_emails.c.next_attempt_at <= now)
            .values(next_attempt_at=lease_until)
        )
        return claimed.rowcount == 1

    def to_send(self, message_id: int) -> Row[Any] | None:
        """The claimed email: its address, attempts so far, and the message's subject, text and requester."""
        query: Select[Any] = select(
            worker_emails.c.address,
            worker_emails.c.attempts,
            worker_messages.c.worker_id,
            worker_messages.c.customer_id,
            worker_messages.c.subject,
            worker_messages.c.message_text,
        ).join(worker_messages, worker_messages.c.message_id == worker_emails.c.message_id)
        return self.conn.execute(query.where(worker_emails.c.message_id == message_id)).first()

    def sent(self, message_id: int, now: int) -> None:
        self.conn.execute(
            update(worker_emails)
            .where(worker_emails.c.message_id == message_id)
            .values(attempts=worker_emails.c.attempts + 1, next_attempt_at=None, sent_at=now, last_error=None)
        )

    def failed(self, message_id: int, error: str, retry_at: int | None) -> None:
        """Record a failed attempt; ``retry_at`` None gives the email up."""
        self.conn.execute(
            update(worker_emails)
            .where(worker_emails.c.message_id == message_id)
            .values(attempts=worker_emails.c.attempts + 1, next_attempt_at=retry_at, last_error=error)
        )

    def state(self, message_id: int) -> Row[Any] | None:
        return self.conn.execute(select(worker_emails).where(worker_emails.c.message_id == message_id)).first()
