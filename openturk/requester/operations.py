"""The one table from MTurk operation names to handlers.

Each handler registers itself with ``@operation("Name")`` (``openturk.requester.registry``);
importing the requester modules here fills the table, and ``handlers()`` checks it against
botocore's ``mturk`` model before the first request: every model operation has exactly one
handler and every handler names a model operation.
"""

from __future__ import annotations

from functools import cache

from openturk.api import spec
from openturk.requester import (  # noqa: F401  (imported for their @operation registrations)
    account,
    assignments,
    files,
    hits,
    notifications,
    qualifications,
    review,
    workers,
)
from openturk.requester.registry import INVALID_MESSAGES, REGISTERED, Handler

# Operations that wait on something besides the store (SendTestEventNotification sends to the
# destination before it answers): never run on the event loop.
WAITS_OUTSIDE_STORE = frozenset({"SendTestEventNotification", "NotifyWorkers"})


def check(registered: dict[str, Handler], model_operations: list[str]) -> None:
    """Raise ``RuntimeError`` naming every operation the model has and no handler serves, or the reverse."""
    unknown = sorted(set(registered) - set(model_operations))
    missing = [name for name in model_operations if name not in registered]
    if unknown or missing:
        raise RuntimeError(
            f"operation table does not match the mturk model: not in the model {unknown}, without a handler {missing}"
        )


@cache
def handlers() -> dict[str, Handler]:
    model_operations = list(spec.service_model().operation_names)
    check(REGISTERED, model_operations)
    return {name: REGISTERED[name] for name in model_operations}


def invalid_messages() -> dict[str, dict[str, str]]:
    """By operation, the documented message for a missing or invalid member (``registry.operation``)."""
    return {name: dict(messages) for name, messages in INVALID_MESSAGES.items()}


def implemented() -> list[str]:
    return list(handlers())
