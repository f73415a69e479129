"""The pure review policy rules: parameters, known-answer scores, plurality agreement."""

from __future__ import annotations

import pytest

from openturk.domain import answers, review_policies
from openturk.errors import InvalidParameterValue

KEY = {"Key": "AnswerKey", "MapEntries": [{"Key": "q1", "Values": ["a", "b"]}, {"Key": "q2", "Values": ["x"]}]}


def _known(*extra: dict[str, object]) -> review_policies.KnownAnswers:
    return review_policies.known_answers(
        {"PolicyName": review_policies.SCORE_MY_KNOWN_ANSWERS, "Parameters": [KEY, *extra]}
    )


def test_selections_match_as_sets_and_score_rounds() -> None:
    outcome = review_policies.score(_known(), {"q1": ("b", "a"), "q2": ("y",)})
    assert (outcome.correct, outcome.score, outcome.actions) == ({"q1": True, "q2": False}, 50, [])


def test_approve_wins_over_reject_and_extend_adds() -> None:
    policy = _known(
        {"Key": "ApproveIfKnownAnswerScoreIsAtLeast", "Values": ["50"]},
        {"Key": "RejectIfKnownAnswerScoreIsLessThan", "Values": ["60"]},
        {"Key": "ExtendIfKnownAnswerScoreIsLessThan", "Values": ["60"]},
        {"Key": "ExtendMaximumAssignments", "Values": ["5"]},
    )
    names = [name for name, _ in review_policies.score(policy, {"q1": ("a", "b")}).actions]
    assert names == ["Approve", "Extend"]


@pytest.mark.parametrize("value", ["-1", "102", "ten", "", "５０", "5_0", " 50 "])
def test_out_of_range_percent_refused(value: str) -> None:
    with pytest.raises(InvalidParameterValue, match="RejectIfKnownAnswerScoreIsLessThan"):
        _known({"Key": "RejectIfKnownAnswerScoreIsLessThan", "Values": [value]})


def test_plurality_disregards_and_scores() -> None:
    policy = review_policies.plurality_policy(
        {
            "PolicyName": review_policies.SIMPLE_PLURALITY,
            "Parameters": [
                {"Key": "QuestionIds", "Values": ["q"]},
                {"Key": "QuestionAgreementThreshold", "Values": ["50"]},
                {"Key": "DisregardAssignmentIfRejected", "Values": ["true"]},
                {"Key": "RejectIfWorkerAgreementScoreIsLessThan", "Values": ["100"]},
            ],
        }
    )
    ballots = [
        review_policies.Ballot("A1", "Submitted", {"q": ("cat",)}),
        review_policies.Ballot("A2", "Submitted", {"q": ("cat",)}),
        review_policies.Ballot("A3", "Submitted", {"q": ("dog",)}),
        review_policies.Ballot("A4", "Rejected", {"q": ("dog",)}),
    ]
    verdict = review_policies.plurality(policy, ballots)
    assert verdict.plurality == {"q": ("cat", 67)}
    assert verdict.worker_agreement == {"A1": 100, "A2": 100, "A3": 0}
    assert verdict.decisions == [("A3", "Reject", "Worker agreement score 0.")]
    assert verdict.hit_agreement == 100 and not verdict.extend


@pytest.mark.parametrize("missing", ["QuestionIds", "QuestionAgreementThreshold"])
def test_plurality_needs_its_two_required_parameters(missing: str) -> None:
    parameters = [
        {"Key": "QuestionIds", "Values": ["q"]},
        {"Key": "QuestionAgreementThreshold", "Values": ["50"]},
    ]
    kept = [p for p in parameters if p["Key"] != missing]
    policy = {"PolicyName": review_policies.SIMPLE_PLURALITY, "Parameters": kept}
    with pytest.raises(InvalidParameterValue, match=f"{missing} is required"):
        review_policies.plurality_policy(policy)


def test_a_question_agrees_only_above_the_threshold() -> None:
    """MTurk: "If the Question Agreement Score is greater than this value" (MTurkR: 49 for "at least 50")."""

    def verdict(threshold: str) -> review_policies.Verdict:
        policy = review_policies.plurality_policy(
            {
                "PolicyName": review_policies.SIMPLE_PLURALITY,
                "Parameters": [
                    {"Key": "QuestionIds", "Values": ["q"]},
                    {"Key": "QuestionAgreementThreshold", "Values": [threshold]},
                ],
            }
        )
        answers = ["x", "x", "y", "y"]
        ballots = [review_policies.Ballot(f"A{i}", "Submitted", {"q": (a,)}) for i, a in enumerate(answers)]
        return review_policies.plurality(policy, ballots)

    assert verdict("49").hit_agreement == 100  # 50 % > 49
    assert verdict("50").hit_agreement == 0  # 50 % is not above 50


def test_answers_document_round_trip() -> None:
    document = answers.answers_document([("q", ["a", "b"]), ("t", "hello")])
    assert review_policies.parse_answers(document) == {"q": ("a", "b"), "t": ("hello",)}


@pytest.mark.parametrize(("reason", "problem"), [("x" * 1025, "at most 1024"), ("bad\x01", "control characters")])
def test_reasons_keep_the_rules_of_the_requester_feedback_they_become(reason: str, problem: str) -> None:
    with pytest.raises(InvalidParameterValue, match=f"AssignmentReviewPolicy parameter RejectReason .*{problem}"):
        _known({"Key": "RejectReason", "Values": [reason]})
    _known({"Key": "RejectReason", "Values": ["x" * 1024]})


def test_an_answer_key_naming_a_question_twice_is_refused() -> None:
    twice = {"Key": "AnswerKey", "MapEntries": [{"Key": "q1", "Values": ["a"]}, {"Key": "q1", "Values": ["b"]}]}
    with pytest.raises(InvalidParameterValue, match="names q1 more than once"):
        review_policies.known_answers({"PolicyName": review_policies.SCORE_MY_KNOWN_ANSWERS, "Parameters": [twice]})
