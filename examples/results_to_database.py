"""Write each HIT's results into a database the moment the HIT is done, then approve its work.

The seeds: "using the HITReviewable notification, you can immediately update a database ... with the
values returned by the HIT", and the HIT's RequesterAnnotation names the record it is about.

On HITReviewable, ``save_and_approve``:
1. reads the record key from the HIT's RequesterAnnotation (``context.requester_annotation``);
2. lists the HIT's assignments with their answers parsed (``context.assignments_for``);
3. upserts one row per assignment, keyed on AssignmentId, in one transaction: running it twice (a
   redelivered message, a retry after a crash) rewrites the same rows instead of adding new ones;
4. only then approves the assignments still Submitted. If approving fails the handler raises, the
   message comes back, and the retry rewrites the same rows and approves what is left.
The router's SQLite de-duplication store (by EventDocId and event index) makes the common case of a
duplicate delivery a no-op before any of this runs; the upsert covers the rest.

    python examples/results_to_database.py --endpoint URL --aws-endpoint URL
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from _demo import Demo, expect, html_question, parse_args

from openturk.consumer import Event, Router, SQLiteDedup, context

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    assignment_id TEXT PRIMARY KEY,
    hit_id        TEXT NOT NULL,
    record_key    TEXT,             -- the HIT's RequesterAnnotation
    worker_id     TEXT NOT NULL,
    answers       TEXT NOT NULL,    -- JSON of parse_answers(): {QuestionIdentifier: value}
    submitted_at  TEXT
)
"""
UPSERT = """
INSERT INTO results (assignment_id, hit_id, record_key, worker_id, answers, submitted_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (assignment_id) DO UPDATE SET answers = excluded.answers, record_key = excluded.record_key
"""


def save_and_approve(mturk: Any, database: Path, hit: str | Event) -> int:
    """Store the HIT's answers, then approve its submitted assignments; return the rows written."""
    record_key = context.requester_annotation(mturk, hit)
    assignments = context.assignments_for(mturk, hit, statuses=["Submitted", "Approved"])
    rows = [
        (
            a.assignment_id,
            a.hit_id,
            record_key,
            a.worker_id,
            json.dumps(a.answers, default=dataclasses.asdict),  # UploadedFile answers become objects
            a.submit_time.isoformat() if a.submit_time else None,
        )
        for a in assignments
    ]
    with closing(sqlite3.connect(database)) as db, db:  # `with db`: one transaction, committed on success
        db.execute(SCHEMA)
        db.executemany(UPSERT, rows)
    for assignment in assignments:
        if assignment.status == "Submitted":
            mturk.approve_assignment(AssignmentId=assignment.assignment_id, RequesterFeedback="Thank you!")
    context.context_for(mturk).invalidate(assignments[0].hit_id if assignments else None)
    return len(rows)


def make_router(mturk: Any, database: Path, seen: Path) -> Router:
    # The de-duplication store is a file too, so a restarted consumer still skips what it handled.
    router = Router(dedup=SQLiteDedup(str(seen)))

    @router.on("HITReviewable")
    def on_reviewable(event: Event) -> None:
        written = save_and_approve(mturk, database, event)
        print(f"HIT {event.hit_id}: {written} result(s) saved and approved", flush=True)

    return router


def main(argv: list[str] | None = None) -> int:
    args = parse_args("Write each HIT's results into SQLite when it becomes reviewable.", argv)
    with Demo("results-db", args) as demo:
        mturk = demo.mturk
        database, seen = demo.workdir / "results.db", demo.workdir / "seen.db"
        queue_url = demo.new_queue()
        hit_type_id = mturk.create_hit_type(
            Title="Transcribe a receipt total",
            Description="Type the total amount printed on the receipt",
            Reward="0.08",
            AssignmentDurationInSeconds=300,
            AutoApprovalDelayInSeconds=86400,
        )["HITTypeId"]
        demo.notify(hit_type_id, queue_url, ["HITReviewable"])
        question = html_question("<input name='total'><input name='currency'>")
        receipts = {"receipt-101": "12.50", "receipt-102": "7.99", "receipt-103": "130.00"}
        hits = {
            mturk.create_hit_with_hit_type(
                HITTypeId=hit_type_id,
                MaxAssignments=2,
                LifetimeInSeconds=3600,
                Question=question,
                RequesterAnnotation=key,  # the record this HIT is about
            )["HIT"]["HITId"]: key
            for key in receipts
        }

        def rows() -> list[tuple[str, str, str]]:
            if not database.exists():
                return []
            with closing(sqlite3.connect(database)) as db:
                return db.execute("SELECT record_key, worker_id, answers FROM results ORDER BY record_key").fetchall()

        with demo.consuming(queue_url, make_router(mturk, database, seen)):
            for hit_id, key in hits.items():
                for _ in range(2):
                    demo.worker().do(hit_id, {"total": receipts[key], "currency": "EUR"})
            demo.wait_for(lambda: len(rows()) == 6, "six rows in the database")
            demo.wait_for(
                lambda: all(
                    mturk.list_assignments_for_hit(HITId=h, AssignmentStatuses=["Approved"])["NumResults"] == 2
                    for h in hits
                ),
                "every assignment approved",
            )

        for record_key, worker_id, answers in rows():
            print(f"  row: {record_key} {worker_id} {answers}")
        # What a redelivery or a retry after a crash does: the same upserts, no new rows, no error.
        for hit_id in hits:
            save_and_approve(mturk, database, hit_id)
        expect(len(rows()) == 6, f"replaying changed the table: {rows()}")
        expect(
            {(key, json.loads(answers)["total"]) for key, _, answers in rows()} == set(receipts.items()),
            "the table does not hold the workers' answers",
        )
        print(f"OK: 6 rows in {database.name}, every assignment approved; replaying added nothing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
