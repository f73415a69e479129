"""A worker's file for a FileUploadAnswer question, and the check submit makes of the keys it names."""

from __future__ import annotations

from dataclasses import dataclass

from openturk.clock import Clock
from openturk.domain import ids, questions, uploads
from openturk.errors import WorkerError
from openturk.store.database import Database
from openturk.store.files import FileRepository, Upload
from openturk.store.repository import Repository
from openturk.workers import actions


@dataclass(frozen=True)
class Stored:
    file_key: str
    size: int


def upload(
    db: Database, clock: Clock, worker_id: str | None, assignment_id: str, question_identifier: str, content: bytes
) -> Stored:
    """Store ``content`` as the worker's file for one FileUploadAnswer question of an open assignment.

    Written in one transaction: the row exists whole or not at all."""
    with db.write() as conn:
        repo = Repository(conn)
        now = clock.now_ms()
        _, hit = actions.own_open_assignment(repo, worker_id, assignment_id, now)
        question = questions.parse_question(hit.question)
        bounds = {identifier: (low, high) for identifier, low, high in question.upload_bounds}
        if question_identifier not in bounds:
            raise WorkerError(
                400, "NotAFileQuestion", f"Question {question_identifier!r} of this HIT is not a FileUploadAnswer."
            )
        problem = uploads.size_problem(len(content), *bounds[question_identifier])
        if problem is not None:
            raise WorkerError(400, "InvalidFileSize", problem)
        stored = Upload(ids.entity_id(), assignment_id, question_identifier, len(content))
        FileRepository(conn).add(stored, content, now)
        return Stored(stored.file_key, stored.size)
