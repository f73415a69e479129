"""Server-side sessions of the web site, and the cookie that names one.

The cookie holds 32 random bytes (URL-safe base64); the database keeps only their SHA-256, with the
session's kind, principal, CSRF token and expiry. Served over TLS the cookie is
``__Host-openturk-session; Secure; HttpOnly; SameSite=Lax; Path=/`` (the ``__Host-`` prefix makes the
browser refuse one set by a sub-domain or without ``Secure``); over plain HTTP on one's own machine
it is ``openturk-session`` without ``Secure``. A log-in always starts a new session (no fixation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from openturk.clock import Clock
from openturk.store.database import Database
from openturk.store.sessions import SessionRepository

Kind = Literal["anonymous", "worker", "requester", "admin"]
KINDS: tuple[Kind, ...] = ("anonymous", "worker", "requester", "admin")
SECURE_COOKIE = "__Host-openturk-session"
PLAIN_COOKIE = "openturk-session"
# A session ends after this long without a request (each request moves the end forward, at most once a minute).
IDLE_MS = 12 * 60 * 60 * 1000
_EXTEND_EVERY_MS = 60 * 1000
MAX_TOKEN = 64


@dataclass(frozen=True)
class Session:
    token: str
    kind: Kind
    principal: str | None
    csrf_token: str

    @property
    def worker_id(self) -> str | None:
        return self.principal if self.kind == "worker" else None

    @property
    def customer_id(self) -> str | None:
        """The requester whose pages this session shows (None for an admin, who sees every requester)."""
        return self.principal if self.kind == "requester" else None


def cookie_name(secure: bool) -> str:
    return SECURE_COOKIE if secure else PLAIN_COOKIE


def cookie_header(token: str, secure: bool, *, max_age_s: int | None = None) -> str:
    """A ``Set-Cookie`` value for the session token (``max_age_s=0`` removes the cookie)."""
    parts = [f"{cookie_name(secure)}={token}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if max_age_s is not None:
        parts.append(f"Max-Age={max_age_s}")
    return "; ".join(parts)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: Database, clock: Clock, kind: Kind, principal: str | None = None) -> Session:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = clock.now_ms()
    with db.write() as conn:
        SessionRepository(conn).insert(_hash(token), kind, principal, csrf, now, now + IDLE_MS)
    return Session(token, kind, principal, csrf)


def load(db: Database, clock: Clock, token: str) -> Session | None:
    """The live session the cookie names, its idle deadline moved forward; None if there is none."""
    if not token or len(token) > MAX_TOKEN:
        return None
    now = clock.now_ms()
    hashed = _hash(token)
    with db.read() as conn:
        row = SessionRepository(conn).live(hashed, now)
    if row is None or row.kind not in KINDS:
        return None
    if row.expires_at - now < IDLE_MS - _EXTEND_EVERY_MS:
        with db.write() as conn:
            SessionRepository(conn).extend(hashed, now + IDLE_MS)
    return Session(token, row.kind, row.principal, row.csrf_token)


def end(db: Database, clock: Clock, token: str) -> None:
    with db.write() as conn:
        sessions = SessionRepository(conn)
        sessions.delete(_hash(token))
        sessions.prune(clock.now_ms())
