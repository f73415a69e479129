"""Explicit registration of operation handlers: ``@operation("CreateHIT")`` names the model's operation.

The table is checked against botocore's ``mturk`` model when the server starts
(``operations.handlers``): a name the model does not have, a name registered twice, or a model
operation with no handler is a start-up error, never a request that fails later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openturk.requester.context import Context

Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]

REGISTERED: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of the model operation ``name``."""

    def register(handler: Handler) -> Handler:
        if name in REGISTERED:
            first, second = REGISTERED[name].__qualname__, handler.__qualname__
            raise RuntimeError(f"operation {name} is registered twice ({first}, {second})")
        REGISTERED[name] = handler
        return handler

    return register
