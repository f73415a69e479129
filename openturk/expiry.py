"""A HIT's lifetime end, applied exactly once by whichever gets there first: its timer or any transition.

The timer pass runs some time after an expiration (it polls, a virtual clock jumps, a failing timer
is retried later), and a worker or requester may act on the HIT in between. So every transition
locks its HIT through ``locked_hit`` or ``locked_assignment``, which first apply a lifetime end
that has passed unprocessed: HITExpired (if the HIT was still open) and the settle it implies,
recorded at the expiration time in the caller's transaction. The action then runs on the expired
HIT, and the timer finds nothing left to do. If the action is refused, its transaction rolls the
catch-up back too and the timer applies it later: either way the end is processed once.

An assignment's auto-approval is the same kind of deadline: ``locked_assignment`` (and the
requester's operations through ``catch_up_assignment``) apply a passed AutoApprovalTime first, so
between that time and the timer's pass a RejectAssignment finds the assignment already Approved,
as on MTurk, instead of taking back a payment that was due.
"""

from __future__ import annotations

from openturk import transitions
from openturk.domain import lifecycle
from openturk.domain.model import HIT, Assignment
from openturk.store.repository import Repository


def catch_up(repo: Repository, hit: HIT, now: int) -> HIT:
    """``hit`` (locked by the caller) with a lifetime end that passed by ``now`` applied and recorded.

    Returns ``hit`` unchanged when its expiry is not due or was already processed.
    """
    if not lifecycle.expiry_due(hit, now):
        return hit
    counts = repo.slot_count(hit.hit_id)
    expired, events = lifecycle.expire(hit, counts, hit.expiration)
    transitions.record(repo, expired, counts, events, hit.expiration)
    return expired


def locked_hit(repo: Repository, hit_id: str, now: int) -> HIT | None:
    """The HIT locked for a transition at ``now``, its passed expiry applied; None if it does not exist."""
    hit = repo.hit(hit_id, for_update=True)
    return None if hit is None else catch_up(repo, hit, now)


def locked_assignment(repo: Repository, assignment_id: str, now: int) -> tuple[Assignment, HIT] | None:
    """An assignment and its HIT locked for a transition at ``now`` (HIT first), the HIT's passed
    expiry and the assignment's passed auto-approval applied; None if the assignment does not exist."""
    found = repo.assignment_with_hit(assignment_id, for_update=True)
    if found is None:
        return None
    return catch_up_assignment(repo, *found, now)


def catch_up_assignment(repo: Repository, assignment: Assignment, hit: HIT, now: int) -> tuple[Assignment, HIT]:
    """``assignment`` and its ``hit`` (both locked by the caller) with what passed by ``now`` applied
    and recorded at its own time, earliest first: the HIT's expiry and the assignment's auto-approval."""
    approve_at = assignment.auto_approval_time
    if assignment.status != "Submitted" or approve_at is None or approve_at > now:
        return assignment, catch_up(repo, hit, now)
    hit = catch_up(repo, hit, approve_at)  # an expiry before the approval comes first
    transitions.approve(repo, hit, assignment, None, approve_at)
    found = repo.assignment_with_hit(assignment.assignment_id, for_update=True)
    assert found is not None
    approved, hit = found
    return approved, catch_up(repo, hit, now)
