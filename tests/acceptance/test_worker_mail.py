"""NotifyWorkers emails are durable: queued with the inbox message, sent after, retried while SMTP is down."""

from __future__ import annotations

import time
import uuid
from typing import Any

from openturk.testing import ServerProcess, Worker, free_port
from tests.conftest import cli_keys, hit_params
from tests.support.smtp import SMTPServer


def _email_state(server: ServerProcess, worker_id: str) -> tuple[Any, ...]:
    rows = server.sql(
        "SELECT e.attempts, e.next_attempt_at, e.sent_at, e.last_error, m.emailed_at FROM worker_emails e "
        "JOIN worker_messages m ON m.message_id = e.message_id WHERE m.worker_id = :worker_id",
        worker_id=worker_id,
    )
    return rows[0] if rows else ()


def _poll(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_email_sent_once_smtp_comes_up() -> None:
    smtp_port = free_port()
    args = ["--smtp-port", str(smtp_port), "--retry-base", "0.2", "--retry-cap", "0.5"]
    with ServerProcess(virtual_clock=True, extra_args=args, startup_timeout=90) as server:
        mturk = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
        created = cli_keys(server.db_url, "workers", "create", "mailable", "--email", "worker@example.org")
        worker = Worker(server.base_url, created["WorkerId"], token=created["Token"])
        worker.do(mturk.create_hit(**hit_params())["HIT"]["HITId"])

        answer = mturk.notify_workers(Subject="Bonus round", MessageText="New HITs.", WorkerIds=[worker.worker_id])
        assert answer["NotifyWorkersFailureStatuses"] == []
        # SMTP is down: the call succeeded, the email is queued with its failure, and retried.
        attempts, next_attempt_at, sent_at, error, emailed_at = _email_state(server, worker.worker_id)
        assert attempts >= 1 and next_attempt_at is not None and sent_at is None and error and emailed_at is None
        _poll(lambda: _email_state(server, worker.worker_id)[0] >= 2, 20, "a second attempt")

        smtp = SMTPServer(smtp_port).start()
        try:
            _poll(lambda: smtp.inbox.received(), 30, "the email once SMTP is up")
            (mail,) = smtp.inbox.received()
            assert (mail["To"], mail["Subject"]) == ("worker@example.org", "Bonus round")
            assert mail["Date"] and mail["Message-ID"].startswith("<worker-message.")
            assert "New HITs." in mail.get_payload()
            _poll(lambda: _email_state(server, worker.worker_id)[2] is not None, 10, "the send to be recorded")
            attempts, next_attempt_at, sent_at, error, emailed_at = _email_state(server, worker.worker_id)
            assert next_attempt_at is None and error is None and emailed_at == sent_at
            # Delivered once: the loop does not send it again.
            assert len(smtp.inbox.received()) == 1
        finally:
            smtp.stop()
        assert "NotifyWorkers email" in server.log()


def test_email_given_up_after_max_attempts_keeps_the_message() -> None:
    args = ["--smtp-port", str(free_port()), "--retry-base", "0.05", "--retry-cap", "0.1", "--max-attempts", "3"]
    with ServerProcess(virtual_clock=True, extra_args=args, startup_timeout=90) as server:
        mturk = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
        created = cli_keys(server.db_url, "workers", "create", "unreachable", "--email", "nobody@example.org")
        worker = Worker(server.base_url, created["WorkerId"], token=created["Token"])
        worker.do(mturk.create_hit(**hit_params())["HIT"]["HITId"])
        mturk.notify_workers(Subject="Hello", MessageText="Still here.", WorkerIds=[worker.worker_id])
        _poll(lambda: _email_state(server, worker.worker_id)[0] == 3, 20, "three attempts")
        _, next_attempt_at, sent_at, error, _ = _email_state(server, worker.worker_id)
        assert next_attempt_at is None and sent_at is None and error
        messages = worker.http.get("/api/worker/messages", params={"WorkerId": worker.worker_id}).json()["Messages"]
        assert [m["Subject"] for m in messages] == ["Hello"]


def test_worker_without_address_queues_no_email(server: ServerProcess, mturk: Any) -> None:
    worker = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
    worker.do(mturk.create_hit(**hit_params())["HIT"]["HITId"])
    mturk.notify_workers(Subject="Hi", MessageText="No address.", WorkerIds=[worker.worker_id])
    assert _email_state(server, worker.worker_id) == ()
