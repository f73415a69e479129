"""Assemble the ASGI application from settings: store, clock, routes and background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from openturk import __version__, digits, worker_mail
from openturk.api import auth
from openturk.api.skeleton import FastPath, MTurkEndpoint
from openturk.cache import LRU
from openturk.clock import Clock, SystemClock, VirtualClock
from openturk.errors import ProtocolError
from openturk.notify import deliveries, retry, transports
from openturk.notify.dispatcher import Dispatcher, DispatcherSettings
from openturk.requester import account
from openturk.requester.context import Context
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.store.shared_clock import StoredOffset
from openturk.timers import TimerRunner
from openturk.web.access import Boundary
from openturk.web.account_pages import AccountPages
from openturk.web.admin_pages import AdminPages
from openturk.web.clock_api import ClockAPI
from openturk.web.dashboard_pages import DashboardPages
from openturk.web.files_api import FilesAPI
from openturk.web.pages import STATIC, Site
from openturk.web.profile_pages import ProfilePages
from openturk.web.qualification_pages import QualificationPages
from openturk.web.requester_pages import RequesterPages
from openturk.web.task_origin import TaskOrigin
from openturk.web.work_pages import WorkPages, task_frame_sources
from openturk.web.worker_api import WorkerAPI

log = logging.getLogger("openturk.server")
# Access keys whose owner (and secret) the process keeps in memory.
KNOWN_KEYS = 10_000


class Authenticator:
    """Maps a signed request to a CustomerId according to the auth mode."""

    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        # Access keys never change owner, so a found key may be remembered; open mode makes a
        # requester for any key a caller invents, so what is remembered has a size.
        self._known: LRU[str, tuple[str, str | None]] = LRU(KNOWN_KEYS)

    def _lookup(self, access_key_id: str) -> tuple[str, str | None] | None:
        found = self._known.get(access_key_id)
        if found is None:
            with self.db.read() as conn:
                found = Repository(conn).access_key(access_key_id)
            if found is not None:
                self._known.put(access_key_id, found)
        return found

    def verify(
        self, signed: auth.SignedRequest, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> str | None:
        found = self._lookup(signed.access_key_id)
        if self.settings.auth == "open":
            return found[0] if found is not None else None
        if found is None or found[1] is None:
            raise ProtocolError(
                "UnrecognizedClientException", "The security token included in the request is invalid.", 403
            )
        auth.verify_signature(signed, found[1], method, path, headers, body)
        return found[0]

    def knows(self, signed: auth.SignedRequest) -> bool:
        return signed.access_key_id in self._known

    def enroll(self, signed: auth.SignedRequest) -> str:
        return account.requester_for_open_key(
            self.db, signed.access_key_id, self.clock.now_ms(), self.settings.starting_balance_cents
        )


def build_app(settings: Settings, db: Database | None = None) -> Boundary:
    """The server's main listener (API, worker API, web site) as one ASGI application."""
    return build_apps(settings, db)[0]


def build_apps(settings: Settings, db: Database | None = None) -> tuple[Boundary, Boundary]:
    """The main application and the task origin's, sharing one database and clock: ``Boundary`` in
    front of every route of each (see ``openturk.web.access``); in the main one the API's fast path
    for ``POST /`` and Starlette for the rest."""
    db = db or Database(settings.db_url)
    clock: Clock = VirtualClock(shared=StoredOffset(db)) if settings.virtual_clock else SystemClock()
    timer_runner = TimerRunner(db, clock, settings.timer_interval_s)
    senders = transports.build(settings)
    dispatcher = Dispatcher(db, senders, dispatcher_settings(settings))

    def make_context(customer_id: str, request_id: str) -> Context:
        return Context(
            db=db, clock=clock, settings=settings, customer_id=customer_id, request_id=request_id, transports=senders
        )

    endpoint = MTurkEndpoint(
        make_context, Authenticator(db, clock, settings), inline=db.non_blocking_writes if db.is_sqlite else None
    )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "aws_endpoint": settings.aws_endpoint})

    async def metrics(request: Request) -> PlainTextResponse:
        def render() -> str:
            with db.read() as conn:
                return deliveries.metrics_text(conn)

        return PlainTextResponse(await asyncio.to_thread(render), media_type="text/plain; version=0.0.4")

    routes: list[Any] = [
        Route("/", endpoint.handle, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/deliveries", DeliveriesAPI(db).list, methods=["GET"]),
        *WorkerAPI(db, clock, settings).routes(),
        *FilesAPI(db, clock, settings).routes(),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    site = Site(db, clock, settings, frame_sources=task_frame_sources(settings))
    routes.extend(AccountPages(site).routes())
    routes.extend(WorkPages(site).routes())
    routes.extend(DashboardPages(site).routes())
    routes.extend(ProfilePages(site).routes())
    routes.extend(QualificationPages(site).routes())
    routes.extend(AdminPages(site).routes())
    routes.extend(RequesterPages(site, senders).routes())
    if isinstance(clock, VirtualClock):
        routes.extend(ClockAPI(timer_runner, clock).routes())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(db.migrate)
        # PostgreSQL: other processes' commits (queued events, a moved virtual clock) wake our loops.
        db.listen()
        tasks = [asyncio.create_task(timer_runner.run())]
        if db.is_sqlite:
            # API writes commit on the event loop: SQLite's WAL checkpoints (page copies and fsyncs)
            # move from inside those commits to a thread.
            db.checkpoint_in_background()
            tasks.append(asyncio.create_task(_checkpoint_loop(db)))
        if settings.dispatch:
            tasks.append(asyncio.create_task(dispatcher.run()))
            tasks.append(asyncio.create_task(worker_mail_loop(db, settings)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            db.dispose()

    app = Starlette(routes=routes, lifespan=lifespan)
    # The task origin's own small application: only requester content and its submissions.
    task_app = Starlette(routes=TaskOrigin(db, clock, settings).routes())
    return Boundary(FastPath(endpoint, app), app.routes, settings, db), Boundary(
        task_app, task_app.routes, settings, db
    )


def dispatcher_settings(settings: Settings) -> DispatcherSettings:
    return DispatcherSettings(
        batch_window_s=settings.batch_window_s, lease_s=settings.lease_s, retry=retry.from_settings(settings)
    )


async def _checkpoint_loop(db: Database, interval_s: float = 1.0) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(db.checkpoint)
        except Exception:
            log.exception("WAL checkpoint failed; it will run again")


async def worker_mail_loop(db: Database, settings: Settings, interval_s: float = 1.0) -> None:
    """NotifyWorkers emails still due: retries after a failed send, or sends a stopped process left."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(worker_mail.send_due, db, settings)
        except Exception:
            log.exception("worker mail pass failed; it will run again")


class DeliveriesAPI:
    """``GET /api/deliveries``: every requester's messages and their attempt logs, newest first.

    An admin route: ``openturk.web.access`` has admitted the caller before this runs.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, request: Request) -> JSONResponse:
        query = request.query_params
        limit = digits.positive(query.get("Limit", "100"), max_digits=4)
        if limit is None or limit > 1000:
            message = "Limit must be a whole number from 1 to 1000."
            return JSONResponse({"Error": "InvalidParameter", "Message": message}, 400)
        try:
            since = deliveries.since_ms(float(query["Since"])) if "Since" in query else None
        except ValueError:
            return JSONResponse({"Error": "InvalidParameter", "Message": "Since must be epoch seconds."}, 400)
        before = digits.row_id(query["Before"]) if "Before" in query else None
        if "Before" in query and before is None:
            message = "Before must be a MessageId (a whole number from 1): the page goes on from the message before it."
            return JSONResponse({"Error": "InvalidParameter", "Message": message}, 400)
        state = query.get("State")
        if state is not None and state not in deliveries.STATES:
            return JSONResponse(
                {"Error": "InvalidParameter", "Message": f"State must be one of {', '.join(deliveries.STATES)}."}, 400
            )

        def fetch() -> list[dict[str, Any]]:
            with self.db.read() as conn:
                return deliveries.list_messages(
                    conn,
                    customer_id=query.get("CustomerId"),
                    hit_type_id=query.get("HITTypeId"),
                    state=state,
                    since_ms=since,
                    before_id=before,
                    limit=limit,
                )

        return JSONResponse({"Messages": await asyncio.to_thread(fetch)})
