"""Worker operations: CreateWorkerBlock, DeleteWorkerBlock, ListWorkerBlocks and NotifyWorkers.

NotifyWorkers writes one inbox row per reached worker in the call's transaction; only after the
commit is each row with an email address sent through the configured SMTP server. A failed send is
logged and recorded on the row; the inbox message stays (the worker API lists it).
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

from openturk.domain import worker_notices
from openturk.notify.transports.base import describe
from openturk.requester import paging
from openturk.requester.context import Context
from openturk.requester.registry import operation
from openturk.store.workers import WorkerRepository

log = logging.getLogger(__name__)
SMTP_TIMEOUT_S = 10.0


@operation("CreateWorkerBlock")
def create_worker_block(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DECISION: blocking a blocked worker again replaces the Reason."""
    worker_notices.check_reason(params["Reason"], required=True)
    with ctx.db.write() as conn:
        WorkerRepository(conn).block(ctx.customer_id, params["WorkerId"], params["Reason"], ctx.clock.now_ms())
    return {}


@operation("DeleteWorkerBlock")
def delete_worker_block(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """As MTurk: deleting a block that does not exist succeeds (nothing changes)."""
    worker_notices.check_reason(params.get("Reason", ""), required=False)
    with ctx.db.write() as conn:
        WorkerRepository(conn).unblock(ctx.customer_id, params["WorkerId"])
    return {}


@operation("ListWorkerBlocks")
def list_worker_blocks(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        repo = WorkerRepository(conn)
        page, token = paging.paginate(
            params,
            "ListWorkerBlocks",
            lambda after, limit: repo.blocks_page(ctx.customer_id, after, limit),
            lambda row: row.worker_id,
            "",
        )
    return {
        "NextToken": token,
        "NumResults": len(page),
        "WorkerBlocks": [{"WorkerId": row.worker_id, "Reason": row.reason} for row in page],
    }


@operation("NotifyWorkers")
def notify_workers(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DECISION: a worker reached is one with submitted work (Submitted, Approved or Rejected) on
    one of the caller's HITs; every other id is a HardFailure status and the call succeeds."""
    notice = worker_notices.notice(params["Subject"], params["MessageText"], params["WorkerIds"])
    with ctx.db.write() as conn:
        repo = WorkerRepository(conn)
        now = ctx.clock.now_ms()
        worked = repo.worked_for(ctx.customer_id, notice.worker_ids)
        message_ids = [
            repo.insert_message(worker_id, ctx.customer_id, notice.subject, notice.text, now)
            for worker_id in notice.worker_ids
            if worker_id in worked
        ]
        emails = repo.emails(worked)
    for message_id in message_ids:
        send_email(ctx, message_id, emails)
    return {
        "NotifyWorkersFailureStatuses": [
            worker_notices.failure(worker_id) for worker_id in notice.worker_ids if worker_id not in worked
        ]
    }


def send_email(ctx: Context, message_id: int, emails: dict[str, str]) -> None:
    """Send one committed inbox row by email, if its worker has an address; never raises.

    Also how qualification notices (``openturk.requester.qualifications``) reach a worker's mailbox."""
    with ctx.db.read() as conn:
        row = WorkerRepository(conn).message(message_id)
    if row is None or row.worker_id not in emails:
        return
    email = EmailMessage()
    email["From"] = ctx.settings.email_sender
    email["To"] = emails[row.worker_id]
    email["Subject"] = row.subject
    email["X-MTurk-Requester"] = row.customer_id
    email.set_content(row.message_text)
    error: str | None = None
    try:
        with smtplib.SMTP(ctx.settings.smtp_host, ctx.settings.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        error = describe(exc)
        log.warning("NotifyWorkers email for message %s to %s failed: %s", message_id, row.worker_id, error)
    with ctx.db.write() as conn:
        WorkerRepository(conn).record_email(message_id, None if error else ctx.clock.now_ms(), error)
