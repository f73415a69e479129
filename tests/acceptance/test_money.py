"""Money has one door: every operation that would hold or pay more than is available is refused.

A server whose requesters open with $10.00, so a few small HITs exhaust the balance. Each refusal
must be MTurk's InsufficientFunds and change nothing a client can see; each funded variant must
leave the exact balances.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from openturk.testing import ServerProcess
from tests.conftest import error_code, hit_params, new_worker

INSUFFICIENT = "This Requester has insufficient funds in their account to complete this transaction."


@pytest.fixture(scope="module")
def small_server(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, extra_args=["--starting-balance", "10.00", *aws_args]) as running:
        yield running


@pytest.fixture
def mturk(small_server: ServerProcess) -> Any:
    return small_server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")


def balances(mturk: Any) -> tuple[str, str]:
    balance = mturk.get_account_balance()
    return balance["AvailableBalance"], balance["OnHoldBalance"]


def hit_state(mturk: Any, hit_id: str) -> dict[str, Any]:
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    fields = ("HITTypeId", "Reward", "Expiration", "HITStatus", "NumberOfAssignmentsAvailable", "MaxAssignments")
    return {field: hit[field] for field in fields}


def assert_insufficient(excinfo: pytest.ExceptionInfo[Any]) -> None:
    assert error_code(excinfo) == "AWS.MechanicalTurk.InsufficientFunds"
    # MTurk appends the request time in parentheses.
    assert excinfo.value.response["Error"]["Message"].startswith(INSUFFICIENT)


def dearer_type(mturk: Any, reward: str) -> str:
    params = hit_params(Reward=reward)
    fields = ("Title", "Description", "Reward", "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds")
    return str(mturk.create_hit_type(**{field: params[field] for field in fields})["HITTypeId"])


# -- (a) UpdateHITTypeOfHIT to a dearer type ------------------------------------------------------
def test_retype_to_a_dearer_type_beyond_the_balance_is_refused(mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(Reward="0.01", MaxAssignments=5))["HIT"]
    # 5 slots × ($0.01 + the one-cent minimum fee).
    assert balances(mturk) == ("9.90", "0.10")
    before = hit_state(mturk, hit["HITId"])
    expensive = dearer_type(mturk, "100.00")
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=expensive)
    assert_insufficient(excinfo)
    assert hit_state(mturk, hit["HITId"]) == before
    assert balances(mturk) == ("9.90", "0.10")


def test_retype_to_a_dearer_type_reserves_the_difference(mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(Reward="0.01", MaxAssignments=5))["HIT"]
    dearer = dearer_type(mturk, "1.00")
    mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=dearer)
    # 5 × ($1.00 + 20 %) held; the $0.10 held before is part of it.
    assert balances(mturk) == ("4.00", "6.00")
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["Reward"] == "1.00"
    cheaper = dearer_type(mturk, "0.50")
    mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=cheaper)
    assert balances(mturk) == ("7.00", "3.00")


def test_retype_reserves_for_an_accepted_slot_that_may_reopen(small_server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=2))["HIT"]
    worker = new_worker(small_server)
    accepted = worker.accept(hit["HITId"])
    accepted.raise_for_status()
    mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=dearer_type(mturk, "2.00"))
    # Both slots at the dearer price: the accepted one reopens at it if the worker returns it.
    assert balances(mturk) == ("5.20", "4.80")
    worker.return_(accepted.json()["AssignmentId"]).raise_for_status()
    assert balances(mturk) == ("5.20", "4.80")


def test_retype_to_a_cheaper_type_keeps_submitted_work_held_at_its_price(
    small_server: ServerProcess, mturk: Any
) -> None:
    hit = mturk.create_hit(**hit_params(Reward="4.00"))["HIT"]
    assignment_id = new_worker(small_server).do(hit["HITId"])
    mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=dearer_type(mturk, "0.01"))
    # The submitted assignment keeps its $4.00 reward (spec: accepted work keeps its Reward), so
    # its $4.80 stays held rather than becoming spendable before it is paid.
    assert balances(mturk) == ("5.20", "4.80")
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit(**hit_params(Reward="5.00"))
    assert_insufficient(excinfo)
    mturk.approve_assignment(AssignmentId=assignment_id)
    assert balances(mturk) == ("5.20", "0.00")


# -- (b) UpdateExpirationForHIT re-opening an expired HIT -----------------------------------------
def test_reopening_an_expired_hit_whose_escrow_was_spent_is_refused(mturk: Any) -> None:
    first = mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=5))["HIT"]
    mturk.update_expiration_for_hit(HITId=first["HITId"], ExpireAt=0)
    assert balances(mturk) == ("10.00", "0.00")
    mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=5))
    assert balances(mturk) == ("4.00", "6.00")
    before = hit_state(mturk, first["HITId"])
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.update_expiration_for_hit(HITId=first["HITId"], ExpireAt=before["Expiration"].timestamp() + 3600)
    assert_insufficient(excinfo)
    assert hit_state(mturk, first["HITId"]) == before
    assert balances(mturk) == ("4.00", "6.00")


def test_reopening_an_expired_hit_reserves_its_slots_again(mturk: Any) -> None:
    first = mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=3))["HIT"]
    mturk.update_expiration_for_hit(HITId=first["HITId"], ExpireAt=0)
    mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=5))
    expired = hit_state(mturk, first["HITId"])
    mturk.update_expiration_for_hit(HITId=first["HITId"], ExpireAt=expired["Expiration"].timestamp() + 3600)
    assert balances(mturk) == ("0.40", "9.60")
    assert hit_state(mturk, first["HITId"])["HITStatus"] == "Assignable"


# -- (c) ApproveAssignment with OverrideRejection -------------------------------------------------
def test_overriding_a_rejection_beyond_the_balance_is_refused(small_server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(Reward="4.00"))["HIT"]
    assignment_id = new_worker(small_server).do(hit["HITId"])
    mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="Not what was asked")
    assert balances(mturk) == ("10.00", "0.00")
    mturk.create_hit(**hit_params(Reward="4.00", MaxAssignments=2))
    assert balances(mturk) == ("0.40", "9.60")
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.approve_assignment(AssignmentId=assignment_id, OverrideRejection=True)
    assert_insufficient(excinfo)
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert (assignment["AssignmentStatus"], assignment["RequesterFeedback"]) == ("Rejected", "Not what was asked")
    assert balances(mturk) == ("0.40", "9.60")


def test_overriding_a_rejection_pays_from_the_available_balance(small_server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(Reward="4.00"))["HIT"]
    assignment_id = new_worker(small_server).do(hit["HITId"])
    mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="Not what was asked")
    mturk.approve_assignment(AssignmentId=assignment_id, OverrideRejection=True)
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"
    assert balances(mturk) == ("5.20", "0.00")


def test_a_worker_action_the_escrow_cannot_cover_is_a_4xx_and_changes_nothing(
    small_server: ServerProcess, mturk: Any
) -> None:
    """Escrow can only fall short through data an older version wrote (migration 0007 restates it);
    should it still happen, the worker's submit is refused with a 4xx JSON error naming the cause,
    never a 500, and the assignment stays Accepted."""
    hit = mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=2))["HIT"]
    worker = new_worker(small_server)
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    small_server.sql("UPDATE hits SET held_cents = held_cents - 200 WHERE hit_id = :hit_id", hit_id=hit["HITId"])
    small_server.sql(
        "UPDATE requesters SET on_hold_cents = on_hold_cents - 200, balance_cents = on_hold_cents - 200 "
        "WHERE customer_id = (SELECT customer_id FROM hits WHERE hit_id = :hit_id)",
        hit_id=hit["HITId"],
    )
    answer = worker.submit(assignment_id, {"answer": "cat"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["Error"] == "InsufficientFunds"
    status = small_server.sql("SELECT status FROM assignments WHERE assignment_id = :id", id=assignment_id)
    assert status == [("Accepted",)]
