"""Calls made at the same moment from several threads: races a store must decide one way."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def released_together(attempt: Callable[[], str], times: int = 4) -> list[str]:
    """``attempt()`` from ``times`` threads released together by a barrier: their outcomes, sorted."""
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(times)

    def run() -> None:
        start.wait(10)
        outcome = attempt()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(outcomes)


def at_once(mturk: Any, call: Any, times: int = 4) -> list[str]:
    """Make ``call(mturk)`` from ``times`` threads released together: each one's outcome, "ok" or
    the TurkErrorCode it was refused with (or the exception's name: a 500 among them is a bug)."""

    def attempt() -> str:
        try:
            call(mturk)  # boto3 clients may be shared by threads
        except mturk.exceptions.RequestError as exc:
            return str(exc.response.get("TurkErrorCode", ""))
        except Exception as exc:
            return type(exc).__name__
        return "ok"

    return released_together(attempt, times)
