"""The ledger's gates one at a time: the escrow figure, refusals that write nothing, the journal."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from openturk import ledger
from openturk.domain.model import HIT, HITType, SlotCounts
from openturk.errors import InsufficientFunds
from openturk.requester import account
from openturk.store.database import Database
from openturk.store.repository import Repository
from tests.unit.domain.test_lifecycle import NOW, make_hit


def _hit(**changes: object) -> HIT:
    return make_hit(max_assignments=3).evolve(**changes)


def _type(reward_cents: int) -> HITType:
    return HITType("1T", "AC", "t", "d", None, reward_cents, 60, 60)


def test_open_slots_of_a_live_hit_cost_reward_plus_fee() -> None:
    assert ledger.escrow_cents(_hit(), _type(100), SlotCounts(), []) == 3 * 120


def test_processed_expiry_closed_or_disposed_hits_hold_nothing_for_open_slots() -> None:
    for hit in (_hit(expiry_processed=True), _hit(status="Reviewable"), _hit(status="Disposed")):
        assert ledger.escrow_cents(hit, _type(100), SlotCounts(), []) == 0


def test_submitted_work_keeps_its_price_and_accepted_work_holds_the_dearer() -> None:
    counts = SlotCounts(pending=1, submitted=1)
    unpaid = [("Accepted", 60, 1), ("Submitted", 60, 1)]
    # One open slot and the accepted one at today's $1.20; the submitted one at its own $0.60.
    assert ledger.escrow_cents(_hit(), _type(100), counts, unpaid) == 120 + 120 + 60
    # Cheaper today: each keeps the price it was accepted at.
    assert ledger.escrow_cents(_hit(), _type(10), counts, unpaid) == 12 + 60 + 60
    # After expiry only the work already taken is held.
    assert ledger.escrow_cents(_hit(expiry_processed=True), _type(100), counts, unpaid) == 120 + 60


@pytest.fixture
def repo(migrated_store_url: str) -> Iterator[tuple[Repository, str]]:
    db = Database(migrated_store_url)
    customer_id = account.create_requester(db, "r", NOW, 500)
    try:
        with db.write() as conn:
            yield Repository(conn), customer_id
    finally:
        db.dispose()


def _journal(repo: Repository) -> list[tuple[int, str, str, str]]:
    rows = repo.conn.execute(text("SELECT amount_cents, from_account, to_account, kind FROM ledger ORDER BY entry_id"))
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def test_refused_gates_change_nothing(migrated_store_url: str) -> None:
    # A gate raises InsufficientFunds from the statement that would have taken the money; the
    # caller's transaction rolls back, so a refused operation leaves no journal row and no change.
    db = Database(migrated_store_url)
    try:
        customer_id = account.create_requester(db, "r", NOW, 500)
        hit = _hit(customer_id=customer_id)
        with db.read() as conn:
            before = (_journal(Repository(conn)), ledger.balances(Repository(conn), customer_id))
        with pytest.raises(InsufficientFunds), db.write() as conn:
            ledger.reserve(Repository(conn), hit, 501, "HITCreated", NOW)
        with pytest.raises(InsufficientFunds), db.write() as conn:
            ledger.pay(Repository(conn), hit, "A1", [(400, "bonus"), (101, "bonus_fee")], NOW, source="available")
        with db.read() as conn:
            assert (_journal(Repository(conn)), ledger.balances(Repository(conn), customer_id)) == before
    finally:
        db.dispose()


def test_two_transactions_cannot_both_spend_the_same_cents(migrated_store_url: str) -> None:
    # The check and the change are one statement: a second spender waits for the first's commit
    # (PostgreSQL's row lock, SQLite's writer) and is then checked against what the first left.
    db = Database(migrated_store_url)
    try:
        customer_id = account.create_requester(db, "r", NOW, 500)
        first_reserved, first_may_commit = threading.Event(), threading.Event()
        outcomes: list[str] = []

        def first() -> None:
            with db.write() as conn:
                ledger.reserve(Repository(conn), _hit(customer_id=customer_id, hit_id="H1"), 400, "HITCreated", NOW)
                first_reserved.set()
                first_may_commit.wait(10)
            outcomes.append("first committed")

        def second() -> None:
            try:
                with db.write() as conn:
                    ledger.reserve(Repository(conn), _hit(customer_id=customer_id, hit_id="H2"), 400, "HITCreated", NOW)
                outcomes.append("second committed")
            except InsufficientFunds:
                outcomes.append("second refused")

        first_thread = threading.Thread(target=first)
        first_thread.start()
        assert first_reserved.wait(10)
        second_thread = threading.Thread(target=second)
        second_thread.start()
        second_thread.join(0.3)
        assert second_thread.is_alive()  # waiting for the first to commit, not deciding on stale figures
        first_may_commit.set()
        first_thread.join(10)
        second_thread.join(10)
        assert sorted(outcomes) == ["first committed", "second refused"]  # either may note it first
        with db.read() as conn:
            assert ledger.balances(Repository(conn), customer_id) == ledger.Balances(
                available_cents=100, on_hold_cents=400
            )
    finally:
        db.dispose()


def test_every_movement_is_one_journal_row_between_two_accounts(repo: tuple[Repository, str]) -> None:
    store, customer_id = repo
    hit = _hit(customer_id=customer_id)
    ledger.reserve(store, hit, 300, "HITCreated", NOW)
    ledger.pay(store, hit, "A1", [(100, "reward"), (20, "fee")], NOW, source="held")
    ledger.release(store, hit, 180, "HITExpired", NOW)
    ledger.pay(store, hit, "A1", [(50, "bonus"), (10, "bonus_fee")], NOW, source="available")
    assert _journal(store) == [
        (500, "outside", "available", "starting_balance"),
        (300, "available", "held", "HITCreated"),
        (100, "held", "paid", "reward"),
        (20, "held", "paid", "fee"),
        (180, "held", "available", "HITExpired"),
        (50, "available", "paid", "bonus"),
        (10, "available", "paid", "bonus_fee"),
    ]
    assert ledger.balances(store, customer_id) == ledger.Balances(available_cents=320, on_hold_cents=0)
