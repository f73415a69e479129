"""Review policies: parse and check their parameters, and decide what ScoreMyKnownAnswers does.

Pure: no I/O. ``known_answers`` scores one submitted assignment against the policy's AnswerKey
and says which actions follow (approve, reject, extend); the caller carries them out through the
lifecycle and the ledger in the submit's transaction.
DECISION: an answer matches a known answer when the stripped texts are equal (a selection answer
of several values matches when the sets are equal); the score is the rounded percentage of the
AnswerKey's questions answered correctly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import defusedxml.ElementTree as SafeET

from openturk import digits
from openturk.domain import lifecycle
from openturk.errors import InvalidParameterValue

SCORE_MY_KNOWN_ANSWERS = "ScoreMyKnownAnswers/2011-09-01"
SIMPLE_PLURALITY = "SimplePlurality/2011-09-01"
_PERCENT = (
    "ApproveIfKnownAnswerScoreIsAtLeast",
    "RejectIfKnownAnswerScoreIsLessThan",
    "ExtendIfKnownAnswerScoreIsLessThan",
    "QuestionAgreementThreshold",
    "DisregardAssignmentIfKnownAnswerScoreIsLessThan",
    "ExtendIfHITAgreementScoreIsLessThan",
    "ApproveIfWorkerAgreementScoreIsAtLeast",
    "RejectIfWorkerAgreementScoreIsLessThan",
)
_TEXT = ("ApproveReason", "RejectReason")
_KNOWN = {
    SCORE_MY_KNOWN_ANSWERS: {
        "AnswerKey",
        "ApproveIfKnownAnswerScoreIsAtLeast",
        "ApproveReason",
        "RejectIfKnownAnswerScoreIsLessThan",
        "RejectReason",
        "ExtendIfKnownAnswerScoreIsLessThan",
        "ExtendMaximumAssignments",
        "ExtendMinimumTimeInSeconds",
    },
    SIMPLE_PLURALITY: {
        "QuestionIds",
        "QuestionAgreementThreshold",
        "DisregardAssignmentIfRejected",
        "DisregardAssignmentIfKnownAnswerScoreIsLessThan",
        "ExtendIfHITAgreementScoreIsLessThan",
        "ExtendMaximumAssignments",
        "ExtendMinimumTimeInSeconds",
        "ApproveIfWorkerAgreementScoreIsAtLeast",
        "RejectIfWorkerAgreementScoreIsLessThan",
        "RejectReason",
    },
}
_LEVEL_POLICY = {"AssignmentReviewPolicy": SCORE_MY_KNOWN_ANSWERS, "HITReviewPolicy": SIMPLE_PLURALITY}
MAX_EXTEND_ASSIGNMENTS = 25
MIN_EXTEND_S, MAX_EXTEND_S = 3600, 31536000


@dataclass(frozen=True)
class KnownAnswers:
    """A checked ScoreMyKnownAnswers policy."""

    answer_key: dict[str, tuple[str, ...]]
    approve_at_least: int | None = None
    approve_reason: str | None = None
    reject_below: int | None = None
    reject_reason: str | None = None
    extend_below: int | None = None
    extend_maximum_assignments: int | None = None
    extend_minimum_s: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What one assignment's score implies: the results to report and the actions to take."""

    score: int
    correct: dict[str, bool]
    actions: list[tuple[str, str]] = field(default_factory=list)  # (ActionName, reason)


def _values(entry: dict[str, Any]) -> list[str]:
    return [str(v) for v in entry.get("Values") or []]


def _one(level: str, key: str, entry: dict[str, Any]) -> str:
    values = _values(entry)
    if len(values) != 1:
        raise InvalidParameterValue(f"{level} parameter {key} must have exactly one value.")
    return values[0]


def _integer(level: str, key: str, entry: dict[str, Any], low: int, high: int) -> int:
    text = _one(level, key, entry)
    # ASCII digits only: int() also reads "５０", "5_0" and " 50 ".
    number = digits.xs_int(text) if text == text.strip() else None
    if number is None:
        raise InvalidParameterValue(f"{level} parameter {key} must be an integer, not '{text[:32]}'.")
    if not low <= number <= high:
        raise InvalidParameterValue(f"{level} parameter {key} must be between {low} and {high}.")
    return number


def check(level: str, policy: dict[str, Any]) -> None:
    """Refuse a policy MTurk would refuse: ``InvalidParameterValue`` naming the level and parameter."""
    expected = _LEVEL_POLICY[level]
    name = policy.get("PolicyName")
    if name != expected:
        raise InvalidParameterValue(f"{level} PolicyName must be {expected}, not '{name}'.")
    parse(level, policy)


def parse(level: str, policy: dict[str, Any]) -> dict[str, Any]:
    """The policy's parameters by key, each checked; raises ``InvalidParameterValue``."""
    name = str(policy.get("PolicyName"))
    allowed = _KNOWN[name]
    params: dict[str, Any] = {}
    for entry in policy.get("Parameters") or []:
        key = entry.get("Key")
        if key not in allowed:
            raise InvalidParameterValue(f"{level} parameter {key} is not a parameter of {name}.")
        if key in params:
            raise InvalidParameterValue(f"{level} parameter {key} is given more than once.")
        if key in _PERCENT:
            params[key] = _integer(level, key, entry, 0, 101)
        elif key in _TEXT:  # it becomes the assignment's RequesterFeedback: the same rules
            params[key] = _one(level, key, entry)
            lifecycle.check_feedback(params[key], f"{level} parameter {key}")
        elif key == "ExtendMaximumAssignments":
            params[key] = _integer(level, key, entry, 2, MAX_EXTEND_ASSIGNMENTS)
        elif key == "ExtendMinimumTimeInSeconds":
            params[key] = _integer(level, key, entry, MIN_EXTEND_S, MAX_EXTEND_S)
        elif key == "DisregardAssignmentIfRejected":
            value = _one(level, key, entry).lower()
            if value not in ("true", "false"):
                raise InvalidParameterValue(f"{level} parameter {key} must be true or false.")
            params[key] = value == "true"
        elif key == "AnswerKey":
            mapped: dict[str, tuple[str, ...]] = {}
            for item in entry.get("MapEntries") or []:
                answers = tuple(str(v).strip() for v in item.get("Values") or [])
                if not item.get("Key") or not answers:
                    raise InvalidParameterValue(f"{level} parameter AnswerKey needs a QuestionId and its answers.")
                if str(item["Key"]) in mapped:  # one would silently replace the other
                    raise InvalidParameterValue(f"{level} parameter AnswerKey names {item['Key']} more than once.")
                mapped[str(item["Key"])] = answers
            if not mapped:
                raise InvalidParameterValue(f"{level} parameter AnswerKey must name at least one question.")
            params[key] = mapped
        else:  # QuestionIds
            if not _values(entry):
                raise InvalidParameterValue(f"{level} parameter QuestionIds must name at least one question.")
            params[key] = _values(entry)
    if name == SCORE_MY_KNOWN_ANSWERS and "AnswerKey" not in params:
        raise InvalidParameterValue(f"{level} parameter AnswerKey is required by {name}.")
    if name == SIMPLE_PLURALITY:  # both "Required: Yes" on MTurk's HIT Review Policies page
        for required in ("QuestionIds", "QuestionAgreementThreshold"):
            if required not in params:
                raise InvalidParameterValue(f"{level} parameter {required} is required by {name}.")
    extends = [k for k in ("ExtendIfKnownAnswerScoreIsLessThan", "ExtendIfHITAgreementScoreIsLessThan") if k in params]
    if extends and "ExtendMaximumAssignments" not in params:
        raise InvalidParameterValue(f"{level} parameter ExtendMaximumAssignments is required with {extends[0]}.")
    return params


def known_answers(policy: dict[str, Any]) -> KnownAnswers:
    params = parse("AssignmentReviewPolicy", policy)
    return KnownAnswers(
        answer_key=params["AnswerKey"],
        approve_at_least=params.get("ApproveIfKnownAnswerScoreIsAtLeast"),
        approve_reason=params.get("ApproveReason"),
        reject_below=params.get("RejectIfKnownAnswerScoreIsLessThan"),
        reject_reason=params.get("RejectReason"),
        extend_below=params.get("ExtendIfKnownAnswerScoreIsLessThan"),
        extend_maximum_assignments=params.get("ExtendMaximumAssignments"),
        extend_minimum_s=params.get("ExtendMinimumTimeInSeconds"),
    )


def score(policy: KnownAnswers, given: Mapping[str, Sequence[str]]) -> Outcome:
    """Score an assignment's answers (``parse_answers`` of its document, as SimplePlurality reads them)
    against the AnswerKey; approve wins over reject (DECISION: thresholds that overlap approve)."""
    correct = {qid: sorted(given.get(qid, ())) == sorted(expected) for qid, expected in policy.answer_key.items()}
    percent = round(100 * sum(correct.values()) / len(correct))
    actions: list[tuple[str, str]] = []
    if policy.approve_at_least is not None and percent >= policy.approve_at_least:
        actions.append(("Approve", policy.approve_reason or f"Known answer score {percent}."))
    elif policy.reject_below is not None and percent < policy.reject_below:
        actions.append(("Reject", policy.reject_reason or f"Known answer score {percent}."))
    if policy.extend_below is not None and percent < policy.extend_below:
        actions.append(("Extend", f"Known answer score {percent}."))
    return Outcome(score=percent, correct=correct, actions=actions)


@dataclass(frozen=True)
class Plurality:
    """A checked SimplePlurality policy."""

    question_ids: tuple[str, ...]
    agreement_threshold: int
    disregard_rejected: bool
    disregard_below: int | None
    extend_below: int | None
    extend_maximum_assignments: int | None
    extend_minimum_s: int | None
    approve_at_least: int | None
    reject_below: int | None
    reject_reason: str | None


@dataclass(frozen=True)
class Ballot:
    """One assignment's say: its answers by question, its status, its known answer score if any."""

    assignment_id: str
    status: str
    answers: dict[str, tuple[str, ...]]
    known_answer_score: int | None = None


@dataclass(frozen=True)
class Verdict:
    """What SimplePlurality found: per-question plurality answers, scores, and actions."""

    plurality: dict[str, tuple[str, int]]  # QuestionId -> (answer, agreement percent)
    hit_agreement: int
    worker_agreement: dict[str, int]
    decisions: list[tuple[str, str, str]]  # (AssignmentId, ActionName, reason)
    extend: bool


def plurality_policy(policy: dict[str, Any]) -> Plurality:
    params = parse("HITReviewPolicy", policy)
    return Plurality(
        question_ids=tuple(params["QuestionIds"]),
        agreement_threshold=params["QuestionAgreementThreshold"],
        disregard_rejected=params.get("DisregardAssignmentIfRejected", False),
        disregard_below=params.get("DisregardAssignmentIfKnownAnswerScoreIsLessThan"),
        extend_below=params.get("ExtendIfHITAgreementScoreIsLessThan"),
        extend_maximum_assignments=params.get("ExtendMaximumAssignments"),
        extend_minimum_s=params.get("ExtendMinimumTimeInSeconds"),
        approve_at_least=params.get("ApproveIfWorkerAgreementScoreIsAtLeast"),
        reject_below=params.get("RejectIfWorkerAgreementScoreIsLessThan"),
        reject_reason=params.get("RejectReason"),
    )


def parse_answers(document: str | None) -> dict[str, tuple[str, ...]]:
    """A QuestionFormAnswers document as {QuestionIdentifier: values} (selections, else text)."""
    if not document:
        return {}
    found: dict[str, tuple[str, ...]] = {}
    for answer in SafeET.fromstring(document):
        parts = {child.tag.rsplit("}", 1)[-1]: child for child in answer}
        identifier = parts.get("QuestionIdentifier")
        if identifier is None or identifier.text is None:
            continue
        selections = [c.text or "" for c in answer if c.tag.endswith("SelectionIdentifier")]
        text = parts.get("FreeText")
        values = selections or ([text.text or ""] if text is not None else [])
        found[identifier.text] = found.get(identifier.text, ()) + tuple(v.strip() for v in values)
    return found


def plurality(policy: Plurality, ballots: Sequence[Ballot]) -> Verdict:
    """Agreement per question among the counted ballots; every worker scored against the agreed answers.

    DECISION: HITAgreementScore is the percentage of the policy's questions that reached
    QuestionAgreementThreshold; a worker's agreement score is the percentage of those agreed
    questions the worker answered with the plurality answer (0 when none agreed). Only Submitted
    assignments are approved or rejected.
    """
    counted = [
        b
        for b in ballots
        if not (policy.disregard_rejected and b.status == "Rejected")
        and not (
            policy.disregard_below is not None
            and b.known_answer_score is not None
            and b.known_answer_score < policy.disregard_below
        )
    ]
    questions = policy.question_ids
    agreed: dict[str, tuple[str, int]] = {}
    result: dict[str, tuple[str, int]] = {}
    for question in questions:
        votes: dict[tuple[str, ...], int] = {}
        for ballot in counted:
            if question in ballot.answers:
                key = tuple(sorted(ballot.answers[question]))
                votes[key] = votes.get(key, 0) + 1
        if not votes:
            continue
        answer, count = max(votes.items(), key=lambda item: (item[1], item[0]))
        percent = round(100 * count / len(counted))
        result[question] = ("|".join(answer), percent)
        # "If the Question Agreement Score is greater than this value, the questionId is considered to
        # have an agreed answer" (MTurk's HIT Review Policies page; MTurkR's example: 49 for "at least 50").
        if percent > policy.agreement_threshold:
            agreed[question] = result[question]
    hit_agreement = round(100 * len(agreed) / len(questions)) if questions else 0
    workers: dict[str, int] = {}
    decisions: list[tuple[str, str, str]] = []
    for ballot in counted:
        matches = sum("|".join(sorted(ballot.answers.get(q, ()))) == a for q, (a, _) in agreed.items())
        score = round(100 * matches / len(agreed)) if agreed else 0
        workers[ballot.assignment_id] = score
        if ballot.status != "Submitted":
            continue
        if policy.approve_at_least is not None and score >= policy.approve_at_least:
            decisions.append((ballot.assignment_id, "Approve", f"Worker agreement score {score}."))
        elif policy.reject_below is not None and score < policy.reject_below:
            decisions.append(
                (ballot.assignment_id, "Reject", policy.reject_reason or f"Worker agreement score {score}.")
            )
    extend = policy.extend_below is not None and hit_agreement < policy.extend_below
    return Verdict(result, hit_agreement, workers, decisions, extend)
