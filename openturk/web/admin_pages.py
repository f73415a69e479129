"""The administrator's pages: every worker, with a button to disable or enable their log-in.

The routes are ``admin_page``s: the boundary admits only the admin's session (a requester's gets 403,
since workers are no requester's business).
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openturk.errors import WorkerError
from openturk.web import display
from openturk.web.pages import Site
from openturk.workers import accounts, actions, directory


class AdminPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/admin/workers", self.workers, methods=["GET"]),
            Route("/admin/workers/{worker_id}/disabled", self.site.form(self.set_disabled), methods=["POST"]),
        ]

    async def workers(self, request: Request) -> Response:
        page = display.page_number(request.query_params.get("page"))
        if page is None:
            return self._error(request, 400, "This address is not right", "page must be a whole number from 1.")
        listing = await asyncio.to_thread(directory.list_workers, self.site.db, page)
        return self.site.render(request, "admin_workers.html", title="Workers", listing=listing, show=display)

    async def set_disabled(self, request: Request, form: FormData) -> Response:
        try:
            worker_id = actions.check_worker_id(request.path_params["worker_id"])
        except WorkerError as error:
            return self._error(request, 400, "No such worker", error.message)
        wanted = form.get("disabled")
        if wanted not in ("0", "1"):
            return self._error(request, 400, "Form not understood", "disabled must be 1 (disable) or 0 (enable).")
        raw_page = form.get("page")
        page = display.page_number(raw_page if isinstance(raw_page, str) else None) or 1
        try:
            await asyncio.to_thread(accounts.set_disabled, self.site.db, self.site.site_clock, worker_id, wanted == "1")
        except accounts.AccountError as error:
            return self._error(request, 404, "No such account", error.message)
        return self.site.redirect(f"/admin/workers?page={page}#worker-{worker_id}")

    def _error(self, request: Request, status: int, title: str, message: str) -> Response:
        return self.site.render(request, "error.html", status, title=title, message=message)
