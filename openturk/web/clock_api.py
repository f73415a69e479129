"""``/api/clock``: exists only with ``--virtual-clock``; moves time and fires what falls due.

Admin routes: advancing the clock expires HITs and auto-approves (pays) submissions, so only an
admin may call them (``openturk.web.access``).
"""

from __future__ import annotations

import asyncio
import json
import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openturk import timers
from openturk.clock import VirtualClock
from openturk.store.database import Database

MAX_ADVANCE_S = 10 * 365 * 24 * 3600


class ClockAPI:
    def __init__(self, db: Database, clock: VirtualClock) -> None:
        self.db, self.clock = db, clock
        self._lock = asyncio.Lock()

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
        async with self._lock:
            target = self.clock.now_ms() + int(seconds * 1000)
            fired = await run_in_threadpool(timers.fire_due, self.db, target, self.clock)
            self.clock.advance_to(target)
            await run_in_threadpool(timers.save_offset, self.db, self.clock)
        return JSONResponse({"Now": self.clock.now_ms() / 1000, "Fired": fired})
