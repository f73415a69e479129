"""Named queries of idempotency request tokens: the result a (requester, UniqueRequestToken) named."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from openturk.store.schema import request_tokens


class RequestTokenRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def request_token(self, customer_id: str, token: str) -> Row[Any] | None:
        return self.conn.execute(
            select(request_tokens).where(request_tokens.c.customer_id == customer_id, request_tokens.c.token == token)
        ).first()

    def claim_request_token(self, customer_id: str, token: str, now: int, expired_before: int) -> Row[Any] | None:
        """Take the token for this transaction (a row without a result yet, replacing one that expired);
        None once taken, else the row of the request that holds it.

        The insert is what serialises requests with one token: on PostgreSQL a second transaction's
        insert waits for the first to commit and then fails on the key, so a token read as free by
        both can still be taken by one only (reading first, then writing, let both go ahead)."""
        mine = (request_tokens.c.customer_id == customer_id, request_tokens.c.token == token)
        self.conn.execute(delete(request_tokens).where(*mine, request_tokens.c.created_at <= expired_before))
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(request_tokens).values(
                        customer_id=customer_id, token=token, operation="", result_id="", request_id="", created_at=now
                    )
                )
        except IntegrityError:
            return self.request_token(customer_id, token)
        return None

    def put_request_token(
        self, customer_id: str, token: str, operation: str, result_id: str, request_id: str, now: int
    ) -> None:
        """Record what the request that holds the token made (claimed before, in this transaction)."""
        mine = (request_tokens.c.customer_id == customer_id, request_tokens.c.token == token)
        values = {"operation": operation, "result_id": result_id, "request_id": request_id, "created_at": now}
        if not self.conn.execute(update(request_tokens).where(*mine).values(**values)).rowcount:
            self.conn.execute(insert(request_tokens).values(customer_id=customer_id, token=token, **values))
