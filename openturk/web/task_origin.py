"""The task origin: requester content, served away from the site by a second listener of the process.

Everything here runs requester code or takes its posts, so nothing here reads the site's session
cookie (cookies do not tell ports apart: on one host the browser sends it here too, and it is
ignored). What a request may do is the task token in its path (``openturk.domain.task_tokens``):

- ``GET /task/{token}``: the HTMLQuestion page of the token's HIT, with MTurk's externalHIT_v1.js URL
  pointed at ours, under ``Content-Security-Policy: sandbox allow-scripts allow-forms allow-popups``
  (an opaque origin even if opened on its own).
- ``POST /submit/{token}/mturk/externalSubmit``: the task's answers (``turkSubmitTo`` is
  ``<task origin>/submit/{token}``); accepted for the token's assignment only, by its worker, before
  its deadline; the fields become FreeText answers as on ``/mturk/externalSubmit``. It answers 303 to
  ``/submit/{token}/done``; the site page around the frame then moves the worker on.
- ``GET /externalHIT_v1.js``: openturk's copy of MTurk's script.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from openturk.clock import Clock
from openturk.domain import task_tokens
from openturk.domain.frame_urls import PREVIEW_ASSIGNMENT_ID
from openturk.domain.questions import parse_question
from openturk.errors import OpenTurkError, WorkerError
from openturk.requester.files import url_secret
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.web.forms import MAX_FORM_FIELDS, field_with_nul
from openturk.workers import accounts, actions

TASK_STATIC = Path(__file__).parent / "task_static"
# The sandbox of requester content, as the site's iframe attribute and as the task origin's CSP:
# scripts, forms and popups, never allow-same-origin (an opaque origin, no cookies or storage of ours).
SANDBOX_FLAGS = "allow-scripts allow-forms allow-popups"
# An ExternalQuestion served from its own origin keeps that origin (what MTurk's unsandboxed frame
# gave it: psiTurk's and Dallinger's pages call their own server with XHR, and their popups call
# back into the frame through window.opener) and its popups open unsandboxed, as a link the worker
# opened in a new tab would. Never granted to a URL of the site's or the task origin's own origin
# (``openturk.web.work_pages.frame_sandbox``), so requester script never shares the site's origin.
EXTERNAL_SANDBOX_FLAGS = f"{SANDBOX_FLAGS} allow-same-origin allow-popups-to-escape-sandbox"
# MTurk's own copy, as HTMLQuestion templates load it (either scheme).
MTURK_SCRIPT = re.compile(r"https?://s3\.amazonaws\.com/mturk-public/externalHIT_v1\.js")


def task_secret(settings: Settings) -> bytes:
    """The key task tokens are signed with: the server's URL-signing key (the purpose is part of
    what is signed, so a token and a file URL signature can never stand for each other)."""
    return url_secret(settings)


def rewrite_mturk_script(html: str, task_base_url: str) -> str:
    return MTURK_SCRIPT.sub(f"{task_base_url}/externalHIT_v1.js", html)


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": f"sandbox {SANDBOX_FLAGS}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        # The page's URL carries the token: never send it to the hosts the content loads from.
        "Referrer-Policy": "no-referrer",
    }


def _page(title: str, message: str, status: int = 200) -> HTMLResponse:
    body = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status, headers=_headers())


class TaskOrigin:
    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db, self.clock, self.settings = db, clock, settings
        self.secret = task_secret(settings)

    def routes(self) -> list[Route]:
        return [
            Route("/externalHIT_v1.js", self.script, methods=["GET"]),
            Route("/task/{token}", self.html_question, methods=["GET"]),
            Route("/submit/{token}/mturk/externalSubmit", self.external_submit, methods=["POST"]),
            Route("/submit/{token}/done", self.done, methods=["GET"]),
        ]

    async def _grant(self, request: Request) -> task_tokens.TaskGrant | None:
        """The token's grant, while it is valid and its worker may still use the site: the worker
        site issues tokens to signed-in workers only, and one an admin disabled since acts no more."""
        grant = task_tokens.verify(self.secret, request.path_params["token"], self.clock.now_ms())
        if grant is None or not await run_in_threadpool(accounts.is_active, self.db, grant.worker_id):
            return None
        return grant

    async def script(self, request: Request) -> Response:
        return FileResponse(
            TASK_STATIC / "externalHIT_v1.js",
            media_type="text/javascript",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"},
        )

    async def html_question(self, request: Request) -> Response:
        grant = await self._grant(request)
        if grant is None:
            return _page("Task not available", "This task link is not valid or its time has passed.", 403)

        def question() -> str | None:
            with self.db.read() as conn:
                hit = Repository(conn).hit(grant.hit_id)
            return None if hit is None else hit.question

        document = await run_in_threadpool(question)
        parsed = None if document is None else parse_question(document)
        if parsed is None or parsed.html is None:
            return _page("Task not available", "This HIT has no HTML task.", 404)
        return HTMLResponse(rewrite_mturk_script(parsed.html, self.settings.task_base_url), headers=_headers())

    async def external_submit(self, request: Request) -> Response:
        """MTurk's form target for one granted assignment; 4xx and nothing recorded otherwise."""
        grant = await self._grant(request)
        if grant is None:
            return _page("Not submitted", "This task link is not valid or its time has passed.", 403)
        try:
            form = await request.form(max_fields=MAX_FORM_FIELDS)
        except (HTTPException, MultiPartException) as exc:  # Starlette's refusals of an unreadable body
            return _page("Not submitted", f"The form could not be read: {exc}", 400)
        if (field := field_with_nul(form)) is not None:
            await form.close()
            return _page("Not submitted", f"The field {field} holds the NUL character, which no field may hold.", 400)
        try:
            assignment_id = form.get("assignmentId")
            if grant.previewing or assignment_id == PREVIEW_ASSIGNMENT_ID:
                raise WorkerError(400, "PreviewSubmit", "You must ACCEPT the HIT before you can submit the results.")
            if grant.assignment_id is None or assignment_id != grant.assignment_id:
                raise WorkerError(403, "NotYourAssignment", "The form's assignmentId is not this task's assignment.")
            fields = [(k, v) for k, v in form.multi_items() if k not in actions.RESERVED_FIELDS and isinstance(v, str)]
            await run_in_threadpool(actions.submit, self.db, self.clock, grant.worker_id, grant.assignment_id, fields)
        except (WorkerError, OpenTurkError) as error:
            return _page("Not submitted", error.message, error.status)
        finally:
            await form.close()
        token = request.path_params["token"]
        return RedirectResponse(f"/submit/{token}/done", status_code=303, headers=_headers())

    async def done(self, request: Request) -> Response:
        return _page("Submitted", "Your answers were submitted. Thank you.")
