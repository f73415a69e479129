"""An in-process openturk on a temporary database of the suite's store (a SQLite file, or a PostgreSQL
database under OPENTURK_TEST_DB=postgresql), driven through its operations with a hand-set clock.

For unit tests of transitions and timers that need the real store but no server process.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from openturk.domain.model import HIT
from openturk.requester import account, hits
from openturk.requester.context import Context
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.store.schema import events, timer_failures
from openturk.workers import actions
from tests.support import stores

T0 = 1_800_000_000_000  # epoch ms the world starts at
HTML_QUESTION = (
    "<HTMLQuestion xmlns='http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd'>"
    "<HTMLContent><![CDATA[<!DOCTYPE html><html><body><form><input name='answer'></form></body></html>]]>"
    "</HTMLContent><FrameHeight>0</FrameHeight></HTMLQuestion>"
)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


@dataclass(frozen=True)
class Recorded:
    event_type: str
    event_time: int
    hit_type_id: str
    assignment_id: str | None


class World:
    def __init__(self, path: Path) -> None:
        self.db = Database(stores.scratch_database_url(path.parent, path.name, migrated=True))
        self.clock = ManualClock(T0)
        key = f"AKID{uuid.uuid4().hex[:16].upper()}"
        customer_id = account.requester_for_open_key(self.db, key, T0, 1_000_000)
        self.ctx = Context(
            db=self.db, clock=self.clock, settings=Settings(), customer_id=customer_id, request_id="request"
        )

    def create_hit(self, **overrides: Any) -> str:
        params: dict[str, Any] = {
            "Title": "Label an image",
            "Description": "Say what is in the picture",
            "Reward": "0.50",
            "AssignmentDurationInSeconds": 600,
            "LifetimeInSeconds": 60,
            "AutoApprovalDelayInSeconds": 86400,
            "MaxAssignments": 1,
            "Question": HTML_QUESTION,
        }
        params.update(overrides)
        return str(hits.create_hit(self.ctx, params)["HIT"]["HITId"])

    def accept(self, hit_id: str, worker_id: str = "AWORKER1") -> str:
        return actions.accept(self.db, self.clock, worker_id, hit_id).assignment_id

    def submit(self, assignment_id: str, worker_id: str = "AWORKER1") -> None:
        actions.submit(self.db, self.clock, worker_id, assignment_id, [("answer", "yes")])

    def return_(self, assignment_id: str, worker_id: str = "AWORKER1") -> None:
        actions.return_assignment(self.db, self.clock, worker_id, assignment_id)

    def hit(self, hit_id: str) -> HIT:
        with self.db.read() as conn:
            found = Repository(conn).hit(hit_id)
        assert found is not None
        return found

    def events(self, hit_id: str) -> list[Recorded]:
        """The HIT's event rows in commit order."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(events.c.event_type, events.c.event_time, events.c.hit_type_id, events.c.assignment_id)
                .where(events.c.hit_id == hit_id)
                .order_by(events.c.event_id)
            ).all()
        return [Recorded(*row) for row in rows]

    def kinds(self, hit_id: str) -> list[str]:
        return [event.event_type for event in self.events(hit_id)]

    def failures(self) -> dict[tuple[str, str], Any]:
        """The timer_failures rows by (kind, item id)."""
        with self.db.read() as conn:
            rows = conn.execute(select(timer_failures)).all()
        return {(row.kind, row.item_id): row for row in rows}
