"""Review policies run: ScoreMyKnownAnswers on submit, results and actions listed, bad parameters refused."""

from __future__ import annotations

from typing import Any

import pytest

from openturk.testing import ServerProcess, Worker
from tests.conftest import error_code, events_of, hit_params, new_worker


def known_answers(*extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyName": "ScoreMyKnownAnswers/2011-09-01",
        "Parameters": [
            {"Key": "AnswerKey", "MapEntries": [{"Key": "q1", "Values": ["cat"]}, {"Key": "q2", "Values": ["dog"]}]},
            *extra,
        ],
    }


APPROVE = {"Key": "ApproveIfKnownAnswerScoreIsAtLeast", "Values": ["100"]}
REJECT = {"Key": "RejectIfKnownAnswerScoreIsLessThan", "Values": ["50"]}


def _results(mturk: Any, hit_id: str, **params: Any) -> dict[str, Any]:
    return dict(mturk.list_review_policy_results_for_hit(HITId=hit_id, **params))


def test_known_answers_approve(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    policy = known_answers(APPROVE, {"Key": "ApproveReason", "Values": ["All correct"]}, REJECT)
    hit_id = mturk.create_hit(**hit_params(AssignmentReviewPolicy=policy))["HIT"]["HITId"]
    assignment_id = worker.do(hit_id, {"q1": "cat", "q2": "dog"})
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved"
    assert assignment["RequesterFeedback"] == "All correct"
    got = _results(mturk, hit_id)
    assert got["AssignmentReviewPolicy"] == {"PolicyName": "ScoreMyKnownAnswers/2011-09-01"}  # only its name
    report = got["AssignmentReviewReport"]
    values = {(r.get("QuestionId"), r["Key"]): r["Value"] for r in report["ReviewResults"]}
    assert values == {
        ("q1", "KnownAnswerCorrect"): "true",
        ("q2", "KnownAnswerCorrect"): "true",
        (None, "KnownAnswerScore"): "100",
    }
    (action,) = report["ReviewActions"]
    assert (action["ActionName"], action["Status"], action["TargetId"]) == ("Approve", "Succeeded", assignment_id)
    assert all(r["ActionId"] == action["ActionId"] and r["SubjectId"] == assignment_id for r in report["ReviewResults"])
    assert ("AssignmentApproved", assignment_id) in events_of(server, hit_id)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["NumberOfAssignmentsCompleted"] == 1


def test_known_answers_reject_and_gates(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    policy = known_answers(APPROVE, REJECT, {"Key": "RejectReason", "Values": ["Wrong known answers"]})
    hit_id = mturk.create_hit(**hit_params(AssignmentReviewPolicy=policy))["HIT"]["HITId"]
    assignment_id = worker.do(hit_id, {"q1": "bird", "q2": "fish"})
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert (assignment["AssignmentStatus"], assignment["RequesterFeedback"]) == ("Rejected", "Wrong known answers")
    assert ("AssignmentRejected", assignment_id) in events_of(server, hit_id)
    only_actions = _results(mturk, hit_id, RetrieveResults=False)["AssignmentReviewReport"]
    assert only_actions["ReviewResults"] == [] and only_actions["ReviewActions"][0]["ActionName"] == "Reject"
    only_results = _results(mturk, hit_id, RetrieveActions=False)["AssignmentReviewReport"]
    assert only_results["ReviewActions"] == [] and len(only_results["ReviewResults"]) == 3
    hit_level = _results(mturk, hit_id, PolicyLevels=["HIT"])
    assert "AssignmentReviewReport" not in hit_level and hit_level["HITReviewReport"]["ReviewResults"] == []


def test_middle_score_leaves_submitted(mturk: Any, worker: Worker) -> None:
    hit_id = mturk.create_hit(**hit_params(AssignmentReviewPolicy=known_answers(APPROVE, REJECT)))["HIT"]["HITId"]
    assignment_id = worker.do(hit_id, {"q1": "cat", "q2": "fish"})
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Submitted"
    report = _results(mturk, hit_id)["AssignmentReviewReport"]
    assert report["ReviewActions"] == []
    assert {"Key": "KnownAnswerScore", "Value": "50"}.items() <= next(
        r for r in report["ReviewResults"] if r["Key"] == "KnownAnswerScore"
    ).items()


def test_extend_on_low_score(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    policy = known_answers(
        {"Key": "ExtendIfKnownAnswerScoreIsLessThan", "Values": ["100"]},
        {"Key": "ExtendMaximumAssignments", "Values": ["3"]},
        {"Key": "ExtendMinimumTimeInSeconds", "Values": ["7200"]},
    )
    hit = mturk.create_hit(**hit_params(AssignmentReviewPolicy=policy))["HIT"]
    worker.do(hit["HITId"], {"q1": "no", "q2": "no"})
    extended = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (extended["MaxAssignments"], extended["HITStatus"], extended["NumberOfAssignmentsAvailable"]) == (
        2,
        "Assignable",
        1,
    )
    assert extended["Expiration"] > hit["Expiration"]
    (action,) = _results(mturk, hit["HITId"])["AssignmentReviewReport"]["ReviewActions"]
    assert (action["ActionName"], action["Status"], action["TargetType"]) == ("Extend", "Succeeded", "HIT")
    assert [e for e in events_of(server, hit["HITId"]) if e[0] == "HITExtended"]
    # A second low score reaches ExtendMaximumAssignments = 3; a third finds the HIT at its maximum.
    new_worker(server).do(hit["HITId"], {"q1": "no"})
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 3
    before = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    new_worker(server).do(hit["HITId"], {"q1": "no"})
    at_maximum = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (at_maximum["MaxAssignments"], at_maximum["Expiration"]) == (3, before["Expiration"])
    last = _results(mturk, hit["HITId"], MaxResults=100)["AssignmentReviewReport"]["ReviewActions"][-1]
    assert last["Result"] == "Not extended: the HIT is at ExtendMaximumAssignments."
    # Nothing added and nothing moved: no HITExtended for a HIT no worker can take (the two extends
    # before each announced their added assignment and their later expiry).
    assert [kind for kind, _ in events_of(server, hit["HITId"])].count("HITExtended") == 4


def test_results_page_with_next_token(server: ServerProcess, mturk: Any) -> None:
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2, AssignmentReviewPolicy=known_answers(APPROVE)))["HIT"][
        "HITId"
    ]
    for _ in range(2):
        new_worker(server).do(hit_id, {"q1": "cat", "q2": "dog"})
    seen: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"MaxResults": 3}
    while True:
        page = _results(mturk, hit_id, **kwargs)
        report = page["AssignmentReviewReport"]
        items = report["ReviewResults"] + report["ReviewActions"]
        if not items:
            assert "NextToken" not in page
            break
        assert "NextToken" in page
        seen += items
        kwargs["NextToken"] = page["NextToken"]
    assert len(seen) == 8


@pytest.mark.parametrize(
    ("level", "policy", "named"),
    [
        ("AssignmentReviewPolicy", {"PolicyName": "Nope/2011-09-01", "Parameters": []}, "PolicyName"),
        ("AssignmentReviewPolicy", {"PolicyName": "ScoreMyKnownAnswers/2011-09-01", "Parameters": []}, "AnswerKey"),
        (
            "AssignmentReviewPolicy",
            known_answers({"Key": "ApproveIfKnownAnswerScoreIsAtLeast", "Values": ["x"]}),
            "ApproveIfKnownAnswerScoreIsAtLeast",
        ),
        (
            "AssignmentReviewPolicy",
            known_answers({"Key": "ExtendIfKnownAnswerScoreIsLessThan", "Values": ["50"]}),
            "ExtendMaximumAssignments",
        ),
        ("AssignmentReviewPolicy", known_answers({"Key": "Bogus", "Values": ["1"]}), "Bogus"),
        (
            "HITReviewPolicy",
            {
                "PolicyName": "SimplePlurality/2011-09-01",
                "Parameters": [{"Key": "QuestionAgreementThreshold", "Values": ["200"]}],
            },
            "QuestionAgreementThreshold",
        ),
        ("HITReviewPolicy", known_answers(), "PolicyName"),
    ],
)
def test_bad_policy_refused(mturk: Any, level: str, policy: dict[str, Any], named: str) -> None:
    before = mturk.list_hits()["NumResults"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit(**hit_params(**{level: policy}))
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue"
    assert named in excinfo.value.response["Error"]["Message"]
    assert mturk.list_hits()["NumResults"] == before


def test_unknown_hit_and_no_policy(mturk: Any, worker: Worker) -> None:
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.list_review_policy_results_for_hit(HITId="3" * 30)
    assert error_code(excinfo) == "AWS.MechanicalTurk.HITDoesNotExist"
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    worker.do(hit_id, {"q1": "cat"})
    got = _results(mturk, hit_id)
    assert "AssignmentReviewPolicy" not in got and got["AssignmentReviewReport"]["ReviewResults"] == []


def plurality_policy(*extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyName": "SimplePlurality/2011-09-01",
        "Parameters": [
            {"Key": "QuestionIds", "Values": ["label"]},
            {"Key": "QuestionAgreementThreshold", "Values": ["60"]},
            *extra,
        ],
    }


def test_plurality_approves_and_rejects(server: ServerProcess, mturk: Any) -> None:
    policy = plurality_policy(
        {"Key": "ApproveIfWorkerAgreementScoreIsAtLeast", "Values": ["100"]},
        {"Key": "RejectIfWorkerAgreementScoreIsLessThan", "Values": ["100"]},
        {"Key": "RejectReason", "Values": ["Disagreed with the others"]},
    )
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=3, HITReviewPolicy=policy))["HIT"]["HITId"]
    agree = [new_worker(server).do(hit_id, {"label": "cat"}) for _ in range(2)]
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITReviewStatus"] == "NotReviewed"
    odd = new_worker(server).do(hit_id, {"label": "dog"})
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (hit["HITStatus"], hit["HITReviewStatus"]) == ("Reviewable", "ReviewedAppropriate")
    statuses = {
        a["AssignmentId"]: a["AssignmentStatus"] for a in mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]
    }
    assert statuses == {agree[0]: "Approved", agree[1]: "Approved", odd: "Rejected"}
    report = _results(mturk, hit_id, PolicyLevels=["HIT"])["HITReviewReport"]
    values = {(r["SubjectId"], r.get("QuestionId"), r["Key"]): r["Value"] for r in report["ReviewResults"]}
    assert values[(hit_id, "label", "PluralityAnswer")] == "cat"
    assert values[(hit_id, "label", "AgreementScore")] == "67"
    assert values[(odd, None, "WorkerAgreementScore")] == "0"
    assert sorted((a["ActionName"], a["Status"]) for a in report["ReviewActions"]) == [
        ("Approve", "Succeeded"),
        ("Approve", "Succeeded"),
        ("Reject", "Succeeded"),
    ]
    kinds = [kind for kind, _ in events_of(server, hit_id)]
    assert kinds.index("HITReviewable") < kinds.index("AssignmentRejected")
    assert kinds.count("AssignmentApproved") == 2


def test_plurality_extends_without_agreement(server: ServerProcess, mturk: Any) -> None:
    policy = plurality_policy(
        {"Key": "ExtendIfHITAgreementScoreIsLessThan", "Values": ["100"]},
        {"Key": "ExtendMaximumAssignments", "Values": ["3"]},
    )
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2, HITReviewPolicy=policy))["HIT"]["HITId"]
    new_worker(server).do(hit_id, {"label": "cat"})
    new_worker(server).do(hit_id, {"label": "dog"})
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (hit["HITStatus"], hit["MaxAssignments"], hit["HITReviewStatus"]) == ("Assignable", 3, "MarkedForReview")
    (action,) = _results(mturk, hit_id)["HITReviewReport"]["ReviewActions"]
    assert (action["ActionName"], action["TargetId"], action["Status"]) == ("Extend", hit_id, "Succeeded")
    assert [kind for kind, _ in events_of(server, hit_id)][-2:] == ["HITReviewable", "HITExtended"]


def test_plurality_runs_when_the_hit_expires(server: ServerProcess, mturk: Any) -> None:
    policy = plurality_policy({"Key": "ApproveIfWorkerAgreementScoreIsAtLeast", "Values": ["100"]})
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=3, LifetimeInSeconds=60, HITReviewPolicy=policy))["HIT"][
        "HITId"
    ]
    first = new_worker(server).do(hit_id, {"label": "cat"})
    second = new_worker(server).do(hit_id, {"label": "cat"})
    server.advance(61)
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (hit["HITStatus"], hit["HITReviewStatus"]) == ("Reviewable", "ReviewedAppropriate")
    for assignment_id in (first, second):
        assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"
    kinds = [kind for kind, _ in events_of(server, hit_id)]
    assert kinds.index("HITExpired") < kinds.index("AssignmentApproved")


def test_extend_without_funds_is_listed_failed(server: ServerProcess, worker: Worker) -> None:
    """The policy's Extend is refused (InsufficientFunds): listed as Failed with its reason, and
    nothing of it applied; the submit and the score stand."""
    poor = server.client("AKIDREVIEWPOORREQ001")
    # $10,000.00 to start: $8,400.00 held for 7 x $1,000.00 (+20 %), $1,200.00 for the policy's HIT.
    poor.create_hit(**hit_params(Reward="1000.00", MaxAssignments=7))
    policy = known_answers(
        {"Key": "ExtendIfKnownAnswerScoreIsLessThan", "Values": ["100"]},
        {"Key": "ExtendMaximumAssignments", "Values": ["3"]},
    )
    hit = poor.create_hit(**hit_params(Reward="1000.00", AssignmentReviewPolicy=policy))["HIT"]
    balance_before = poor.get_account_balance()
    assignment_id = worker.do(hit["HITId"], {"q1": "no", "q2": "no"})
    after = poor.get_hit(HITId=hit["HITId"])["HIT"]
    assert (after["MaxAssignments"], after["HITStatus"]) == (1, "Reviewable")
    assert poor.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Submitted"
    assert poor.get_account_balance()["AvailableBalance"] == balance_before["AvailableBalance"]
    assert not [e for e in events_of(server, hit["HITId"]) if e[0] == "HITExtended"]
    report = _results(poor, hit["HITId"])["AssignmentReviewReport"]
    (action,) = report["ReviewActions"]
    assert (action["ActionName"], action["Status"], action["TargetId"], action["TargetType"]) == (
        "Extend",
        "Failed",
        hit["HITId"],
        "HIT",
    )
    assert action["ErrorCode"] == "AWS.MechanicalTurk.InsufficientFunds"
    assert "insufficient funds" in action["Result"].lower() or "balance" in action["Result"].lower()
    assert {"Key": "KnownAnswerScore", "Value": "0"}.items() <= next(
        r for r in report["ReviewResults"] if r["Key"] == "KnownAnswerScore"
    ).items()


def test_extend_across_ten_assignments_is_listed_failed(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    """MTurk's 10-assignment rule holds for a policy's Extend as for CreateAdditionalAssignmentsForHIT."""
    policy = known_answers(
        {"Key": "ExtendIfKnownAnswerScoreIsLessThan", "Values": ["100"]},
        {"Key": "ExtendMaximumAssignments", "Values": ["12"]},
    )
    hit = mturk.create_hit(**hit_params(MaxAssignments=9, AssignmentReviewPolicy=policy))["HIT"]
    worker.do(hit["HITId"], {"q1": "no", "q2": "no"})
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 9
    assert not [e for e in events_of(server, hit["HITId"]) if e[0] == "HITExtended"]
    (action,) = _results(mturk, hit["HITId"])["AssignmentReviewReport"]["ReviewActions"]
    assert (action["ActionName"], action["Status"], action["ErrorCode"]) == (
        "Extend",
        "Failed",
        "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease",
    )
    assert "fewer than 10 assignments" in action["Result"]


def test_a_selection_scores_alike_however_the_worker_sent_it(mturk: Any, server: ServerProcess) -> None:
    policy = known_answers(APPROVE)
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2, AssignmentReviewPolicy=policy))["HIT"]["HITId"]
    as_list = new_worker(server).do(hit_id, {"q1": ["cat"], "q2": "dog"})
    as_object = new_worker(server).do(hit_id, {"q1": {"SelectionIdentifiers": ["cat"]}, "q2": "dog"})
    for assignment_id in (as_list, as_object):
        assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"


def test_plurality_waits_while_the_known_answers_keep_the_hit_open(server: ServerProcess, mturk: Any) -> None:
    """An Extend by ScoreMyKnownAnswers opens the HIT again in the submit that made it Reviewable:
    SimplePlurality judges when the HIT is Reviewable at last, on every answer."""
    extend = known_answers(
        {"Key": "ExtendIfKnownAnswerScoreIsLessThan", "Values": ["100"]},
        {"Key": "ExtendMaximumAssignments", "Values": ["3"]},
    )
    judge = plurality_policy(
        {"Key": "ApproveIfWorkerAgreementScoreIsAtLeast", "Values": ["100"]},
        {"Key": "RejectIfWorkerAgreementScoreIsLessThan", "Values": ["100"]},
    )
    params = hit_params(MaxAssignments=2, AssignmentReviewPolicy=extend, HITReviewPolicy=judge)
    hit_id = mturk.create_hit(**params)["HIT"]["HITId"]
    first = new_worker(server).do(hit_id, {"q1": "cat", "q2": "dog", "label": "cat"})
    second = new_worker(server).do(hit_id, {"q1": "no", "q2": "dog", "label": "dog"})
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert (hit["HITStatus"], hit["MaxAssignments"], hit["HITReviewStatus"]) == ("Assignable", 3, "NotReviewed")
    assert _results(mturk, hit_id, PolicyLevels=["HIT"])["HITReviewReport"]["ReviewResults"] == []
    third = new_worker(server).do(hit_id, {"q1": "cat", "q2": "dog", "label": "cat"})
    statuses = {
        a["AssignmentId"]: a["AssignmentStatus"] for a in mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]
    }
    assert statuses == {first: "Approved", second: "Rejected", third: "Approved"}
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITReviewStatus"] == "ReviewedAppropriate"
