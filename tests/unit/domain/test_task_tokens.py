"""Task tokens: a grant survives its own round trip and nothing else."""

from __future__ import annotations

from openturk.domain import task_tokens
from openturk.domain.task_tokens import TaskGrant

KEY = b"k" * 32
GRANT = TaskGrant("3HITID0000000000000000000000001", "4ASSIGNMENT00000000000000000001", "AWORKER0000001", 10_000)


def test_a_token_carries_its_grant_until_its_deadline() -> None:
    token = task_tokens.issue(KEY, GRANT)
    assert task_tokens.verify(KEY, token, 9_999) == GRANT
    assert task_tokens.verify(KEY, token, 10_000) is None  # the deadline itself is too late


def test_a_preview_grant_names_no_assignment() -> None:
    preview = TaskGrant(GRANT.hit_id, None, GRANT.worker_id, 10_000)
    found = task_tokens.verify(KEY, task_tokens.issue(KEY, preview), 0)
    assert found == preview and found.previewing


def test_any_change_or_another_key_is_refused() -> None:
    token = task_tokens.issue(KEY, GRANT)
    hit_id, assignment_id, worker_id, expires, signature = token.split(".")
    for forged in (
        f"{hit_id}.{assignment_id}.AOTHERWORKER01.{expires}.{signature}",
        f"{hit_id}.-.{worker_id}.{expires}.{signature}",
        f"{hit_id}.{assignment_id}.{worker_id}.99999999.{signature}",
        f"{hit_id}.{assignment_id}.{worker_id}.{expires}.{'0' * 32}",
        token + "0",
        "",
        "a.b.c.d.e",
    ):
        assert task_tokens.verify(KEY, forged, 0) is None, forged
    assert task_tokens.verify(b"another key", token, 0) is None
