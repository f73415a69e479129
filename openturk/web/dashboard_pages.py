"""The signed-in worker's own pages: the dashboard (assignments by day, earnings, bonuses) and the
inbox of NotifyWorkers messages. Both read only the session's worker (``openturk.workers.dashboard``)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openturk import digits
from openturk.web import display
from openturk.web.pages import Site
from openturk.workers import dashboard


class DashboardPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/dashboard", self.dashboard, methods=["GET"]),
            Route("/messages", self.messages, methods=["GET"]),
        ]

    async def dashboard(self, request: Request) -> Response:
        page = display.page_number(request.query_params.get("page"))
        if page is None:
            return self._bad_parameter(request, "page must be a whole number from 1.")
        board = await asyncio.to_thread(dashboard.dashboard, self.site.db, self.site.worker_id(request), page)
        return self.site.render(request, "dashboard.html", title="Your dashboard", board=board, show=display)

    async def messages(self, request: Request) -> Response:
        raw = request.query_params.get("before")
        before = digits.row_id(raw) if raw is not None else None
        if raw is not None and before is None:
            return self._bad_parameter(request, "before must be a whole number from 1 (a message's number).")
        found = await asyncio.to_thread(dashboard.inbox, self.site.db, self.site.worker_id(request), before)
        return self.site.render(
            request, "messages.html", title="Messages", inbox=found, first_page=before is None, show=display
        )

    def _bad_parameter(self, request: Request, message: str) -> Response:
        return self.site.render(request, "error.html", 400, title="This address is not right", message=message)
