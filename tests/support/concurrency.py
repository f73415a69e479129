"""Calls made at the same moment from several threads: races a store must decide one way."""

from __future__ import annotations

import threading
from typing import Any


def at_once(mturk: Any, call: Any, times: int = 4) -> list[str]:
    """Make ``call(mturk)`` from ``times`` threads released together: each one's outcome, "ok" or
    the TurkErrorCode it was refused with (or the exception's name: a 500 among them is a bug)."""
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(times)

    def attempt() -> None:
        start.wait(10)
        try:
            call(mturk)  # boto3 clients may be shared by threads
            outcome = "ok"
        except mturk.exceptions.RequestError as exc:
            outcome = exc.response.get("TurkErrorCode", "")
        except Exception as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)
