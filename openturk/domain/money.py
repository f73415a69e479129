"""USD amounts: the wire's decimal strings, held as integer cents, and MTurk's fees.

Fees follow MTurk's 2015 price schedule: 20 % of reward and bonus, plus 20 % more for HITs with
10 or more assignments, at least one cent per assignment or bonus.
"""

from __future__ import annotations

import re

from openturk.errors import InvalidParameterValue

_AMOUNT = re.compile(r"^([0-9]+)(?:\.([0-9]{0,2}))?$")
MINIMUM_REWARD_CENTS = 1
LARGE_HIT_ASSIGNMENTS = 10


def parse_amount(text: str, field: str, minimum_cents: int = 0) -> int:
    match = _AMOUNT.match(text)
    if not match or len(match[1]) > 12:
        raise InvalidParameterValue(f"Value '{text[:32]}' for {field} is not a valid amount in USD.")
    cents = int(match[1]) * 100 + int((match[2] or "").ljust(2, "0") or 0)
    if cents < minimum_cents:
        raise InvalidParameterValue(f"Value '{text}' for {field} must be at least {format_amount(minimum_cents)}.")
    return cents


def format_amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def assignment_fee(reward_cents: int, max_assignments: int) -> int:
    rate = 40 if max_assignments >= LARGE_HIT_ASSIGNMENTS else 20
    return max(1, (reward_cents * rate + 99) // 100)


def bonus_fee(amount_cents: int) -> int:
    return max(1, (amount_cents * 20 + 99) // 100)
