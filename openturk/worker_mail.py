"""NotifyWorkers' emails, sent after the call's commit and retried with backoff while SMTP fails.

The message and its queued email commit together (``store/worker_emails.py``); sending happens
afterwards: first right after the commit, by the call itself, then from the server's mail loop for
whatever is still due (a failed send, or a process that stopped between commit and send). Each
attempt claims its row first, so the call and any number of loops never send one email twice at
once. A failed attempt is retried after ``RetryPolicy.delay_ms`` (``notify/retry.py``, as the
notification outbox does) until ``max_attempts``, then given up; the inbox message stays either way.
Times are the wall clock's: retries wait for a mail server, not for the virtual clock.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Iterable

from openturk.notify import retry
from openturk.notify.transports.base import describe
from openturk.notify.transports.email import new_email
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.store.worker_emails import WorkerEmailRepository
from openturk.store.workers import WorkerRepository

log = logging.getLogger(__name__)
SMTP_TIMEOUT_S = 10.0
# A claim outlasts the longest send (the SMTP timeout), so a live sender's row is never taken over.
LEASE_MS = 60_000
BATCH = 100


def send(db: Database, settings: Settings, message_ids: Iterable[int]) -> int:
    """Try each of these queued emails that is due and unclaimed; return how many were sent.

    Stops at the first failed send: the mail server is then most likely down for all of them, and
    a call must not wait out one SMTP timeout per worker; the rest stay due for the mail loop.
    Never raises for a mail server's failure."""
    sent = 0
    for message_id in message_ids:
        outcome = _attempt(db, settings, message_id)
        if outcome is False:
            break
        sent += outcome is True
    return sent


def send_due(db: Database, settings: Settings) -> int:
    """One pass of the mail loop: every email due now (at most ``BATCH``)."""
    with db.read() as conn:
        due = WorkerEmailRepository(conn).due(wall_ms(), BATCH)
    return send(db, settings, due)


def _attempt(db: Database, settings: Settings, message_id: int) -> bool | None:
    """True: sent; False: the send failed (recorded, retry scheduled); None: not due or claimed elsewhere."""
    now = wall_ms()
    with db.write() as conn:
        queue = WorkerEmailRepository(conn)
        row = queue.to_send(message_id) if queue.claim(message_id, now, now + LEASE_MS) else None
    if row is None:
        return None
    email = new_email(settings.email_sender, row.address, row.subject, f"worker-message.{message_id}")
    email["X-MTurk-Requester"] = row.customer_id
    email.set_content(row.message_text)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        error = describe(exc)
        policy = retry.from_settings(settings)
        attempts = row.attempts + 1
        retry_at = None if policy.exhausted(attempts) else wall_ms() + policy.delay_ms(attempts)
        log.warning(
            "NotifyWorkers email for message %s to %s failed (attempt %d, %s): %s",
            message_id,
            row.worker_id,
            attempts,
            "given up" if retry_at is None else f"retry at {retry_at} ms",
            error,
        )
        with db.write() as conn:
            WorkerEmailRepository(conn).failed(message_id, error, retry_at)
            WorkerRepository(conn).record_email(message_id, None, error)
        return False
    sent_at = wall_ms()
    with db.write() as conn:
        WorkerEmailRepository(conn).sent(message_id, sent_at)
        WorkerRepository(conn).record_email(message_id, sent_at, None)
    return True


def wall_ms() -> int:
    return int(time.time() * 1000)
