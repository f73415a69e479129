"""Named queries of worker identities: a WorkerId, its name and bearer-token hash.

The web site's log-ins are ``store/accounts.py``; profile, blocks and inbox live in
``store/workers.py``; this module only creates identities and
resolves a token to one, which is all the sign-in and access paths need."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from openturk.store.schema import workers


class WorkerIdentityRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert_worker(self, worker_id: str, name: str | None, token_hash: str | None, now: int) -> None:
        self.conn.execute(insert(workers).values(worker_id=worker_id, name=name, token_hash=token_hash, created_at=now))

    def worker_for_token(self, token_hash: str) -> str | None:
        return self.conn.execute(
            select(workers.c.worker_id).where(workers.c.token_hash == token_hash)
        ).scalar_one_or_none()
