"""Worker accounts against a real SQLite store: sign-up rules, log-in, the rate limit, disabling."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openturk.clock import VirtualClock
from openturk.store.database import Database
from openturk.web import sessions
from openturk.workers import accounts

PASSWORD = "a long enough password"


@pytest.fixture
def db(migrated_store_url: str) -> Iterator[Database]:
    database = Database(migrated_store_url)
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("", PASSWORD, "email"),
        ("no-at-sign", PASSWORD, "email"),
        ("a@b@c", PASSWORD, "email"),
        ("has space@example.com", PASSWORD, "email"),
        ("x" * 250 + "@example.com", PASSWORD, "email"),
        ("ok@example.com", "short", "password"),
        ("ok@example.com", "x" * 257, "password"),
    ],
)
def test_sign_up_refuses_bad_input_naming_the_field(db: Database, email: str, password: str, field: str) -> None:
    with pytest.raises(accounts.AccountError) as refused:
        accounts.sign_up(db, VirtualClock(), email, password)
    assert refused.value.field == field
    with db.read() as conn:  # nothing written
        assert conn.exec_driver_sql("SELECT count(*) FROM workers").scalar_one() == 0


def test_a_worker_logs_in_by_address_in_any_case_and_the_hash_is_argon2(db: Database) -> None:
    clock = VirtualClock()
    created = accounts.sign_up(db, clock, "  Worker@Example.com ", PASSWORD)
    assert created.worker_id.startswith("A") and len(created.worker_id) == 14
    assert accounts.log_in(db, clock, "WORKER@example.COM", PASSWORD, "127.0.0.1") == created.worker_id
    with db.read() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash, login FROM worker_accounts").one()
        email = conn.exec_driver_sql("SELECT email FROM workers").scalar_one()
    assert stored[0].startswith("$argon2id$") and PASSWORD not in stored[0]
    assert stored[1] == email == "worker@example.com"


def test_an_unknown_address_and_a_wrong_password_get_the_same_answer(db: Database) -> None:
    clock = VirtualClock()
    accounts.sign_up(db, clock, "w@example.com", PASSWORD)
    messages = set()
    for email, password in (("w@example.com", "wrong password"), ("nobody@example.com", PASSWORD)):
        with pytest.raises(accounts.AccountError) as refused:
            accounts.log_in(db, clock, email, password, "10.0.0.1")
        messages.add(refused.value.message)
    assert len(messages) == 1


def test_five_failures_lock_the_address_until_the_first_leaves_the_window(db: Database) -> None:
    clock = VirtualClock()
    accounts.sign_up(db, clock, "w@example.com", PASSWORD)
    for _ in range(accounts.FAILURES_PER_LOGIN):
        with pytest.raises(accounts.AccountError):
            accounts.log_in(db, clock, "w@example.com", "wrong password", "10.0.0.1")
        clock.advance_to(clock.now_ms() + 60_000)
    with pytest.raises(accounts.TooManyAttempts) as limited:
        accounts.log_in(db, clock, "w@example.com", PASSWORD, "10.0.0.2")
    assert 0 < limited.value.retry_after_s <= 10 * 60
    clock.advance_to(clock.now_ms() + limited.value.retry_after_s * 1000 + 1)
    assert accounts.log_in(db, clock, "w@example.com", PASSWORD, "10.0.0.2")


def test_one_client_guessing_many_addresses_is_limited_too(db: Database) -> None:
    clock = VirtualClock()
    for i in range(accounts.FAILURES_PER_CLIENT):
        with pytest.raises(accounts.AccountError):
            accounts.log_in(db, clock, f"guess{i}@example.com", "wrong password", "10.9.9.9")
    with pytest.raises(accounts.TooManyAttempts):
        accounts.log_in(db, clock, "another@example.com", "wrong password", "10.9.9.9")


def test_disabling_ends_the_workers_sessions(db: Database) -> None:
    clock = VirtualClock()
    worker_id = accounts.sign_up(db, clock, "w@example.com", PASSWORD).worker_id
    session = sessions.start(db, clock, "worker", worker_id)
    assert sessions.load(db, clock, session.token) is not None
    accounts.set_disabled(db, clock, worker_id, True)
    assert sessions.load(db, clock, session.token) is None
    assert not accounts.is_active(db, worker_id)
    with pytest.raises(accounts.AccountError, match="disabled"):
        accounts.log_in(db, clock, "w@example.com", PASSWORD, "10.0.0.1")
    with pytest.raises(accounts.AccountError, match="no web account"):
        accounts.set_disabled(db, clock, "ANOSUCHWORKER1", True)


def test_a_session_ends_after_its_idle_time(db: Database) -> None:
    clock = VirtualClock()
    session = sessions.start(db, clock, "anonymous")
    clock.advance_to(clock.now_ms() + sessions.IDLE_MS - 1000)
    assert sessions.load(db, clock, session.token) is not None  # and moved its end forward
    clock.advance_to(clock.now_ms() + sessions.IDLE_MS - 1000)
    assert sessions.load(db, clock, session.token) is not None
    clock.advance_to(clock.now_ms() + sessions.IDLE_MS + 1)
    assert sessions.load(db, clock, session.token) is None
    assert sessions.load(db, clock, "x" * 500) is None
