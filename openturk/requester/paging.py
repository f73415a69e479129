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
from openturk.store.schema import ROW_ID_MAX

DEFAULT_PAGE_SIZE = 10
T = TypeVar("T")


class RowId(int):
    """A sample key that is an autoincrement row id, which a 32-bit column holds (``ROW_ID``)."""


ROW_ID = RowId(0)


def _same_shape(key: Any, sample: Any) -> bool:
    """Whether a decoded key has the structure of the keys this operation writes (tokens are forgeable)."""
    if isinstance(sample, list):
        return isinstance(key, list) and len(key) == len(sample) and all(map(_same_shape, key, sample))
    if isinstance(sample, bool) or isinstance(key, bool):
        return False
    if isinstance(sample, RowId):
        return isinstance(key, int) and 0 <= key <= ROW_ID_MAX
    if isinstance(sample, int):
        return isinstance(key, int) and -(2**63) <= key < 2**63
    # Text a store can hold: no lone surrogate (not UTF-8 at all) and no NUL (PostgreSQL's text refuses it).
    return isinstance(key, str) and len(key) <= 64 and "\x00" not in key and _encodable(key)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode(token: str | None, operation: str, sample_key: Any) -> Any:
    """The keyset position a token names; ``sample_key`` shows the shape a real key has."""
    if token is None:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if payload["o"] != operation or not _same_shape(payload["k"], sample_key):
            raise ValueError("token of another operation or shape")
        return payload["k"]
    except (ValueError, KeyError, TypeError, UnicodeError, RecursionError) as exc:
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
    sample_key: Any,
) -> tuple[list[T], str | None]:
    """Fetch one page after the token's position; return the items and the next token.

    As MTurk paged: every non-empty page carries a ``NextToken`` (the position after its last
    item), and only the empty page after the last item has none. Frameworks depend on it:
    Mephisto's ``get_outstanding_hits`` and oTree's ``get_all_assignments`` read ``NextToken``
    after every non-empty page and stop on the first empty one; boto3's paginators stop at the
    page without a token.

    ``sample_key`` is a key of the shape ``key_of`` returns (e.g. ``[0, ""]``): a forged token whose
    key has another shape is refused before it reaches a query.
    """
    size = page_size(params)
    after = decode(params.get("NextToken"), operation, sample_key)
    items = list(fetch(after, size))
    return items, encode(key_of(items[-1]), operation) if items else None
