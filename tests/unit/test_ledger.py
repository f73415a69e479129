"""The ledger's invariants over random sequences of every operation that moves money.

A hypothesis state machine drives the requester operations, worker actions and timers in-process
on a temporary SQLite file, with a balance small enough that refusals are common, and after every
step recomputes from the rows alone (never from ``openturk.ledger``):

- Available ≥ 0;
- each HIT's held escrow, and their sum OnHold, is the most its unpaid slots may still cost;
- starting balance = Available + OnHold + everything paid (rewards, fees, bonuses, bonus fees);
- the journal's rows add up to the same three accounts and the same escrow per HIT.

A refused operation must leave every row as it was (a digest of the whole database).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from openturk import timers
from openturk.errors import RequestError, WorkerError
from openturk.requester import account, assignments, hits
from openturk.requester.context import Context
from openturk.settings import Settings
from openturk.store import schema
from openturk.store.database import Database, libpq_conninfo
from openturk.testing import POSTGRES_ENV, create_scratch_database
from openturk.workers import actions
from tests.conftest import hit_params
from tests.support import stores

STARTING_CENTS = 2_000
WORKERS = [f"AWORKER{n}" for n in range(4)]
REWARDS = st.sampled_from(["0.01", "0.25", "1.00", "2.50", "4.00"])
TABLES = ("requesters", "ledger", "hit_types", "hits", "assignments", "bonus_payments", "events", "request_tokens")
# A fixed start, so a run does not depend on the wall clock.
EPOCH_MS = 1_800_000_000_000
# Fewer on PostgreSQL: each check is a round trip there, and the sequences (plain Python) are the
# SQLite pass's to explore; the PostgreSQL pass checks the same sums on the other store's arithmetic.
MAX_EXAMPLES = int(os.environ.get("LEDGER_EXAMPLES", "100" if stores.on_postgres() else "500"))


class ManualClock:
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


_template: Path | None = None
_postgres_url: str | None = None


def _migrated_template() -> Path:
    """One migrated database file, copied for each example (migrating is most of a setup's time)."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="openturk-ledger-", dir=_scratch()))
        _template = folder / "template.db"
        db = Database(f"sqlite:///{_template}")
        db.migrate()
        db.dispose()
    return _template


def _postgres_database() -> str:
    """On PostgreSQL: one migrated database for every example, emptied by each (creating one per example
    would dominate the run)."""
    global _postgres_url
    if _postgres_url is None:
        url = create_scratch_database(os.environ[POSTGRES_ENV])
        db = Database(url)
        db.migrate()
        db.dispose()
        _postgres_url = url
    return _postgres_url


class _Rows:
    """The checks' own plain DB-API connection (cheaper, and independent of the store), ``?`` placeholders."""

    def __init__(self, url: str) -> None:
        self._postgres = not url.startswith("sqlite")
        if self._postgres:
            self._conn: Any = psycopg.connect(libpq_conninfo(url))
            self._conn.autocommit = True
        else:
            self._conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)

    def execute(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        return self._conn.execute(query.replace("?", "%s") if self._postgres else query, params)

    def close(self) -> None:
        self._conn.close()


def _scratch() -> str | None:
    # tmpfs when there is one: the machine runs thousands of small commits.
    return "/dev/shm" if os.path.isdir("/dev/shm") else None


def _fee(reward: int, max_assignments: int) -> int:
    """MTurk's 2015 schedule, restated here so the check does not trust the code it checks."""
    rate = 40 if max_assignments >= 10 else 20
    return max(1, (2 * reward * rate + 100) // 200)  # rounded half up


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="openturk-ledger-", dir=_scratch())
        if stores.on_postgres():
            self.url = _postgres_database()
            self.rows = _Rows(self.url)
            tables = ", ".join(f'"{table.name}"' for table in schema.metadata.sorted_tables)
            self.rows.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        else:
            path = Path(self.folder) / "store.db"
            shutil.copyfile(_migrated_template(), path)
            self.url = f"sqlite:///{path}"
            self.rows = _Rows(self.url)
        self.db = Database(self.url)
        self.clock = ManualClock(EPOCH_MS)
        customer_id = account.create_requester(self.db, "ledger", EPOCH_MS, STARTING_CENTS)
        self.ctx = Context(self.db, self.clock, Settings(), customer_id, "ledger-test")
        self.hit_ids: list[str] = []
        self.hit_type_ids: list[str] = []
        self.assignment_ids: list[str] = []

    def teardown(self) -> None:
        self.rows.close()
        self.db.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------------------
    def _digest(self) -> str:
        digest = hashlib.sha256()
        for table in TABLES:
            digest.update(repr(self.rows.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()).encode())
        return digest.hexdigest()

    def _requester(self, operation: Any, params: dict[str, Any]) -> dict[str, Any] | None:
        """Run a requester operation; if it is refused, nothing may have changed."""
        before = self._digest()
        try:
            result: dict[str, Any] = operation(self.ctx, params)
        except RequestError as error:
            event(f"refused: {type(error).__name__}")
            assert self._digest() == before, f"{type(error).__name__} changed rows"
            return None
        event(f"done: {operation.__name__}")
        return result

    def _worker(self, action: Any, *args: Any) -> Any:
        before = self._digest()
        try:
            result = action(self.db, self.clock, *args)
        except WorkerError as error:
            event(f"worker refused: {error.code}")
            assert self._digest() == before
            return None
        event(f"worker done: {action.__name__}")
        return result

    def _worker_of(self, assignment_id: str) -> str:
        query = "SELECT worker_id FROM assignments WHERE assignment_id = ?"
        return str(self.rows.execute(query, (assignment_id,)).fetchone()[0])

    def _pick(self, items: list[str], index: int) -> str:
        return items[index % len(items)]

    def _pick_assignment(self, index: int, *statuses: str) -> str:
        """Mostly an assignment in one of ``statuses`` (so the operation can happen), else any."""
        marks = ",".join("?" * len(statuses))
        query = f"SELECT assignment_id FROM assignments WHERE status IN ({marks}) ORDER BY accept_time, assignment_id"
        fitting = [row[0] for row in self.rows.execute(query, statuses)]
        return self._pick(fitting if fitting and index % 8 else self.assignment_ids, index)

    # -- requester operations ---------------------------------------------------------------------
    @rule(
        reward=REWARDS,
        slots=st.sampled_from([1, 2, 3, 10]),
        lifetime=st.sampled_from([60, 600, 3600]),
        approval=st.sampled_from([0, 60, 3600]),
    )
    def create_hit(self, reward: str, slots: int, lifetime: int, approval: int) -> None:
        params = hit_params(
            Reward=reward,
            MaxAssignments=slots,
            LifetimeInSeconds=lifetime,
            AutoApprovalDelayInSeconds=approval,
            AssignmentDurationInSeconds=120,
        )
        created = self._requester(hits.create_hit, params)
        if created is None:
            return
        self.hit_ids.append(created["HIT"]["HITId"])
        self.hit_type_ids.append(created["HIT"]["HITTypeId"])

    @rule(reward=REWARDS)
    def create_hit_type(self, reward: str) -> None:
        params = hit_params(Reward=reward, AssignmentDurationInSeconds=120, AutoApprovalDelayInSeconds=60)
        fields = ("Title", "Description", "Reward", "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds")
        created = hits.create_hit_type(self.ctx, {field: params[field] for field in fields})
        self.hit_type_ids.append(created["HITTypeId"])

    @precondition(lambda self: self.hit_type_ids)
    @rule(index=st.integers(0, 50), slots=st.sampled_from([1, 2, 12]), lifetime=st.sampled_from([60, 3600]))
    def create_hit_with_hit_type(self, index: int, slots: int, lifetime: int) -> None:
        params = {
            "HITTypeId": self._pick(self.hit_type_ids, index),
            "MaxAssignments": slots,
            "LifetimeInSeconds": lifetime,
            "Question": hit_params()["Question"],
        }
        created = self._requester(hits.create_hit_with_hit_type, params)
        if created is not None:
            self.hit_ids.append(created["HIT"]["HITId"])

    @precondition(lambda self: self.hit_ids)
    @rule(index=st.integers(0, 50), number=st.integers(1, 3))
    def create_additional_assignments(self, index: int, number: int) -> None:
        params = {"HITId": self._pick(self.hit_ids, index), "NumberOfAdditionalAssignments": number}
        self._requester(hits.create_additional_assignments_for_hit, params)

    @precondition(lambda self: self.hit_ids)
    @rule(index=st.integers(0, 50), seconds=st.sampled_from([0, 30, 600, 7200]))
    def update_expiration(self, index: int, seconds: int) -> None:
        """0 expires now; otherwise a new expiry that far ahead: extends, or re-opens an expired HIT."""
        expire_at = 0 if seconds == 0 else self.clock.now + seconds * 1000
        self._requester(
            hits.update_expiration_for_hit, {"HITId": self._pick(self.hit_ids, index), "ExpireAt": expire_at}
        )

    @precondition(lambda self: self.hit_ids and self.hit_type_ids)
    @rule(index=st.integers(0, 50), type_index=st.integers(0, 50))
    def update_hit_type_of_hit(self, index: int, type_index: int) -> None:
        params = {"HITId": self._pick(self.hit_ids, index), "HITTypeId": self._pick(self.hit_type_ids, type_index)}
        self._requester(hits.update_hit_type_of_hit, params)

    @precondition(lambda self: self.assignment_ids)
    @rule(index=st.integers(0, 50), override=st.booleans())
    def approve(self, index: int, override: bool) -> None:
        wanted = ("Rejected", "Submitted") if override else ("Submitted",)
        assignment_id = self._pick_assignment(index, *wanted)
        was = self.rows.execute("SELECT status FROM assignments WHERE assignment_id = ?", (assignment_id,)).fetchone()
        params = {"AssignmentId": assignment_id, "OverrideRejection": override}
        if self._requester(assignments.approve_assignment, params) is not None:
            event(f"approved: {was[0]}")

    @precondition(lambda self: self.assignment_ids)
    @rule(index=st.integers(0, 50))
    def reject_then_override(self, index: int) -> None:
        """The requester rejects submitted work and then pays it after all (from the available balance)."""
        assignment_id = self._pick_assignment(index, "Submitted")
        self._requester(assignments.reject_assignment, {"AssignmentId": assignment_id, "RequesterFeedback": "no"})
        params = {"AssignmentId": assignment_id, "OverrideRejection": True}
        if self._requester(assignments.approve_assignment, params) is not None:
            event("approved: overridden rejection")

    @precondition(lambda self: self.assignment_ids)
    @rule(index=st.integers(0, 50))
    def reject(self, index: int) -> None:
        params = {"AssignmentId": self._pick_assignment(index, "Submitted"), "RequesterFeedback": "no"}
        self._requester(assignments.reject_assignment, params)

    @precondition(lambda self: self.assignment_ids)
    @rule(index=st.integers(0, 50), amount=st.sampled_from(["0.01", "1.00", "3.00"]))
    def send_bonus(self, index: int, amount: str) -> None:
        assignment_id = self._pick_assignment(index, "Submitted", "Approved", "Rejected")
        worker_id = self._worker_of(assignment_id)
        params = {"AssignmentId": assignment_id, "WorkerId": worker_id, "BonusAmount": amount, "Reason": "thanks"}
        self._requester(account.send_bonus, params)

    @precondition(lambda self: self.hit_ids)
    @rule(index=st.integers(0, 50))
    def delete_hit(self, index: int) -> None:
        self._requester(hits.delete_hit, {"HITId": self._pick(self.hit_ids, index)})

    # -- workers and time -------------------------------------------------------------------------
    def _pick_hit(self, index: int) -> str:
        """Mostly a HIT a worker may take, else any."""
        query = "SELECT hit_id FROM hits WHERE status = 'Assignable' AND expiration > ? ORDER BY creation_time, hit_id"
        fitting = [row[0] for row in self.rows.execute(query, (self.clock.now,))]
        return self._pick(fitting if fitting and index % 8 else self.hit_ids, index)

    @precondition(lambda self: self.hit_ids)
    @rule(index=st.integers(0, 50), worker=st.sampled_from(WORKERS))
    def accept(self, index: int, worker: str) -> None:
        accepted = self._worker(actions.accept, worker, self._pick_hit(index))
        if accepted is not None:
            self.assignment_ids.append(accepted.assignment_id)

    @precondition(lambda self: self.hit_ids)
    @rule(index=st.integers(0, 50), worker=st.sampled_from(WORKERS))
    def accept_and_submit(self, index: int, worker: str) -> None:
        """A worker does the whole task in one step, so that sequences reach review and payment."""
        accepted = self._worker(actions.accept, worker, self._pick_hit(index))
        if accepted is not None:
            self.assignment_ids.append(accepted.assignment_id)
            self._worker(actions.submit, worker, accepted.assignment_id, [("answer", "yes")])

    @precondition(lambda self: self.assignment_ids)
    @rule(index=st.integers(0, 50))
    def submit(self, index: int) -> None:
        self._worker(actions.submit, None, self._pick_assignment(index, "Accepted"), [("answer", "yes")])

    @precondition(lambda self: self.assignment_ids)
    @rule(index=st.integers(0, 50))
    def return_assignment(self, index: int) -> None:
        assignment_id = self._pick_assignment(index, "Accepted")
        worker_id = self._worker_of(assignment_id)
        self._worker(actions.return_assignment, worker_id, assignment_id)

    @rule(seconds=st.sampled_from([10, 61, 130, 700, 3700, 90_000, 121 * 86_400]))
    def advance_clock(self, seconds: int) -> None:
        """Time passes and every due timer fires: expiry, abandonment, auto-approval, disposal."""
        self.clock.now += seconds * 1000
        if timers.fire_due(self.db, self.clock.now):
            event("timers fired")

    # -- the invariants ---------------------------------------------------------------------------
    @invariant()
    def money_adds_up(self) -> None:
        unpaid, on_hold = self.rows.execute("SELECT balance_cents, on_hold_cents FROM requesters").fetchone()
        available = unpaid - on_hold
        assert available >= 0
        held = dict(self.rows.execute("SELECT hit_id, held_cents FROM hits").fetchall())
        assert held == self._escrow_from_rows()
        assert on_hold == sum(held.values())
        query = "SELECT COALESCE(SUM(reward_cents + fee_cents), 0) FROM assignments WHERE status = 'Approved'"
        paid = self.rows.execute(query).fetchone()[0]
        for (amount,) in self.rows.execute("SELECT amount_cents FROM bonus_payments"):
            paid += amount + max(1, -(-amount * 20 // 100))
        assert available + on_hold + paid == STARTING_CENTS
        self._journal_agrees(available, on_hold, paid, held)

    def _escrow_from_rows(self) -> dict[str, int]:
        """The most each HIT's unpaid slots may still cost, from hits, types and assignments alone."""
        hits_rows = self.rows.execute(
            "SELECT h.hit_id, h.status, h.max_assignments, h.expiry_processed, t.reward_cents "
            "FROM hits h JOIN hit_types t ON t.hit_type_id = h.hit_type_id"
        ).fetchall()
        slots: dict[str, list[tuple[str, int]]] = {hit_id: [] for hit_id, *_ in hits_rows}
        for hit_id, status, price in self.rows.execute(
            "SELECT hit_id, status, reward_cents + fee_cents FROM assignments"
        ):
            slots[hit_id].append((status, price))
        escrow: dict[str, int] = {}
        for hit_id, status, max_assignments, expiry_processed, reward in hits_rows:
            unit = reward + _fee(reward, max_assignments)
            used = sum(1 for slot_status, _ in slots[hit_id] if slot_status not in ("Returned", "Abandoned"))
            # Open slots are held while workers may still take them: the HIT is open and its
            # expiry has not been processed (the expiry timer releases them).
            live = status in ("Assignable", "Unassignable") and not expiry_processed
            total = max(0, max_assignments - used) * unit if live else 0
            for slot_status, price in slots[hit_id]:
                if slot_status == "Submitted":
                    total += price
                elif slot_status == "Accepted":
                    # A return reopens the slot at today's price, so the dearer of the two is held.
                    total += max(price, unit)
            escrow[hit_id] = total
        return escrow

    def _journal_agrees(self, available: int, on_hold: int, paid: int, held: dict[str, int]) -> None:
        accounts = {"outside": 0, "available": 0, "held": 0, "paid": 0}
        by_hit: dict[str, int] = {}
        for amount, source, target, hit_id in self.rows.execute(
            "SELECT amount_cents, from_account, to_account, hit_id FROM ledger"
        ):
            assert amount > 0
            accounts[source] -= amount
            accounts[target] += amount
            if "held" in (source, target):
                by_hit[hit_id] = by_hit.get(hit_id, 0) + (amount if target == "held" else -amount)
        assert accounts == {"outside": -STARTING_CENTS, "available": available, "held": on_hold, "paid": paid}
        assert {hit_id: cents for hit_id, cents in by_hit.items() if cents} == {
            hit_id: cents for hit_id, cents in held.items() if cents
        }


LedgerMachine.TestCase.settings = settings(
    max_examples=MAX_EXAMPLES,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_ledger_invariants = LedgerMachine.TestCase


@pytest.fixture(autouse=True, scope="module")
def _remove_template() -> Iterator[None]:
    yield
    if _template is not None:
        shutil.rmtree(_template.parent, ignore_errors=True)
    if _postgres_url is not None:
        stores.release_scratch_database(_postgres_url)
