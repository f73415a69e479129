"""UniqueRequestToken: a repeat within 24 hours fails with the error that names the original.

DECISION (spec §2): CreateHIT* answers ``AWS.MechanicalTurk.HitAlreadyExists`` naming the HITId;
other operations ``AWS.MechanicalTurk.DuplicateRequest`` naming the original RequestId.
"""

from __future__ import annotations

import time

from openturk.errors import DuplicateRequest, HitAlreadyExists
from openturk.store.idempotency import RequestTokenRepository

WINDOW_MS = 24 * 3600 * 1000


def check(repo: RequestTokenRepository, customer_id: str, token: str | None, now: int) -> None:
    """Take ``token`` for this request's transaction, or raise the error naming the request that
    holds it. ``remember`` then records the result: call both in one transaction."""
    if token is None:
        return
    row = repo.claim_request_token(customer_id, token, now, expired_before=now - WINDOW_MS)
    if row is None:
        return
    processed = f'The idempotency token "{token}" has already been processed.'
    if row.operation in ("CreateHIT", "CreateHITWithHITType"):
        raise HitAlreadyExists(f'The HIT with ID "{row.result_id}" already exists. {processed}')
    raise DuplicateRequest(f"{processed} The original request ID was {row.request_id}.")


def remember(
    repo: RequestTokenRepository,
    customer_id: str,
    token: str | None,
    operation: str,
    result_id: str,
    request_id: str,
    now: int,
) -> None:
    if token is not None:
        repo.put_request_token(customer_id, token, operation, result_id, request_id, now)


def expiration_token(hit_id: str, expire_at_ms: int) -> str:
    """The token MTurk gave an UpdateExpirationForHIT that moves a HIT's expiration to a later time:
    the HITId and the time as Java prints a date, to the second
    (``3VJ4PFXFJ5VXUC3I783DUQKOMF2UAWWed Jul 14 20:26:06 UTC 2021``, Dallinger/Dallinger#3109)."""
    return hit_id + time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(expire_at_ms // 1000))
