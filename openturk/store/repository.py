"""All the per-aggregate queries on one connection, for code whose transaction spans aggregates.

Each aggregate's named queries live in their own module (``store/requesters.py``, ``hits.py``,
``assignments.py``, ``idempotency.py``, ``timers.py``, ``worker_identities.py``); each class takes
the connection and can be used alone. ``Repository`` only combines them: a transition, the ledger
and the timers touch a HIT, its assignments and the requester's money in one transaction, and one
object passed down keeps those call sites as they were (docs/decisions.md, "Store split").
"""

from __future__ import annotations

from sqlalchemy import Connection

from openturk.store.assignments import AssignmentRepository
from openturk.store.hits import HITRepository
from openturk.store.idempotency import RequestTokenRepository
from openturk.store.requesters import RequesterRepository
from openturk.store.timers import TimerRepository
from openturk.store.worker_identities import WorkerIdentityRepository


class Repository(
    RequesterRepository,
    WorkerIdentityRepository,
    HITRepository,
    AssignmentRepository,
    RequestTokenRepository,
    TimerRepository,
):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
