"""Identifier formats MTurk used.

HITId, AssignmentId and HITTypeId were 30 characters of ``[0-9A-Z]`` starting with a digit
(``36818Z1KV5CDQ807J1UQ45304AOA3Z``); WorkerIds and CustomerIds are ``A`` plus 13 of the same.
"""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.digits + string.ascii_uppercase


def _random(length: int) -> str:
    # One draw from the OS instead of one per character (this runs in every CreateHIT): 8 random
    # bits per character leave the base-36 digits uniform to within 2^-(2.8·length).
    number = int.from_bytes(secrets.token_bytes(length), "big")
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 36)
        digits.append(_ALPHABET[digit])
    return "".join(digits)


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
