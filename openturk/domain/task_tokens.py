"""The credential a task carries in its URL: a signed grant of one HIT (preview) or one assignment
(work) to one worker until a deadline.

Requester content runs in a sandbox without the site's cookies, so what lets it load its page on the
task origin and post its answers (``turkSubmitTo`` + ``/mturk/externalSubmit``) is this token:
``HITId.AssignmentId.WorkerId.ExpiresMs.Signature``, the signature an HMAC-SHA256 (first 128 bits,
hex) over the other four under the server's key. Nothing is stored; a token cannot be changed
without the key, and it dies at its deadline (the assignment's, by the marketplace clock).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

# IDs are MTurk's [A-Z0-9]; "-" stands for "no assignment" (a preview).
_TOKEN = re.compile(r"^([A-Z0-9]{1,64})\.([A-Z0-9]{1,64}|-)\.(A[A-Z0-9]{1,63})\.([0-9]{1,15})\.([0-9a-f]{32})\Z")
# Keeps these signatures apart from any other HMAC the same key makes (the file download URLs).
_PURPOSE = b"openturk task grant\n"


@dataclass(frozen=True)
class TaskGrant:
    hit_id: str
    assignment_id: str | None  # None: a preview, which can show the task but never submit it
    worker_id: str
    expires_ms: int

    @property
    def previewing(self) -> bool:
        return self.assignment_id is None


def _signature(secret: bytes, payload: str) -> str:
    return hmac.new(secret, _PURPOSE + payload.encode(), hashlib.sha256).hexdigest()[:32]


def issue(secret: bytes, grant: TaskGrant) -> str:
    payload = f"{grant.hit_id}.{grant.assignment_id or '-'}.{grant.worker_id}.{grant.expires_ms}"
    return f"{payload}.{_signature(secret, payload)}"


def verify(secret: bytes, token: str, now_ms: int) -> TaskGrant | None:
    """The grant ``token`` carries if this key signed it and its deadline has not passed, else None.
    The signature is compared in constant time."""
    found = _TOKEN.match(token)
    if found is None:
        return None
    hit_id, assignment_id, worker_id, expires, presented = found.groups()
    expected = _signature(secret, token.rsplit(".", 1)[0])
    if not hmac.compare_digest(expected.encode(), presented.encode()):
        return None
    if int(expires) <= now_ms:
        return None
    return TaskGrant(hit_id, None if assignment_id == "-" else assignment_id, worker_id, int(expires))
