"""The one door for money: every change of what a requester holds or pays goes through here.

A requester's money sits in three accounts: ``available`` (may be spent), ``held`` (escrow for
slots that may still be paid, kept per HIT in ``hits.held_cents``) and ``paid`` (gone to workers
and fees); ``outside`` is where credits come from. Each movement writes one ``ledger`` row (amount,
from, to, why, reference) and keeps the running totals in step, in the caller's transaction.

Every gate that takes money from ``available`` checks it in the statement that takes it (one
conditional UPDATE of the requester's totals) and raises ``InsufficientFunds`` when it does not
cover the amount; the caller's transaction (or savepoint) then rolls back, so a refused operation
changes nothing. That UPDATE is the gate's last statement: on PostgreSQL it locks the requester's
row until the commit, and every other CreateHIT of that requester queues behind the lock, so the
fewer statements after it the more of them go through per second. Nothing else may call
``Repository.change_balances`` or write ``hits.held_cents``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from openturk.domain import lifecycle, money, qualifications
from openturk.domain.model import HIT, Assignment, HITType, SlotCounts
from openturk.errors import InsufficientFunds
from openturk.store.repository import Repository

Account = Literal["outside", "available", "held", "paid"]
INSUFFICIENT = "This Requester has insufficient funds in their account to complete this transaction."
# More than any balance can hold (the columns are 64-bit): refused before anything is written.
MOST_CENTS = 2**62


@dataclass(frozen=True)
class Balances:
    available_cents: int
    on_hold_cents: int


def balances(repo: Repository, customer_id: str) -> Balances:
    """What the requester may spend and what is held, as GetAccountBalance reports them."""
    unpaid, on_hold = repo.balances(customer_id)
    return Balances(available_cents=unpaid - on_hold, on_hold_cents=on_hold)


def _move(
    repo: Repository,
    customer_id: str,
    cents: int,
    source: Account,
    target: Account,
    kind: str,
    reference: str | None,
    hit_id: str | None,
    now: int,
    *,
    checked: bool = False,
) -> None:
    """One journal row and the totals it changes; with ``checked`` (source ``available``) only if
    the available balance covers ``cents``, else ``InsufficientFunds`` (the caller rolls back)."""
    if checked and cents > MOST_CENTS:
        # No balance covers it, and its journal row would not fit the store's 64-bit column (a 500).
        raise InsufficientFunds(INSUFFICIENT)
    unpaid = int(source == "outside") - int(target == "paid")
    on_hold = int(target == "held") - int(source == "held")
    repo.insert_ledger_entry(customer_id, cents, source, target, kind, reference, hit_id, now)
    if on_hold and hit_id is not None:
        repo.change_held_cents(hit_id, on_hold * cents)
    if not checked:
        repo.change_balances(customer_id, balance=unpaid * cents, on_hold=on_hold * cents)
    elif not repo.change_balances_if_available(customer_id, cents, balance=unpaid * cents, on_hold=on_hold * cents):
        raise InsufficientFunds(INSUFFICIENT)


def credit(repo: Repository, customer_id: str, cents: int, kind: str, now: int) -> None:
    """Money from outside (the starting balance) becomes available."""
    if cents > 0:
        _move(repo, customer_id, cents, "outside", "available", kind, None, None, now)


def reserve(repo: Repository, hit: HIT, cents: int, kind: str, now: int) -> None:
    """Hold ``cents`` more for ``hit``; raises ``InsufficientFunds`` if they are not available."""
    if cents > 0:
        _move(repo, hit.customer_id, cents, "available", "held", kind, hit.hit_id, hit.hit_id, now, checked=True)


def release(repo: Repository, hit: HIT, cents: int, kind: str, now: int) -> None:
    """Hand ``cents`` of ``hit``'s escrow back to the available balance."""
    if cents > 0:
        _move(repo, hit.customer_id, cents, "held", "available", kind, hit.hit_id, hit.hit_id, now)


def restate_escrow(repo: Repository, hit: HIT, now: int) -> int:
    """Set ``hit``'s escrow to what ``escrow_cents`` says, moving the difference unchecked; return
    the cents moved into escrow (negative when released).

    Only for upgrading rows written before this ledger (migration 0007). Earlier versions held by
    another rule (a retype to a cheaper type lowered the hold of accepted and submitted work), so
    an old HIT may hold less than its slots may still cost. Left so, the next transition of that
    HIT (a worker's submit, an auto-approval) would have to reserve the difference and could be
    refused; instead the difference is moved once, at upgrade, even if the available balance then
    goes below zero: that is the debt the earlier rule hid, and new holds are refused until it is
    covered.
    """
    if hit.status == "Disposed":
        return 0
    hit_type = repo.hit_type(hit.hit_type_id)
    assert hit_type is not None
    needed = escrow_cents(hit, hit_type, repo.slot_count(hit.hit_id), repo.unpaid_assignments(hit.hit_id))
    difference = needed - repo.held_cents(hit.hit_id)
    if difference > 0:
        _move(repo, hit.customer_id, difference, "available", "held", "escrow_restated", hit.hit_id, hit.hit_id, now)
    elif difference < 0:
        _move(repo, hit.customer_id, -difference, "held", "available", "escrow_restated", hit.hit_id, hit.hit_id, now)
    return difference


def pay(
    repo: Repository,
    hit: HIT,
    reference: str,
    parts: Sequence[tuple[int, str]],
    now: int,
    *,
    source: Literal["held", "available"],
) -> None:
    """Pay every (cents, why) part for ``reference`` (an assignment) of ``hit``: out of the HIT's
    escrow, or out of the available balance if it covers all of them (``InsufficientFunds`` when it
    does not: each part is checked against what the parts before it left)."""
    for cents, kind in parts:
        if cents > 0:
            _move(
                repo,
                hit.customer_id,
                cents,
                source,
                "paid",
                kind,
                reference,
                hit.hit_id,
                now,
                checked=source == "available",
            )


def pay_assignment(repo: Repository, hit: HIT, assignment: Assignment, now: int) -> None:
    """Pay an assignment's reward and fee, given the assignment as it was before approval.

    A Submitted assignment is paid from the escrow its slot holds; an overridden rejection held
    nothing any more, so it is paid from the available balance if that covers it.
    """
    parts = [(assignment.reward_cents, "reward"), (assignment.fee_cents, "fee")]
    source: Literal["held", "available"] = "held" if assignment.status == "Submitted" else "available"
    pay(repo, hit, assignment.assignment_id, parts, now, source=source)


def send_bonus(repo: Repository, hit: HIT, assignment_id: str, amount_cents: int, now: int) -> None:
    """Pay a bonus and its fee from the available balance."""
    parts = [(amount_cents, "bonus"), (money.bonus_fee(amount_cents), "bonus_fee")]
    pay(repo, hit, assignment_id, parts, now, source="available")


def assignment_fee(hit_type: HITType, hit: HIT) -> int:
    """MTurk's fee on an assignment of ``hit`` at ``hit_type``'s reward (which may be a new type's)."""
    masters = qualifications.uses_masters(hit_type.qualification_requirements)
    return money.assignment_fee(hit_type.reward_cents, hit.max_assignments, masters)


def escrow_cents(hit: HIT, hit_type: HITType, counts: SlotCounts, unpaid: list[tuple[str, int, int]]) -> int:
    """The most ``hit``'s slots may still cost, which is what must be held for it.

    An open slot of a live HIT (not yet expired by the timer, nor closed) costs its type's reward
    plus fee. A submitted assignment costs what it was accepted at. An accepted one costs that,
    or the current price if dearer, because a return or abandonment reopens it at that price.
    ``unpaid`` is ``Repository.unpaid_assignments``: (status, reward + fee, number).
    """
    unit = hit_type.reward_cents + assignment_fee(hit_type, hit)
    live = hit.status in lifecycle.OPEN and not hit.expiry_processed
    total = counts.available(hit.max_assignments) * unit if live else 0
    for status, price, number in unpaid:
        total += number * (max(price, unit) if status == "Accepted" else price)
    return total


def hold_for(repo: Repository, hit: HIT, counts: SlotCounts, hit_type: HITType, kind: str, now: int) -> None:
    """Move ``hit``'s escrow to what its slots need now: reserve the difference (refused with
    ``InsufficientFunds`` when it is not available) or release it.

    ``hit`` must already be saved; ``kind`` says why (the transition) in the journal.
    """
    needed = escrow_cents(hit, hit_type, counts, repo.unpaid_assignments(hit.hit_id))
    difference = needed - repo.held_cents(hit.hit_id)
    if difference > 0:
        reserve(repo, hit, difference, kind, now)
    elif difference < 0:
        release(repo, hit, -difference, kind, now)
