"""A long-running process's heap: what its start-up built is kept out of the cyclic collector's passes.

A server's start-up leaves hundreds of thousands of long-lived objects (modules, botocore's service
model, SQLAlchemy's tables and compiled statements, moto's backends and, in the local AWS, every
message restored from its state file). Python's full collections (generation 2) walked them all
each time: 20-70 ms in ``openturk serve`` and the local AWS under the scale bench's load, during
which no request moved (a p99 of the end-to-end latency is a few such pauses). ``gc.freeze()`` moves
them to a permanent generation that collections skip; they are still freed by reference counting
when let go (only a cycle among them would stay, and start-up objects live as long as the process).
"""

from __future__ import annotations

import gc


def settle_after_startup() -> None:
    """Collect what start-up left as garbage, then freeze the rest: call once, just before serving."""
    gc.collect()
    gc.freeze()
