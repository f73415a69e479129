"""Assemble the ASGI application from settings: store, clock, routes and background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from openturk import __version__, timers
from openturk.api import auth
from openturk.api.skeleton import MTurkEndpoint
from openturk.clock import Clock, SystemClock, VirtualClock
from openturk.errors import ProtocolError
from openturk.requester import account
from openturk.requester.context import Context
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.web.clock_api import ClockAPI
from openturk.web.worker_api import WorkerAPI

log = logging.getLogger("openturk.server")


class Authenticator:
    """Maps a signed request to a CustomerId according to the auth mode."""

    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        # Access keys never change owner, so a found key may be remembered for the process's life.
        self._known: dict[str, tuple[str, str | None]] = {}

    def _lookup(self, access_key_id: str) -> tuple[str, str | None] | None:
        found = self._known.get(access_key_id)
        if found is None:
            with self.db.read() as conn:
                found = Repository(conn).access_key(access_key_id)
            if found is not None:
                self._known[access_key_id] = found
        return found

    def __call__(self, signed: auth.SignedRequest, method: str, path: str, headers: dict[str, str], body: bytes) -> str:
        if self.settings.auth == "open":
            found = self._lookup(signed.access_key_id)
            if found is not None:
                return found[0]
            return account.requester_for_open_key(
                self.db, signed.access_key_id, self.clock.now_ms(), self.settings.starting_balance_cents
            )
        found = self._lookup(signed.access_key_id)
        if found is None or found[1] is None:
            raise ProtocolError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )
        auth.verify_signature(signed, found[1], method, path, headers, body)
        return found[0]


def build_app(settings: Settings, db: Database | None = None) -> Starlette:
    db = db or Database(settings.db_url)
    clock: Clock = VirtualClock() if settings.virtual_clock else SystemClock()
    wake = asyncio.Event()

    def after_commit() -> None:
        # Issue 4's dispatcher waits on this to deliver right after events commit.
        wake.set()

    def make_context(customer_id: str, request_id: str) -> Context:
        return Context(db=db, clock=clock, settings=settings, customer_id=customer_id, request_id=request_id)

    endpoint = MTurkEndpoint(make_context, Authenticator(db, clock, settings), after_commit)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    routes: list[Any] = [
        Route("/", endpoint.handle, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        *WorkerAPI(db, clock, settings, after_commit).routes(),
    ]
    if isinstance(clock, VirtualClock):
        routes.extend(ClockAPI(db, clock, after_commit).routes())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(db.migrate)
        if isinstance(clock, VirtualClock):
            clock.set_offset(await asyncio.to_thread(timers.load_offset, db))
        loop_task = asyncio.create_task(_timer_loop(db, clock, settings.timer_interval_s))
        try:
            yield
        finally:
            loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop_task
            db.dispose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.db, app.state.clock, app.state.wake = db, clock, wake
    return app


async def _timer_loop(db: Database, clock: Clock, interval_s: float) -> None:
    while True:
        await asyncio.to_thread(timers.run_once, db, clock)
        await asyncio.sleep(interval_s)
