"""Named queries of idempotency request tokens: the result a (requester, UniqueRequestToken) named."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, insert, select

from openturk.store.schema import request_tokens


class RequestTokenRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

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
