"""Backoff between delivery attempts: exponential with "equal jitter" (uniform in the upper half of
the step: never less than half the backoff), capped (minutes, not hours)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from openturk.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    base_ms: int = 1_000
    cap_ms: int = 300_000
    max_attempts: int = 12

    def delay_ms(self, attempt: int, rand: random.Random | None = None) -> int:
        """Delay after failed attempt number ``attempt`` (1-based): uniform in [d/2, d], d = base·2^(n-1)."""
        ceiling = min(self.cap_ms, self.base_ms * 2 ** min(attempt - 1, 30))
        draw = (rand or random).random()
        return int(ceiling / 2 + draw * ceiling / 2)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


def from_settings(settings: Settings) -> RetryPolicy:
    """The policy ``serve``/``dispatch`` were given (--retry-base, --retry-cap, --max-attempts)."""
    return RetryPolicy(
        base_ms=int(settings.retry_base_s * 1000),
        cap_ms=int(settings.retry_cap_s * 1000),
        max_attempts=settings.max_attempts,
    )
