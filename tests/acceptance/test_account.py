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


def test_fees_are_rounded_half_up_to_the_cent(mturk: Any) -> None:
    mturk.create_hit(**hit_params(Reward="0.52"))  # 20 % is 10.4 cents: 10
    assert mturk.get_account_balance()["OnHoldBalance"] == "0.62"
    mturk.create_hit(**hit_params(Reward="0.13"))  # 2.6 cents: 3
    assert mturk.get_account_balance()["OnHoldBalance"] == "0.78"


MASTERS_REQUIRED = [{"QualificationTypeId": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "Comparator": "Exists"}]


def test_a_hit_using_the_masters_qualification_pays_5_percent_more(mturk: Any) -> None:
    mturk.create_hit(**hit_params(Reward="1.00", QualificationRequirements=MASTERS_REQUIRED))
    assert mturk.get_account_balance()["OnHoldBalance"] == "1.25"
    mturk.create_hit(**hit_params(Reward="1.00", MaxAssignments=10, QualificationRequirements=MASTERS_REQUIRED))
    assert mturk.get_account_balance()["OnHoldBalance"] == "15.75"  # 1.25 + 10 × 1.45
    keeping_masters_out = [{**MASTERS_REQUIRED[0], "Comparator": "DoesNotExist"}]
    mturk.create_hit(**hit_params(Reward="1.00", QualificationRequirements=keeping_masters_out))
    assert mturk.get_account_balance()["OnHoldBalance"] == "16.95"


def test_a_retype_to_a_hit_type_using_masters_holds_its_fee(mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(Reward="1.00"))["HIT"]
    assert mturk.get_account_balance()["OnHoldBalance"] == "1.20"
    masters_type = mturk.create_hit_type(
        Title="Label an image",
        Description="Say what is in the picture",
        Reward="1.00",
        AssignmentDurationInSeconds=600,
        QualificationRequirements=MASTERS_REQUIRED,
    )["HITTypeId"]
    mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=masters_type)
    assert mturk.get_account_balance()["OnHoldBalance"] == "1.25"


@pytest.mark.parametrize(
    "overrides",
    [
        {"Reward": "5000.00", "MaxAssignments": 2},
        # An escrow beyond any 64-bit column: refused before its journal row is written (it was a 500).
        {"Reward": "999999999999.99", "MaxAssignments": 1_000_000_000},
    ],
)
def test_insufficient_funds_changes_nothing(mturk: Any, overrides: dict[str, Any]) -> None:
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit(**hit_params(**overrides))
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
