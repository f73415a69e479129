"""Named queries of the web site's server-side sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from openturk.store.schema import web_sessions


class SessionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(
        self, token_hash: str, kind: str, principal: str | None, csrf_token: str, now: int, expires_at: int
    ) -> None:
        self.conn.execute(
            insert(web_sessions).values(
                token_hash=token_hash,
                kind=kind,
                principal=principal,
                csrf_token=csrf_token,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def live(self, token_hash: str, now: int) -> Row[Any] | None:
        query = select(web_sessions).where(web_sessions.c.token_hash == token_hash, web_sessions.c.expires_at > now)
        return self.conn.execute(query).first()

    def extend(self, token_hash: str, expires_at: int) -> None:
        self.conn.execute(
            update(web_sessions).where(web_sessions.c.token_hash == token_hash).values(expires_at=expires_at)
        )

    def delete(self, token_hash: str) -> None:
        self.conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))

    def delete_of(self, principal: str) -> None:
        """End every session of a worker or requester (an admin disabled the worker)."""
        self.conn.execute(delete(web_sessions).where(web_sessions.c.principal == principal))

    def prune(self, now: int) -> None:
        self.conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
