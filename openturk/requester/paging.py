"""NextToken / MaxResults pagination: opaque, stable keyset tokens.

A token names the operation it belongs to and the sort key of the last item served, so inserts
between pages neither repeat nor skip items. DECISION: default page size 10, as MTurk's samples.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from openturk.errors import InvalidParameterValue

DEFAULT_PAGE_SIZE = 10
T = TypeVar("T")


def decode(token: str | None, operation: str) -> Any:
    if token is None:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if payload["o"] != operation:
            raise ValueError("token of another operation")
        return payload["k"]
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise InvalidParameterValue(f"NextToken '{token[:64]}' is invalid for {operation}.") from exc


def encode(key: Any, operation: str) -> str:
    raw = json.dumps({"o": operation, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def page_size(params: dict[str, Any]) -> int:
    return int(params.get("MaxResults", DEFAULT_PAGE_SIZE))


def paginate(
    params: dict[str, Any],
    operation: str,
    fetch: Callable[[Any, int], Sequence[T]],
    key_of: Callable[[T], Any],
) -> tuple[list[T], str | None]:
    """Fetch one page after the token's position; return the items and the next token, if any."""
    size = page_size(params)
    after = decode(params.get("NextToken"), operation)
    items = list(fetch(after, size + 1))
    if len(items) > size:
        items = items[:size]
        return items, encode(key_of(items[-1]), operation)
    return items, None
