"""Named queries of worker accounts: the identity a worker signs in as (id, name, token hash).

Profile, blocks and inbox live in ``store/workers.py``; this module only creates accounts and
resolves a token to one, which is all the sign-in and access paths need."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from openturk.store.schema import workers


class WorkerAccountRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert_worker(self, worker_id: str, name: str | None, token_hash: str | None, now: int) -> None:
        self.conn.execute(insert(workers).values(worker_id=worker_id, name=name, token_hash=token_hash, created_at=now))

    def worker_for_token(self, token_hash: str) -> str | None:
        return self.conn.execute(
            select(workers.c.worker_id).where(workers.c.token_hash == token_hash)
        ).scalar_one_or_none()
