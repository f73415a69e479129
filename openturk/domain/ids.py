"""Identifier formats MTurk used.

HITId, AssignmentId and HITTypeId were 30 characters of ``[0-9A-Z]`` starting with a digit
(``36818Z1KV5CDQ807J1UQ45304AOA3Z``); WorkerIds and CustomerIds are ``A`` plus 13 of the same.
"""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.digits + string.ascii_uppercase


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def entity_id() -> str:
    return secrets.choice("123456789") + _random(29)


def customer_id() -> str:
    return "A" + _random(13)


def worker_id() -> str:
    return "A" + _random(13)


def access_key_id() -> str:
    return "AKIA" + _random(16)


def secret_access_key() -> str:
    return secrets.token_urlsafe(30)[:40]
