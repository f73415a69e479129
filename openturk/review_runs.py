"""Run a HIT's review policies inside the caller's transaction, through the lifecycle and ledger.

``after_submit`` runs ScoreMyKnownAnswers/2011-09-01 on a just-submitted assignment in the
submit's transaction: its results and actions are stored, and each action (approve, reject,
extend) is the same transition the requester's operation makes, with its events and money.
An action that fails (e.g. ``InsufficientFunds`` for an extension) is rolled back to a savepoint
and recorded as Failed with its error code; the submit itself stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openturk import transitions
from openturk.domain import ids, lifecycle, review_policies
from openturk.domain.model import HIT, Assignment, Event
from openturk.errors import InvalidParameterValue, OpenTurkError
from openturk.store.repository import Repository
from openturk.store.review import ReviewRepository


def after_submit(repo: Repository, hit: HIT, assignment: Assignment, events: Sequence[Event], now: int) -> None:
    """ScoreMyKnownAnswers on the submitted assignment, then SimplePlurality if the submit made
    the HIT Reviewable and it still is (assignment-level results come first, as on MTurk; an
    Extend by the known answers has opened the HIT again, and the plurality waits for its end)."""
    _known_answers(repo, hit, assignment, now)
    if any(event.event_type == "HITReviewable" for event in events):
        current = repo.hit(hit.hit_id)
        if current is not None and current.status == "Reviewable":
            on_reviewable(repo, hit.hit_id, now)


def _known_answers(repo: Repository, hit: HIT, assignment: Assignment, now: int) -> None:
    reviews = ReviewRepository(repo.conn)
    policy, _ = reviews.policies(hit.hit_id)
    if policy is None or policy.get("PolicyName") != review_policies.SCORE_MY_KNOWN_ANSWERS:
        return
    try:
        known = review_policies.known_answers(policy)
    except InvalidParameterValue:
        return  # stored before CreateHIT checked policies: never run, never breaks a submit
    # Read from the stored answer document, as SimplePlurality reads it: however the worker sent a
    # selection (a list, an object with SelectionIdentifiers), the same answer scores the same.
    outcome = review_policies.score(known, review_policies.parse_answers(assignment.answer))
    action_ids = [ids.entity_id() for _ in outcome.actions]
    linked = {"ActionId": action_ids[0]} if action_ids else {}
    subject = {"SubjectId": assignment.assignment_id, "SubjectType": "Assignment"}
    for question_id, correct in outcome.correct.items():
        reviews.add(
            hit.hit_id,
            "Assignment",
            "Result",
            {
                **linked,
                **subject,
                "QuestionId": question_id,
                "Key": "KnownAnswerCorrect",
                "Value": str(correct).lower(),
            },
        )
    reviews.add(
        hit.hit_id,
        "Assignment",
        "Result",
        {**linked, **subject, "Key": "KnownAnswerScore", "Value": str(outcome.score)},
    )
    for action_id, (name, reason) in zip(action_ids, outcome.actions, strict=True):
        # The target is named before the action runs: a Failed action still says what it acted on.
        target = (hit.hit_id, "HIT") if name == "Extend" else (assignment.assignment_id, "Assignment")
        detail: dict[str, Any] = {
            "ActionId": action_id,
            "ActionName": name,
            "TargetId": target[0],
            "TargetType": target[1],
            "CompleteTime": now,
        }
        try:
            with repo.conn.begin_nested():
                if name == "Extend":
                    detail["Result"] = _extend(
                        repo, hit.hit_id, known.extend_maximum_assignments, known.extend_minimum_s, now
                    )
                else:
                    detail["Result"] = _decide(repo, hit.hit_id, assignment.assignment_id, name, reason, now)
            detail["Status"] = "Succeeded"
        except OpenTurkError as exc:
            detail |= _failed(exc)
        reviews.add(hit.hit_id, "Assignment", "Action", detail)


def _failed(exc: OpenTurkError) -> dict[str, str]:
    """The ReviewActionDetail fields of an action its transition refused (rolled back in its savepoint)."""
    return {"Status": "Failed", "ErrorCode": str(getattr(exc, "turk_error_code", exc.wire_type)), "Result": exc.message}


def _decide(repo: Repository, hit_id: str, assignment_id: str, name: str, reason: str, now: int) -> str:
    found = repo.assignment_with_hit(assignment_id, for_update=True)
    assert found is not None
    assignment, hit = found
    (transitions.approve if name == "Approve" else transitions.reject)(repo, hit, assignment, reason, now)
    return f"{'Approved' if name == 'Approve' else 'Rejected'}: {reason}"


def _extend(repo: Repository, hit_id: str, maximum: int | None, minimum_s: int | None, now: int) -> str:
    hit = repo.hit(hit_id, for_update=True)
    assert hit is not None
    counts = repo.slot_count(hit_id)
    if maximum is None or hit.max_assignments >= maximum:
        # No assignment to add: moving the expiry of a HIT no worker can take would only announce a
        # HITExtended for nothing.
        return "Not extended: the HIT is at ExtendMaximumAssignments."
    hit, events = lifecycle.add_assignments(hit, counts, 1, now)
    transitions.record(repo, hit, counts, events, now)
    done = [f"MaxAssignments {hit.max_assignments}"]
    if minimum_s is not None and hit.expiration < now + minimum_s * 1000:
        hit, events = lifecycle.extend_expiration(hit, counts, now + minimum_s * 1000, now)
        transitions.record(repo, hit, counts, events, now)
        done.append(f"Expiration {hit.expiration // 1000}")
    return "Extended: " + ", ".join(done)


def on_reviewable(repo: Repository, hit_id: str, now: int) -> None:
    """Run SimplePlurality/2011-09-01 on a HIT that just became Reviewable, in that transaction.

    DECISION: HITReviewStatus becomes ReviewedAppropriate when every question reached agreement,
    MarkedForReview otherwise; a HIT without a HITReviewPolicy stays NotReviewed.
    """
    reviews = ReviewRepository(repo.conn)
    _, policy = reviews.policies(hit_id)
    if policy is None or policy.get("PolicyName") != review_policies.SIMPLE_PLURALITY:
        return
    try:
        checked = review_policies.plurality_policy(policy)
    except InvalidParameterValue:
        return  # stored before CreateHIT checked policies
    scores = reviews.known_answer_scores(hit_id)
    ballots = [
        review_policies.Ballot(
            a.assignment_id, a.status, review_policies.parse_answers(a.answer), scores.get(a.assignment_id)
        )
        for a in repo.assignments_page(hit_id, ("Submitted", "Approved", "Rejected"), None, 1_000_000)
    ]
    verdict = review_policies.plurality(checked, ballots)
    subject = {"SubjectId": hit_id, "SubjectType": "HIT"}
    for question, (answer, agreement) in verdict.plurality.items():
        reviews.add(
            hit_id, "HIT", "Result", {**subject, "QuestionId": question, "Key": "PluralityAnswer", "Value": answer}
        )
        reviews.add(
            hit_id,
            "HIT",
            "Result",
            {**subject, "QuestionId": question, "Key": "AgreementScore", "Value": str(agreement)},
        )
    reviews.add(hit_id, "HIT", "Result", {**subject, "Key": "HITAgreementScore", "Value": str(verdict.hit_agreement)})
    for assignment_id, score in verdict.worker_agreement.items():
        reviews.add(
            hit_id,
            "HIT",
            "Result",
            {
                "SubjectId": assignment_id,
                "SubjectType": "Assignment",
                "Key": "WorkerAgreementScore",
                "Value": str(score),
            },
        )
    planned: list[tuple[str, str, str, str]] = [(a, "Assignment", n, r) for a, n, r in verdict.decisions]
    if verdict.extend:
        planned.append((hit_id, "HIT", "Extend", f"HIT agreement score {verdict.hit_agreement}."))
    for target, target_type, name, reason in planned:
        detail: dict[str, Any] = {
            "ActionId": ids.entity_id(),
            "ActionName": name,
            "TargetId": target,
            "TargetType": target_type,
            "CompleteTime": now,
        }
        try:
            with repo.conn.begin_nested():
                if name == "Extend":
                    detail["Result"] = _extend(
                        repo, hit_id, checked.extend_maximum_assignments, checked.extend_minimum_s, now
                    )
                else:
                    detail["Result"] = _decide(repo, hit_id, target, name, reason, now)
            detail["Status"] = "Succeeded"
        except OpenTurkError as exc:
            detail |= _failed(exc)
        reviews.add(hit_id, "HIT", "Action", detail)
    hit = repo.hit(hit_id, for_update=True)
    assert hit is not None
    status = "ReviewedAppropriate" if verdict.hit_agreement == 100 else "MarkedForReview"
    repo.save_hit(hit.evolve(review_status=status))
