"""Workers' log-ins for the web site: sign-up, log-in with a rate limit, password hashing, disabling.

HTTP-free: the site's pages and the CLI call these. Passwords are hashed with argon2id (argon2-cffi's
defaults, which follow RFC 9106's recommendations); a hash made with older parameters is replaced at
the next successful log-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError

from openturk.clock import Clock
from openturk.domain import ids
from openturk.store.accounts import AccountRepository
from openturk.store.database import Database
from openturk.store.sessions import SessionRepository
from openturk.store.worker_identities import WorkerIdentityRepository
from openturk.store.workers import WorkerRepository

MIN_PASSWORD = 10
# Bounded before it is hashed: argon2 would take any length, an attacker's megabyte included.
MAX_PASSWORD = 256
MAX_LOGIN = 254  # an e-mail address (RFC 5321's path limit)
# The rate limit: this many failed log-ins for one address, or FAILURES_PER_CLIENT from one client,
# within FAILURE_WINDOW_MS refuse further attempts until the oldest one leaves the window.
FAILURES_PER_LOGIN = 5
FAILURES_PER_CLIENT = 30
FAILURE_WINDOW_MS = 15 * 60 * 1000

_hasher = PasswordHasher()
# Verified against when the address is unknown, so an unknown address costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("openturk: no such account")


class AccountError(Exception):
    """A sign-up or log-in refused; ``field`` names the form field at fault (None: the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


class TooManyAttempts(AccountError):
    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, -(-retry_after_s // 60))
        super().__init__(f"Too many failed log-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}.")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class SignUp:
    worker_id: str


def normal_login(login: str) -> str:
    """The address as stored and compared: trimmed and lower-cased."""
    return login.strip().lower()


def _check_login(login: str) -> str:
    login = normal_login(login)
    if not login:
        raise AccountError("Enter your e-mail address.", "email")
    if len(login) > MAX_LOGIN or login.count("@") != 1 or login.startswith("@") or login.endswith("@"):
        raise AccountError("Enter a valid e-mail address, like name@example.com.", "email")
    if any(ch.isspace() or ord(ch) < 32 for ch in login):
        raise AccountError("An e-mail address cannot contain spaces.", "email")
    return login


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Choose a password of at least {MIN_PASSWORD} characters.", "password")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"A password can be at most {MAX_PASSWORD} characters.", "password")


def sign_up(db: Database, clock: Clock, email: str, password: str, name: str | None = None) -> SignUp:
    """A new worker (WorkerId in MTurk's format) with a log-in; the address also receives NotifyWorkers mail."""
    login = _check_login(email)
    _check_password(password)
    password_hash = _hasher.hash(password)
    worker_id = ids.worker_id()
    now = clock.now_ms()
    try:
        with db.write() as conn:
            if AccountRepository(conn).by_login(login) is not None:
                raise AccountError("An account with this e-mail address already exists. Log in instead.", "email")
            WorkerIdentityRepository(conn).insert_worker(worker_id, (name or "").strip()[:255] or None, None, now)
            WorkerRepository(conn).set_email(worker_id, login)
            AccountRepository(conn).insert(worker_id, login, password_hash, now)
    except IntegrityError as exc:  # the same address signed up concurrently
        raise AccountError("An account with this e-mail address already exists. Log in instead.", "email") from exc
    return SignUp(worker_id)


def log_in(db: Database, clock: Clock, email: str, password: str, client: str) -> str:
    """The WorkerId whose address and password these are; ``AccountError`` (one message for an unknown
    address and a wrong password) or ``TooManyAttempts`` otherwise. Every failure is recorded."""
    login = normal_login(email)[:MAX_LOGIN]
    client = client[:64]
    now = clock.now_ms()
    refuse_if_limited(db, now, login, client)
    with db.read() as conn:
        account = AccountRepository(conn).by_login(login)
    if len(password) > MAX_PASSWORD or not _verifies(account.password_hash if account else _DUMMY_HASH, password):
        record_failure(db, now, login, client)
        raise AccountError("The e-mail address or password is not right.")
    assert account is not None  # the dummy hash never verifies a password
    if account.disabled_at is not None:
        raise AccountError("This account has been disabled. Contact the site's administrator.")
    with db.write() as conn:
        accounts = AccountRepository(conn)
        accounts.forget_failures(login)
        if _hasher.check_needs_rehash(account.password_hash):
            accounts.set_password_hash(account.worker_id, _hasher.hash(password))
    return account.worker_id


def _verifies(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def refuse_if_limited(db: Database, now: int, login: str, client: str, *, per_login: bool = True) -> None:
    """``TooManyAttempts`` when ``client`` has failed to log in too often lately, or (``per_login``)
    ``login`` (a worker's address) has: every log-in form of the site asks first."""
    since = now - FAILURE_WINDOW_MS
    with db.read() as conn:
        accounts = AccountRepository(conn)
        if accounts.failures_since(client=client[:64], since=since) >= FAILURES_PER_CLIENT:
            raise TooManyAttempts(FAILURE_WINDOW_MS // 1000)
        if per_login and accounts.failures_since(login=login, since=since) >= FAILURES_PER_LOGIN:
            oldest = accounts.oldest_failure_since(login=login, since=since) or now
            raise TooManyAttempts(max(1, -(-(oldest + FAILURE_WINDOW_MS - now) // 1000)))  # whole seconds, rounded up


def record_failure(db: Database, now: int, login: str, client: str) -> None:
    with db.write() as conn:
        accounts = AccountRepository(conn)
        accounts.record_failure(login, client[:64], now)
        accounts.prune_failures(now - FAILURE_WINDOW_MS)


def set_disabled(db: Database, clock: Clock, worker_id: str, disabled: bool) -> None:
    """Disable (ending every session) or enable a worker's log-in; ``AccountError`` if it has none."""
    with db.write() as conn:
        if not AccountRepository(conn).set_disabled(worker_id, clock.now_ms() if disabled else None):
            raise AccountError(f"Worker {worker_id} has no web account.")
        if disabled:
            SessionRepository(conn).delete_of(worker_id)


def is_active(db: Database, worker_id: str) -> bool:
    """Whether a worker may use the site: it has an account and no admin disabled it."""
    with db.read() as conn:
        account = AccountRepository(conn).by_worker(worker_id)
    return account is not None and account.disabled_at is None


def email(db: Database, worker_id: str) -> str | None:
    """The address the worker signed up with, where NotifyWorkers mail goes."""
    with db.read() as conn:
        return WorkerRepository(conn).emails([worker_id]).get(worker_id)


def auto_accept_next(db: Database, worker_id: str) -> bool:
    with db.read() as conn:
        account = AccountRepository(conn).by_worker(worker_id)
    return account.auto_accept_next if account is not None else True


def set_auto_accept_next(db: Database, worker_id: str, on: bool) -> None:
    with db.write() as conn:
        AccountRepository(conn).set_auto_accept_next(worker_id, on)
