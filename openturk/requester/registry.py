"""Explicit registration of operation handlers: ``@operation("CreateHIT")`` names the model's operation.

The table is checked against botocore's ``mturk`` model when the server starts
(``operations.handlers``): a name the model does not have, a name registered twice, or a model
operation with no handler is a start-up error, never a request that fails later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openturk.requester.context import Context

Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]

REGISTERED: dict[str, Handler] = {}
# By operation: the one message its documentation gives for a member missing or invalid, in place of
# the parser's (``parser.parse_input``'s ``invalid_messages``).
INVALID_MESSAGES: dict[str, dict[str, str]] = {}


def operation(name: str, invalid: Mapping[str, str] | None = None) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of the model operation ``name``; ``invalid``:
    the documented message for each named member that is missing or invalid."""

    def register(handler: Handler) -> Handler:
        if name in REGISTERED:
            first, second = REGISTERED[name].__qualname__, handler.__qualname__
            raise RuntimeError(f"operation {name} is registered twice ({first}, {second})")
        REGISTERED[name] = handler
        if invalid:
            INVALID_MESSAGES[name] = dict(invalid)
        return handler

    return register
