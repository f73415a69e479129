"""The one table from MTurk operation names to handlers, built from the service model.

A handler is ``module.xform_name(Operation)`` in one of the requester modules. Operations of the
model that no module implements yet answer a clear ``RequestError`` rather than a fault.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from botocore import xform_name

from openturk.api import spec
from openturk.errors import UnsupportedOperation
from openturk.requester import account, assignments, files, hits, notifications, qualifications, review, workers
from openturk.requester.context import Context

Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]
# Operations that wait on something besides the store (SendTestEventNotification sends to the
# destination before it answers): never run on the event loop.
WAITS_OUTSIDE_STORE = frozenset({"SendTestEventNotification", "NotifyWorkers"})
MODULES = (hits, assignments, account, notifications, qualifications, workers, files, review)


def _unsupported(operation: str) -> Handler:
    def handler(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        raise UnsupportedOperation(f"The operation {operation} is not available in this version of openturk.")

    return handler


@cache
def handlers() -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for operation in spec.service_model().operation_names:
        name = xform_name(operation)
        found = [getattr(module, name) for module in MODULES if hasattr(module, name)]
        table[operation] = found[0] if found else _unsupported(operation)
    return table


def implemented() -> list[str]:
    return [
        op for op in spec.service_model().operation_names if any(hasattr(module, xform_name(op)) for module in MODULES)
    ]
