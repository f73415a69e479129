"""USD amounts: the wire's decimal strings, held as integer cents, and MTurk's fees.

Fees follow MTurk's price schedule (from July 2015 to its closing): 20 % of reward and bonus, 20 %
more of the reward for HITs with 10 or more assignments, 5 % more of the reward for HITs that use
the Masters qualification; at least one cent per assignment or bonus, and rounded half up to the
cent ("$0.104 is rounded to $0.10, $0.105 is rounded to $0.11", MTurk's pricing FAQ).
"""

from __future__ import annotations

import re

from openturk.errors import InvalidParameterValue

_AMOUNT = re.compile(r"^([0-9]+)(?:\.([0-9]{0,2}))?\Z")
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


FEE_PERCENT = 20
LARGE_HIT_FEE_PERCENT = 20
MASTERS_FEE_PERCENT = 5


def _fee(cents: int, percent: int) -> int:
    return max(1, (cents * percent + 50) // 100)  # half a cent or more rounds up


def assignment_fee(reward_cents: int, max_assignments: int, masters: bool = False) -> int:
    """MTurk's fee on one assignment's reward: ``masters`` when the HIT uses the Masters qualification."""
    percent = FEE_PERCENT
    if max_assignments >= LARGE_HIT_ASSIGNMENTS:
        percent += LARGE_HIT_FEE_PERCENT
    if masters:
        percent += MASTERS_FEE_PERCENT
    return _fee(reward_cents, percent)


def bonus_fee(amount_cents: int) -> int:
    return _fee(amount_cents, FEE_PERCENT)
