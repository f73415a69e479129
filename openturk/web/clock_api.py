"""``/api/clock``: exists only with ``--virtual-clock``; moves time and fires what falls due.

Admin routes: advancing the clock expires HITs and auto-approves (pays) submissions, so only an
admin may call them (``openturk.web.access``).
"""

from __future__ import annotations

import json
import math

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openturk.clock import VirtualClock
from openturk.timers import TimerRunner

MAX_ADVANCE_S = 10 * 365 * 24 * 3600


class ClockAPI:
    def __init__(self, runner: TimerRunner, clock: VirtualClock) -> None:
        self.runner, self.clock = runner, clock

    def routes(self) -> list[Route]:
        return [
            Route("/api/clock", self.now, methods=["GET"]),
            Route("/api/clock/advance", self.advance, methods=["POST"]),
        ]

    async def now(self, request: Request) -> JSONResponse:
        return JSONResponse({"Now": self.clock.now_ms() / 1000, "OffsetSeconds": self.clock.offset_ms / 1000})

    async def advance(self, request: Request) -> JSONResponse:
        """Move the clock forward ``Seconds``, firing every timer due in that span, in order."""
        try:
            seconds = json.loads(await request.body() or b"{}").get("Seconds")
        except (ValueError, AttributeError, RecursionError):
            seconds = None
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or not 0 <= seconds <= MAX_ADVANCE_S
        ):
            return JSONResponse(
                {"Error": "InvalidSeconds", "Message": f"Seconds must be a number from 0 to {MAX_ADVANCE_S}."},
                status_code=400,
            )
        fired = await self.runner.advance(self.clock, seconds)
        return JSONResponse({"Now": self.clock.now_ms() / 1000, "Fired": fired})
