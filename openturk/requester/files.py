"""GetFileUploadURL: a signed, short-lived URL on this server for a worker's uploaded file."""

from __future__ import annotations

import secrets
from typing import Any

from openturk.domain import uploads
from openturk.errors import InvalidParameterValue
from openturk.requester.assignments import owned_assignment
from openturk.requester.context import Context
from openturk.requester.registry import operation
from openturk.settings import Settings
from openturk.store.files import FileRepository
from openturk.store.repository import Repository

# Without --file-url-secret, URLs are signed with a key drawn when the process starts: a URL lives
# 60 s, so one that dies with a restart costs nothing (docs/decisions.md).
_PROCESS_SECRET = secrets.token_bytes(32)


def url_secret(settings: Settings) -> bytes:
    return settings.file_url_secret.encode() if settings.file_url_secret else _PROCESS_SECRET


@operation("GetFileUploadURL")
def get_file_upload_url(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Only the HIT's owner, only a Submitted/Approved/Rejected assignment of a HIT not yet disposed
    whose answer to QuestionIdentifier is an upload of that assignment."""
    assignment_id, identifier = params["AssignmentId"], params["QuestionIdentifier"]
    with ctx.db.read() as conn:
        assignment, hit = owned_assignment(Repository(conn), ctx, assignment_id)
        if hit.status == "Disposed":  # its files were deleted with it
            raise InvalidParameterValue(
                f"HIT {hit.hit_id} of assignment {assignment_id} is disposed: its uploaded files were deleted."
            )
        key = uploads.answered_key(assignment.answer, identifier)
        found = None if key is None else FileRepository(conn).upload(key)
    if found is None or found.assignment_id != assignment_id or found.question_identifier != identifier:
        raise InvalidParameterValue(
            f"Assignment {assignment_id} has no FileUploadAnswer for QuestionIdentifier {identifier!r}."
        )
    # Rounded up to the second: the URL is "valid for 60 seconds", never a fraction less.
    expires = -(-ctx.clock.now_ms() // 1000) + uploads.URL_VALID_S
    path = uploads.signed_path(url_secret(ctx.settings), found.file_key, expires)
    return {"FileUploadURL": ctx.settings.base_url + path}
