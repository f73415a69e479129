"""Check each submission against a known answer the moment it arrives; flag a worker who keeps erring.

The seeds: "evaluate worker submissions as soon as they are submitted so you can take action if
workers are consistently making errors". The known ("gold") answer travels in the HIT's
RequesterAnnotation, which only the requester can see: ``{"item": "q1", "gold": "paris"}``.

On AssignmentSubmitted, ``evaluate``:
- reads the gold answer (``context.requester_annotation``, cached: it never changes) and the
  submitted answer (GetAssignment + ``parse_answers``);
- approves a right answer; for a wrong one it first records the error, then rejects the assignment;
- flags the worker once MAX_ERRORS of their answers were wrong (here: prints it; on MTurk you
  would also CreateWorkerBlock or revoke a qualification, which openturk does not implement).
Errors are recorded per (worker, assignment) in SQLite, so a redelivered or retried event never
counts one mistake twice, and a worker is flagged once.

    python examples/flag_erring_worker.py --endpoint URL --aws-endpoint URL
"""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from _demo import Demo, expect, html_question, parse_args

from openturk.consumer import Event, MemoryDedup, Router, context, parse_answers

FIELD = "answer"  # the QuestionIdentifier holding the worker's answer
MAX_ERRORS = 2


class ErrorLog:
    """Wrong answers per worker, and the workers flagged; idempotent, and it survives a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS errors (worker_id TEXT, assignment_id TEXT PRIMARY KEY)")
            db.execute("CREATE TABLE IF NOT EXISTS flagged (worker_id TEXT PRIMARY KEY)")

    def record(self, worker_id: str, assignment_id: str) -> tuple[int, bool]:
        """Note one wrong answer; return the worker's error count and whether they are newly flagged."""
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute("INSERT OR IGNORE INTO errors VALUES (?, ?)", (worker_id, assignment_id))
            (count,) = db.execute("SELECT count(*) FROM errors WHERE worker_id = ?", (worker_id,)).fetchone()
            newly = count >= MAX_ERRORS and (
                db.execute("INSERT OR IGNORE INTO flagged VALUES (?)", (worker_id,)).rowcount == 1
            )
            return int(count), newly

    def flagged(self) -> set[str]:
        with closing(sqlite3.connect(self.path)) as db:
            return {row[0] for row in db.execute("SELECT worker_id FROM flagged")}


def normalise(value: object) -> str:
    return str(value or "").strip().lower()


def make_router(mturk: Any, errors: ErrorLog) -> Router:
    router = Router(dedup=MemoryDedup())

    @router.on("AssignmentSubmitted")
    def evaluate(event: Event) -> None:
        key = json.loads(context.requester_annotation(mturk, event) or "{}")
        if "gold" not in key:
            return  # not a HIT with a known answer: nothing to check
        assignment = mturk.get_assignment(AssignmentId=event.assignment_id)["Assignment"]
        if assignment["AssignmentStatus"] != "Submitted":
            return  # decided already (this event was delivered again, or a person got there first)
        worker_id, answer = assignment["WorkerId"], parse_answers(assignment).get(FIELD)
        if normalise(answer) == normalise(key["gold"]):
            mturk.approve_assignment(AssignmentId=event.assignment_id)
            print(f"{key['item']}: {worker_id} right ({answer!r}) -> approved", flush=True)
            return
        # Record before rejecting: if the reject fails, the retry finds the assignment still Submitted,
        # records nothing new (same assignment) and rejects.
        count, newly_flagged = errors.record(worker_id, str(event.assignment_id))
        mturk.reject_assignment(
            AssignmentId=event.assignment_id, RequesterFeedback=f"The expected answer was {key['gold']!r}."
        )
        print(f"{key['item']}: {worker_id} wrong ({answer!r}, expected {key['gold']!r}) -> rejected", flush=True)
        if newly_flagged:
            print(f"FLAGGED worker {worker_id}: {count} wrong answers", flush=True)

    return router


def main(argv: list[str] | None = None) -> int:
    args = parse_args("Evaluate each submission against a gold answer; flag erring workers.", argv)
    with Demo("flag-worker", args) as demo:
        mturk = demo.mturk
        queue_url = demo.new_queue()
        hit_type_id = mturk.create_hit_type(
            Title="Name the capital city",
            Description="Type the capital of the country shown",
            Reward="0.02",
            AssignmentDurationInSeconds=300,
            AutoApprovalDelayInSeconds=86400,
        )["HITTypeId"]
        demo.notify(hit_type_id, queue_url, ["AssignmentSubmitted"])
        gold = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima"}
        hits = [
            mturk.create_hit_with_hit_type(
                HITTypeId=hit_type_id,
                MaxAssignments=2,
                LifetimeInSeconds=3600,
                Question=html_question(f"<p>Capital of {country}?</p><input name='{FIELD}'>"),
                RequesterAnnotation=json.dumps({"item": country, "gold": capital}),  # at most 255 characters
            )["HIT"]["HITId"]
            for country, capital in gold.items()
        ]
        errors = ErrorLog(demo.workdir / "errors.db")
        careful, careless = demo.worker(), demo.worker()

        def decided() -> int:
            return sum(
                mturk.list_assignments_for_hit(HITId=h, AssignmentStatuses=["Approved", "Rejected"])["NumResults"]
                for h in hits
            )

        with demo.consuming(queue_url, make_router(mturk, errors)):
            for hit_id, capital in zip(hits, gold.values(), strict=True):
                careful.do(hit_id, {FIELD: capital})
            for hit_id, answer in zip(hits, ["paris", "Kyoto", "Mombasa", "Cusco"], strict=True):
                careless.do(hit_id, {FIELD: answer})
            demo.wait_for(lambda: decided() == 8, "all eight submissions evaluated")

        expect(errors.flagged() == {careless.worker_id}, f"flagged {errors.flagged()}")
        statuses = {
            (a["WorkerId"], a["AssignmentStatus"])
            for h in hits
            for a in mturk.list_assignments_for_hit(HITId=h)["Assignments"]
        }
        expect((careful.worker_id, "Rejected") not in statuses, "a right answer was rejected")
        print(f"OK: {careless.worker_id} flagged after {MAX_ERRORS} errors; {careful.worker_id} all approved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
