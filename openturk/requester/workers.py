"""Worker operations: CreateWorkerBlock, DeleteWorkerBlock, ListWorkerBlocks and NotifyWorkers.

NotifyWorkers writes one inbox row per reached worker, and queues its email when the worker has an
address, in the call's transaction; the email is sent after the commit and retried with backoff
while SMTP fails (``openturk.worker_mail``). The inbox message stays whatever happens to its email.
"""

from __future__ import annotations

from typing import Any

from openturk import worker_mail
from openturk.domain import worker_notices
from openturk.requester import paging
from openturk.requester.context import Context
from openturk.requester.registry import operation
from openturk.store.worker_emails import WorkerEmailRepository
from openturk.store.workers import WorkerRepository


@operation("CreateWorkerBlock")
def create_worker_block(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DECISION: blocking a blocked worker again replaces the Reason."""
    worker_notices.check_reason(params["Reason"], required=True)
    with ctx.db.write() as conn:
        repo = WorkerRepository(conn)
        if not repo.is_blocked(ctx.customer_id, params["WorkerId"]):
            worker_notices.check_room_for_block(repo.block_count(ctx.customer_id))
        repo.block(ctx.customer_id, params["WorkerId"], params["Reason"], ctx.clock.now_ms())
    return {}


@operation("DeleteWorkerBlock", invalid={"WorkerId": "WorkerId is invalid."})
def delete_worker_block(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """As MTurk: deleting a block that does not exist succeeds (nothing changes); a WorkerId missing or
    invalid answers "WorkerId is invalid." (the operation's documentation)."""
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
        repo, queue = WorkerRepository(conn), WorkerEmailRepository(conn)
        now = ctx.clock.now_ms()
        worked = repo.worked_for(ctx.customer_id, notice.worker_ids)
        emails = repo.emails(worked)
        queued = []
        for worker_id in notice.worker_ids:
            if worker_id not in worked:
                continue
            message_id = repo.insert_message(worker_id, ctx.customer_id, notice.subject, notice.text, now)
            if worker_id in emails:
                queue.queue(message_id, emails[worker_id], worker_mail.wall_ms())
                queued.append(message_id)
    worker_mail.send(ctx.db, ctx.settings, queued)
    return {
        "NotifyWorkersFailureStatuses": [
            worker_notices.failure(worker_id) for worker_id in notice.worker_ids if worker_id not in worked
        ]
    }
