"""Named queries of FileUploadAnswer uploads: store one, find one, read its bytes, delete an assignment's
or a HIT's."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, delete, insert, select

from openturk.store.schema import assignments, uploaded_files


class Upload(NamedTuple):
    file_key: str
    assignment_id: str
    question_identifier: str
    size: int


class FileRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, upload: Upload, content: bytes, now: int) -> None:
        self.conn.execute(insert(uploaded_files).values(**upload._asdict(), content=content, created_at=now))

    def upload(self, file_key: str) -> Upload | None:
        columns = (
            uploaded_files.c.file_key,
            uploaded_files.c.assignment_id,
            uploaded_files.c.question_identifier,
            uploaded_files.c.size,
        )
        row = self.conn.execute(select(*columns).where(uploaded_files.c.file_key == file_key)).first()
        return None if row is None else Upload(row.file_key, row.assignment_id, row.question_identifier, row.size)

    def content(self, file_key: str) -> bytes | None:
        query = select(uploaded_files.c.content).where(uploaded_files.c.file_key == file_key)
        found = self.conn.execute(query).scalar_one_or_none()
        return None if found is None else bytes(found)

    def delete_of_assignment(self, assignment_id: str) -> int:
        """Delete every file uploaded for the assignment; return how many."""
        result = self.conn.execute(delete(uploaded_files).where(uploaded_files.c.assignment_id == assignment_id))
        return int(result.rowcount)

    def delete_of_hit(self, hit_id: str) -> int:
        """Delete every file uploaded for the HIT's assignments (it is being disposed); return how many."""
        of_hit = select(assignments.c.assignment_id).where(assignments.c.hit_id == hit_id)
        result = self.conn.execute(delete(uploaded_files).where(uploaded_files.c.assignment_id.in_(of_hit)))
        return int(result.rowcount)
