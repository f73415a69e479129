"""The check submit makes of the UploadedFileKeys its answers name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from openturk.domain import uploads
from openturk.errors import WorkerError
from openturk.store.files import FileRepository


def checked_fields(conn: Connection, assignment_id: str, fields: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``fields`` with every UploadedFileKey checked against this assignment's uploads for that
    question and its size set to the stored one; ``WorkerError`` (400) for a key that is not."""
    files = FileRepository(conn)
    checked: list[tuple[str, Any]] = []
    referenced = dict(uploads.referenced_keys(fields))
    for identifier, value in fields:
        key = referenced.get(identifier) if isinstance(value, dict) else None
        if key is None:
            checked.append((identifier, value))
            continue
        found = files.upload(key)
        if found is None or found.assignment_id != assignment_id or found.question_identifier != identifier:
            raise WorkerError(
                400,
                "InvalidAnswer",
                f"Answers.{identifier}.UploadedFileKey is not a file uploaded for this assignment and question.",
            )
        checked.append((identifier, {**value, "UploadedFileSizeInBytes": found.size}))
    return checked
