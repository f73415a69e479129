"""worker_mail's sending rules against a real SQLite database and a closed or open SMTP port."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select

from openturk import worker_mail
from openturk.settings import Settings
from openturk.store.schema import requesters, worker_emails, worker_messages
from openturk.store.worker_emails import WorkerEmailRepository
from openturk.testing import free_port
from tests.support.smtp import SMTPServer
from tests.support.world import World


def _queue(world: World, count: int) -> list[int]:
    ids = []
    with world.db.write() as conn:
        customer_id = conn.execute(select(requesters.c.customer_id)).scalar_one()
        for n in range(count):
            message_id = conn.execute(
                insert(worker_messages).values(
                    worker_id=f"AWORKER{n}", customer_id=customer_id, subject="s", message_text="t", sent_time=0
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            WorkerEmailRepository(conn).queue(int(message_id), f"w{n}@example.org", 0)
            ids.append(int(message_id))
    return ids


def _attempts(world: World) -> list[int]:
    with world.db.read() as conn:
        return list(conn.execute(select(worker_emails.c.attempts).order_by(worker_emails.c.message_id)).scalars())


def test_a_call_stops_at_the_first_failed_send(tmp_path: Path) -> None:
    world = World(tmp_path / "db.sqlite")
    ids = _queue(world, 3)
    assert worker_mail.send(world.db, Settings(smtp_port=free_port()), ids) == 0
    assert _attempts(world) == [1, 0, 0]  # the other two stay due for the mail loop


def test_sent_rows_are_not_sent_again_and_claimed_rows_are_skipped(tmp_path: Path) -> None:
    world = World(tmp_path / "db.sqlite")
    first, second = _queue(world, 2)
    with world.db.write() as conn:
        assert WorkerEmailRepository(conn).claim(second, 1, 10**15)  # another sender holds it
    smtp = SMTPServer().start()
    try:
        settings = Settings(smtp_port=smtp.port)
        assert worker_mail.send(world.db, settings, [first, second]) == 1
        assert worker_mail.send_due(world.db, settings) == 0
        assert [m["To"] for m in smtp.inbox.received()] == ["w0@example.org"]
    finally:
        smtp.stop()
