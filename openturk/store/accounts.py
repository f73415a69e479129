"""Named queries of the web site's log-ins: worker accounts and the failed log-ins the rate limit counts."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select, update

from openturk.store.schema import login_failures, worker_accounts, workers


class WorkerAccount:
    """One worker's log-in as stored."""

    __slots__ = ("auto_accept_next", "disabled_at", "login", "password_hash", "worker_id")

    def __init__(
        self, worker_id: str, login: str, password_hash: str, disabled_at: int | None, auto_accept_next: bool
    ) -> None:
        self.worker_id, self.login, self.password_hash = worker_id, login, password_hash
        self.disabled_at, self.auto_accept_next = disabled_at, auto_accept_next


class AccountRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, worker_id: str, login: str, password_hash: str, now: int) -> None:
        self.conn.execute(
            insert(worker_accounts).values(
                worker_id=worker_id, login=login, password_hash=password_hash, created_at=now, auto_accept_next=True
            )
        )

    def by_login(self, login: str) -> WorkerAccount | None:
        return self._one(worker_accounts.c.login == login)

    def by_worker(self, worker_id: str) -> WorkerAccount | None:
        return self._one(worker_accounts.c.worker_id == worker_id)

    def _one(self, where: object) -> WorkerAccount | None:
        row = self.conn.execute(select(worker_accounts).where(where)).first()  # type: ignore[arg-type]
        if row is None:
            return None
        return WorkerAccount(row.worker_id, row.login, row.password_hash, row.disabled_at, bool(row.auto_accept_next))

    def set_password_hash(self, worker_id: str, password_hash: str) -> None:
        self.conn.execute(
            update(worker_accounts).where(worker_accounts.c.worker_id == worker_id).values(password_hash=password_hash)
        )

    def set_disabled(self, worker_id: str, disabled_at: int | None) -> bool:
        """Whether the worker has an account (and so was disabled or enabled)."""
        changed = self.conn.execute(
            update(worker_accounts).where(worker_accounts.c.worker_id == worker_id).values(disabled_at=disabled_at)
        )
        return bool(changed.rowcount)

    def set_auto_accept_next(self, worker_id: str, on: bool) -> None:
        self.conn.execute(
            update(worker_accounts).where(worker_accounts.c.worker_id == worker_id).values(auto_accept_next=on)
        )

    def worker_exists(self, worker_id: str) -> bool:
        return (
            self.conn.execute(select(workers.c.worker_id).where(workers.c.worker_id == worker_id)).first() is not None
        )

    # -- failed log-ins ---------------------------------------------------------------------------
    def record_failure(self, login: str, client: str, now: int) -> None:
        self.conn.execute(insert(login_failures).values(login=login, client=client, at=now))

    def failures_since(self, *, login: str | None = None, client: str | None = None, since: int) -> int:
        query = select(func.count()).select_from(login_failures).where(login_failures.c.at >= since)
        if login is not None:
            query = query.where(login_failures.c.login == login)
        if client is not None:
            query = query.where(login_failures.c.client == client)
        return int(self.conn.execute(query).scalar_one())

    def oldest_failure_since(self, *, login: str, since: int) -> int | None:
        query = select(func.min(login_failures.c.at)).where(
            login_failures.c.login == login, login_failures.c.at >= since
        )
        found = self.conn.execute(query).scalar_one()
        return int(found) if found is not None else None

    def forget_failures(self, login: str) -> None:
        self.conn.execute(delete(login_failures).where(login_failures.c.login == login))

    def prune_failures(self, before: int) -> None:
        self.conn.execute(delete(login_failures).where(login_failures.c.at < before))
