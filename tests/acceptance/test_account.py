"""The balance ledger, escrow, bonuses and fees."""

from __future__ import annotations

from typing import Any

import pytest

from openturk.testing import ServerProcess, Worker
from tests.conftest import error_code, hit_params


def test_balance_holds_escrow_and_debits_approvals(mturk: Any, worker: Worker) -> None:
    assert mturk.get_account_balance() | {"ResponseMetadata": None} == {
        "AvailableBalance": "10000.00",
        "OnHoldBalance": "0.00",
        "ResponseMetadata": None,
    }
    hit = mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=2))["HIT"]
    # 2 slots × ($1.00 reward + 20 % fee) are held.
    assert mturk.get_account_balance()["OnHoldBalance"] == "2.40"
    assert mturk.get_account_balance()["AvailableBalance"] == "9997.60"
    assignment_id = worker.do(hit["HITId"])
    mturk.approve_assignment(AssignmentId=assignment_id)
    balance = mturk.get_account_balance()
    assert (balance["AvailableBalance"], balance["OnHoldBalance"]) == ("9997.60", "1.20")
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    assert mturk.get_account_balance()["OnHoldBalance"] == "0.00"
    assert mturk.get_account_balance()["AvailableBalance"] == "9998.80"


def test_large_hits_pay_the_higher_fee(mturk: Any) -> None:
    mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=10))
    assert mturk.get_account_balance()["OnHoldBalance"] == "14.00"


def test_insufficient_funds_changes_nothing(mturk: Any) -> None:
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit(**hit_params(Reward="5000.00", MaxAssignments=2))
    assert error_code(excinfo) == "AWS.MechanicalTurk.InsufficientFunds"
    assert mturk.list_hits()["HITs"] == []
    assert mturk.get_account_balance()["AvailableBalance"] == "10000.00"


def test_send_bonus_and_list_bonus_payments(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    assignment_id = worker.do(hit["HITId"])
    mturk.send_bonus(
        WorkerId=worker.worker_id,
        BonusAmount="2.5",
        AssignmentId=assignment_id,
        Reason="Great work",
        UniqueRequestToken="bonus-1",
    )
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.send_bonus(
            WorkerId=worker.worker_id,
            BonusAmount="2.5",
            AssignmentId=assignment_id,
            Reason="Great work",
            UniqueRequestToken="bonus-1",
        )
    assert error_code(excinfo) == "AWS.MechanicalTurk.DuplicateRequest"
    mturk.send_bonus(WorkerId=worker.worker_id, BonusAmount="1", AssignmentId=assignment_id, Reason="More")
    by_hit = mturk.list_bonus_payments(HITId=hit["HITId"])
    assert [(b["BonusAmount"], b["Reason"], b["WorkerId"]) for b in by_hit["BonusPayments"]] == [
        ("2.50", "Great work", worker.worker_id),
        ("1.00", "More", worker.worker_id),
    ]
    page = mturk.list_bonus_payments(AssignmentId=assignment_id, MaxResults=1)
    assert page["NumResults"] == 1 and page["NextToken"]
    # $3.50 of bonuses plus a 20 % fee ($0.50 + $0.20) left the balance; $0.60 is still held.
    assert mturk.get_account_balance()["AvailableBalance"] == "9995.20"
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.list_bonus_payments()
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.list_bonus_payments(HITId=hit["HITId"], AssignmentId=assignment_id)
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.send_bonus(WorkerId="AOTHERWORKER01", BonusAmount="1", AssignmentId=assignment_id, Reason="x")
    assert "WorkerId" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.send_bonus(WorkerId=worker.worker_id, BonusAmount="20000", AssignmentId=assignment_id, Reason="x")
    assert error_code(excinfo) == "AWS.MechanicalTurk.InsufficientFunds"
    assert len(mturk.list_bonus_payments(HITId=hit["HITId"])["BonusPayments"]) == 2
