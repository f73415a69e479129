"""Add an assignment to a HIT when its workers disagree.

The seeds' first use case: "immediately add more assignments to a HIT when there is disagreement
between workers that have responded".

Each HIT asks two workers for a label. When the HIT becomes reviewable (every assignment is in),
``compare`` reads the answers (``context.assignments_for`` parses them with ``parse_answers``):
- AGREEMENT workers gave the same label: that label is the HIT's result; its assignments are approved;
- otherwise, while the HIT has fewer than MAX_ASSIGNMENTS, one more assignment is added
  (CreateAdditionalAssignmentsForHIT). The HIT becomes reviewable again once that worker submits,
  a new HITReviewable arrives, and ``compare`` runs again with one more answer;
- past MAX_ASSIGNMENTS the HIT is left for a person.
``show_answer`` follows AssignmentSubmitted to print each answer the moment it arrives.

    python examples/add_assignments_on_disagreement.py --endpoint URL --aws-endpoint URL
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from _demo import Demo, expect, html_question, parse_args
from botocore.exceptions import ClientError

from openturk.consumer import Event, MemoryDedup, Router, context, parse_answers

LABEL = "label"  # the QuestionIdentifier: the name of the form field
AGREEMENT = 2  # answers that must match for a label to win
MAX_ASSIGNMENTS = 5  # never pay for more than this many answers to one HIT


def make_router(mturk: Any, results: dict[str, str]) -> Router:
    """Handlers for AssignmentSubmitted and HITReviewable; ``results`` gets HITId → agreed label."""
    # MemoryDedup suits one short-lived process; a long-running consumer wants SQLiteDedup("seen.db").
    router = Router(dedup=MemoryDedup())

    @router.on("AssignmentSubmitted")
    def show_answer(event: Event) -> None:
        assignment = mturk.get_assignment(AssignmentId=event.assignment_id)["Assignment"]
        item = context.requester_annotation(mturk, event)
        print(f"  {item}: {assignment['WorkerId']} answered {parse_answers(assignment).get(LABEL)!r}")

    @router.on("HITReviewable")
    def compare(event: Event) -> None:
        assert event.hit_id is not None
        item = context.requester_annotation(mturk, event)  # our own id for the HIT, set at CreateHIT
        assignments = context.assignments_for(mturk, event, statuses=["Submitted", "Approved"])
        votes = Counter(str(a.answers.get(LABEL, "")).strip().lower() for a in assignments)
        label, count = votes.most_common(1)[0] if votes else ("", 0)
        if count >= AGREEMENT:
            for assignment in assignments:
                if assignment.status == "Submitted":  # a redelivered event finds them approved already
                    mturk.approve_assignment(AssignmentId=assignment.assignment_id)
            results[event.hit_id] = label
            print(f"{item}: consensus {label!r} from {count} of {len(assignments)} answers", flush=True)
        elif len(assignments) < MAX_ASSIGNMENTS:
            try:
                # The token makes a retry of this very event (the handler failed after this call) harmless.
                mturk.create_additional_assignments_for_hit(
                    HITId=event.hit_id,
                    NumberOfAdditionalAssignments=1,
                    UniqueRequestToken=f"disagree-{event.doc_id}-{event.index}",
                )
            except ClientError as exc:
                if exc.response.get("TurkErrorCode") != "AWS.MechanicalTurk.DuplicateRequest":
                    raise
            context.context_for(mturk).invalidate(event.hit_id)  # we changed the HIT: forget cached reads
            print(f"{item}: disagreement {dict(votes)} -> one more assignment", flush=True)
        else:
            print(f"{item}: no agreement after {len(assignments)} answers; left for a person")

    return router


def main(argv: list[str] | None = None) -> int:
    args = parse_args("Add an assignment to a HIT when its workers disagree.", argv)
    with Demo("disagreement", args) as demo:
        mturk = demo.mturk
        queue_url = demo.new_queue()
        hit_type_id = mturk.create_hit_type(
            Title="What animal is in the picture?",
            Description="One word: cat, dog, bird...",
            Reward="0.05",
            AssignmentDurationInSeconds=300,
            AutoApprovalDelayInSeconds=86400,
        )["HITTypeId"]
        demo.notify(hit_type_id, queue_url, ["AssignmentSubmitted", "HITReviewable"])
        question = html_question(f"<img src='https://example.com/x.jpg'><input name='{LABEL}'>")
        hits = [
            mturk.create_hit_with_hit_type(
                HITTypeId=hit_type_id,
                MaxAssignments=2,
                LifetimeInSeconds=3600,
                Question=question,
                RequesterAnnotation=f"image-{n}",
            )["HIT"]["HITId"]
            for n in (1, 2)
        ]
        clear, unclear = hits
        results: dict[str, str] = {}
        with demo.consuming(queue_url, make_router(mturk, results)):
            # Simulated workers: two agree on the first HIT, two disagree on the second.
            for hit_id, answers in ((clear, ("cat", "cat")), (unclear, ("cat", "dog"))):
                for answer in answers:
                    demo.worker().do(hit_id, {LABEL: answer})
            demo.wait_for(lambda: mturk.get_hit(HITId=unclear)["HIT"]["MaxAssignments"] == 3, "the extra assignment")
            demo.worker().do(unclear, {LABEL: "dog"})  # the tie-breaker
            demo.wait_for(lambda: len(results) == 2, "both HITs decided")

        expect(results == {clear: "cat", unclear: "dog"}, f"unexpected results {results}")
        for hit_id, expected in ((clear, 2), (unclear, 3)):
            listed = mturk.list_assignments_for_hit(HITId=hit_id, AssignmentStatuses=["Approved"])
            expect(listed["NumResults"] == expected, f"{hit_id} should have {expected} approved assignments")
        print("OK: the agreed HIT was approved; the disputed one got a third answer and was settled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
