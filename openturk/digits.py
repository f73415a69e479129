"""Whole numbers written by a client: ASCII digits only, and a bounded count of them.

``str.isdigit`` also accepts other scripts' digits and superscripts ("²", "٣") that ``int`` then
refuses or reads, and ``int`` refuses more than 4,300 digits; either would surface as a 500. Every
number read from a request's text goes through here first.
"""

from __future__ import annotations

from openturk.store.schema import ROW_ID_MAX

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # XML Schema's xs:int, and the model's integer


def non_negative(text: str, max_digits: int = 9) -> int | None:
    """``text`` as an integer ≥ 0 when it is 1 to ``max_digits`` ASCII digits; None otherwise."""
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def positive(text: str, max_digits: int = 9) -> int | None:
    """As ``non_negative``, for a number that must be at least 1."""
    number = non_negative(text, max_digits)
    return number if number else None


def row_id(text: str) -> int | None:
    """A row's id (a message's number): a whole number from 1 that an autoincrement column holds."""
    number = positive(text, max_digits=10)
    return number if number is not None and number <= ROW_ID_MAX else None


def xs_int(text: str) -> int | None:
    """``text`` as XML Schema's ``xs:int`` (an optional sign, ASCII digits, 32 bits); None otherwise.
    Surrounding white space is allowed, as the schema's white-space rule collapses it."""
    body = text.strip()
    sign = -1 if body[:1] == "-" else 1
    number = non_negative(body[1:] if body[:1] in "+-" and body else body, max_digits=20)
    if number is None or not INT32_MIN <= sign * number <= INT32_MAX:
        return None
    return sign * number
