"""How the site writes times, days and money: UTC, spelled out, and dollars with cents."""

from __future__ import annotations

import time

from openturk import digits
from openturk.domain import money


def dollars(cents: int) -> str:
    return f"${money.format_amount(cents)}"


def utc_time(epoch_ms: int) -> str:
    """``2026-11-29 14:05 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch_ms // 1000))


def iso_time(epoch_ms: int) -> str:
    """The ``datetime`` attribute of a ``<time>`` element."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_ms // 1000))


def utc_day(epoch_ms: int) -> str:
    """``Sunday 29 November 2026``."""
    day = time.gmtime(epoch_ms // 1000)
    return f"{time.strftime('%A', day)} {day.tm_mday} {time.strftime('%B %Y', day)}"


def iso_day(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_ms // 1000))


def whole_number(raw: str) -> int | None:
    """A query parameter that must be a whole number from 1 (at most nine digits); None otherwise."""
    return digits.positive(raw)


def page_number(raw: str | None) -> int | None:
    """A list's ``page`` query parameter (absent: 1); None when it is not a whole number from 1."""
    return 1 if raw is None or raw == "" else whole_number(raw)
