"""The worker's path through a HIT, MTurk's way: find work, preview, accept, work, return, submit.

Thin pages over ``openturk.workers`` (discovery, tasks, actions, accounts). Requester content never
runs in the site's origin: HTMLQuestion pages load from the task origin in an ``<iframe sandbox>``
without ``allow-same-origin``; ExternalQuestion pages load from their own URL, keeping their own
origin (never the site's: ``frame_sandbox``); each with MTurk's four parameters. ``turkSubmitTo``
names the task origin and a task token (``openturk.web.task_origin``), so the answers never need the
site's session cookie.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openturk import digits
from openturk.domain import money, task_tokens
from openturk.domain.frame_urls import origin, with_task_parameters
from openturk.domain.questions import Question
from openturk.errors import InvalidParameterValue, OpenTurkError, WorkerError, XMLParseError
from openturk.settings import Settings
from openturk.web import access, questionform
from openturk.web.pages import Site, answer_fields, with_questionform
from openturk.web.task_origin import EXTERNAL_SANDBOX_FLAGS, SANDBOX_FLAGS, task_secret
from openturk.workers import accounts, actions, discovery, tasks, uploads

# A preview's task link lives this long (marketplace time): long enough to read a task, short enough
# that a link copied out of a preview soon stops showing it.
PREVIEW_VALID_MS = 3600 * 1000
# The frame's height when the HIT's FrameHeight is 0 (MTurk resized it to fit; a sandboxed
# cross-origin frame cannot be measured).
DEFAULT_FRAME_HEIGHT = 600
# Tries to accept a group's next HIT after a submit before giving up (others may take them first).
AUTO_ACCEPT_TRIES = 5
# What a preview's submit button says (externalHIT_v1.js shows MTurk's words; a QuestionForm here too).
PREVIEW_LABEL = "You must ACCEPT the HIT before you can submit the results."
NOTICES = {
    "submitted": "Your answers were submitted.",
    "returned": "You returned the HIT.",
    "no-more": "There are no more HITs in that group for you.",
}


def task_frame_sources(settings: Settings) -> list[str]:
    """What the site's frame-src allows: the task origin, HTTPS pages, and the loopback HTTP pages an
    ExternalURL may name (``openturk.domain.questions`` allows them for local testing)."""
    return [settings.task_base_url, "https:", "http://127.0.0.1:*", "http://localhost:*"]


def frame_sandbox(external_url: str, own_origins: Collection[str]) -> str:
    """The sandbox of an ExternalQuestion's frame: its own origin kept (``EXTERNAL_SANDBOX_FLAGS``)
    unless the URL is of one of ``own_origins`` (the page's, the site's, the task origin's), where
    ``allow-same-origin`` would let its script reach the site's page around it."""
    if origin(external_url) in {origin(own) for own in own_origins}:
        return SANDBOX_FLAGS
    return EXTERNAL_SANDBOX_FLAGS


@dataclass(frozen=True)
class Frame:
    """A task: requester content as a sandboxed frame (``src``), or a QuestionForm rendered by the
    site itself (``form``: openturk's own markup, FormattedContent sanitised); neither when the
    QuestionForm cannot be rendered."""

    src: str | None
    height: int
    sandbox: str = SANDBOX_FLAGS
    form: Markup | None = None


class SearchError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def parse_search(query: Mapping[str, str]) -> discovery.Search:
    """The search a find-work URL asks for; ``SearchError`` naming the field for a bad value."""
    words = query.get("q", "").strip()[:200]
    try:
        min_reward = money.parse_amount(query.get("min_reward", "").strip() or "0", "min_reward")
    except InvalidParameterValue as error:
        raise SearchError("Minimum reward must be an amount in USD, such as 0.50.", "min_reward") from error
    sort = query.get("sort", "newest")
    if sort not in discovery.SORTS:
        raise SearchError(f"Sort must be one of {', '.join(discovery.SORTS)}.", "sort")
    per_page = digits.non_negative(query.get("per_page", "20"))
    if per_page not in discovery.PAGE_SIZES:
        raise SearchError("HITs per page must be 10, 20, 50 or 100.", "per_page")
    page = digits.positive(query.get("page", "1"))
    if page is None or page > 100_000:
        raise SearchError("Page must be a whole number from 1.", "page")
    return discovery.Search(words, min_reward, sort, per_page, page)


class WorkPages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.secret = task_secret(site.settings)
        self.task_base = site.settings.task_base_url

    def routes(self) -> list[Route]:
        site = self.site
        return [
            Route("/work", self.find_work, methods=["GET"]),
            Route("/work/groups/{hit_type_id}", self.group, methods=["GET"]),
            Route("/work/hits/{hit_id}", self.preview, methods=["GET"]),
            Route("/work/hits/{hit_id}/accept", site.form(self.accept), methods=["POST"]),
            Route("/work/assignments/{assignment_id}", self.work, methods=["GET"]),
            Route("/work/assignments/{assignment_id}/state", self.state, methods=["GET"]),
            Route(access.QUESTIONFORM_SUBMIT_ROUTE, site.form(self.submit), methods=["POST"]),
            Route("/work/assignments/{assignment_id}/return", site.form(self.return_), methods=["POST"]),
            Route("/work/assignments/{assignment_id}/continue", site.form(self.continue_), methods=["POST"]),
            Route("/work/auto-accept", site.form(self.auto_accept), methods=["POST"]),
        ]

    # -- find work --------------------------------------------------------------------------------
    async def find_work(self, request: Request) -> Response:
        worker_id = self.site.worker_id(request)
        query = request.query_params
        values = {name: query.get(name, "") for name in ("q", "min_reward", "sort", "per_page")}
        try:
            search = parse_search(query)
        except SearchError as error:
            return self.site.render(
                request, "find_work.html", 400, title="Find work", values=values, error=error, found=None, notice=None
            )
        found = await run_in_threadpool(discovery.find_groups, self.site.db, self.site.clock, worker_id, search)
        return self.site.render(
            request,
            "find_work.html",
            title="Find work",
            values=values,
            error=None,
            found=found,
            notice=NOTICES.get(query.get("notice", "")),
            page_url=lambda page: "/work?" + urlencode({**_search_query(search), "page": page}),
        )

    async def group(self, request: Request) -> Response:
        """The group's next HIT the worker may preview (after ``after``: Skip)."""
        worker_id = self.site.worker_id(request)
        found = await run_in_threadpool(
            discovery.next_hit,
            self.site.db,
            self.site.clock,
            worker_id,
            request.path_params["hit_type_id"],
            request.query_params.get("after"),
        )
        return self.site.redirect(f"/work/hits/{found}" if found else "/work?notice=no-more")

    # -- preview and accept -----------------------------------------------------------------------
    async def preview(self, request: Request) -> Response:
        worker_id = self.site.worker_id(request)
        hit_id = request.path_params["hit_id"]
        try:
            seen = await run_in_threadpool(tasks.preview, self.site.db, self.site.clock, worker_id, hit_id)
        except WorkerError as error:
            return self._refused(request, error)
        grant = task_tokens.TaskGrant(hit_id, None, worker_id, self.site.clock.now_ms() + PREVIEW_VALID_MS)
        frame = self._frame(request, seen.question, grant)
        if seen.question.kind == "QuestionForm":
            # Shown as it will be, inside a disabled fieldset: nothing in it can be sent.
            frame = self._questionform(seen.hit.question, f"/work/hits/{hit_id}", submit_label=PREVIEW_LABEL)
        return self._with_media(
            self.site.render(
                request,
                "preview.html",
                title=f"Preview: {seen.hit_type.title}",
                seen=seen,
                reward=money.format_amount(seen.hit_type.reward_cents),
                frame=frame,
            ),
            frame,
        )

    async def accept(self, request: Request, form: FormData) -> Response:
        worker_id = self.site.worker_id(request)
        try:
            accepted = await run_in_threadpool(
                actions.accept, self.site.db, self.site.clock, worker_id, request.path_params["hit_id"]
            )
        except (WorkerError, OpenTurkError) as error:
            return self._refused(request, error)
        return self.site.redirect(f"/work/assignments/{accepted.assignment_id}")

    # -- work, return, continue -------------------------------------------------------------------
    async def work(self, request: Request) -> Response:
        try:
            found = await self._task(request)
        except WorkerError as error:
            return self._refused(request, error)
        return await self._work_page(request, found)

    async def _work_page(
        self,
        request: Request,
        found: tasks.Task,
        status: int = 200,
        values: Mapping[str, list[str]] | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> Response:
        worker_id = found.assignment.worker_id
        grant = task_tokens.TaskGrant(
            found.hit.hit_id, found.assignment.assignment_id, worker_id, found.assignment.deadline
        )
        frame = None
        if found.open and found.question.kind == "QuestionForm":
            session = self.site.session(request)
            frame = self._questionform(
                found.hit.question,
                f"/work/assignments/{found.assignment.assignment_id}/submit",
                values=values,
                errors=errors,
                hidden={"csrf_token": session.csrf_token if session else ""},
            )
        elif found.open:
            frame = self._frame(request, found.question, grant)
        auto_accept = await run_in_threadpool(accounts.auto_accept_next, self.site.db, worker_id)
        response = self.site.render(
            request,
            "work.html",
            status,
            title=f"Working: {found.hit_type.title}",
            task=found,
            reward=money.format_amount(found.hit_type.reward_cents),
            frame=frame,
            auto_accept=auto_accept,
            time_left=_duration(found.seconds_left),
        )
        return self._with_media(response, frame)

    async def submit(self, request: Request, form: FormData) -> Response:
        """A QuestionForm's answers, checked again here (every constraint, whatever the browser did);
        refused ones show the form again with each error at its question, and nothing is submitted.
        FileUploadAnswer files are stored first (openturk.workers.uploads), as the worker API does."""
        try:
            found = await self._task(request)
        except WorkerError as error:
            return self._refused(request, error)
        if found.question.kind != "QuestionForm":
            refusal = WorkerError(400, "NotAQuestionForm", "This HIT's task submits its own answers.")
            return self._refused(request, refusal)
        try:
            parsed = questionform.parse(found.hit.question)
        except XMLParseError as error:
            return self._refused(request, error)
        submitted = answer_fields(form)
        files: dict[str, questionform.UploadedFile] = {}
        problems: dict[str, str] = {}
        file_questions = {identifier for identifier, _, _ in found.question.upload_bounds}
        for name, value in form.multi_items():
            # A file under a name that is no FileUploadAnswer question is ignored, as other fields
            # that name no question are: its error would have no question to be shown at.
            if isinstance(value, UploadFile) and value.filename and found.open and name in file_questions:
                try:
                    stored = await run_in_threadpool(
                        uploads.upload,
                        self.site.db,
                        self.site.clock,
                        found.assignment.worker_id,
                        found.assignment.assignment_id,
                        name,
                        await value.read(),
                    )
                except WorkerError as error:
                    problems[name] = error.message
                    continue
                files[name] = questionform.UploadedFile(stored.file_key, stored.size)
        # a thread: AnswerFormatRegex matching may take up to its time limit (jsregex.MATCH_SECONDS)
        answers, errors = await run_in_threadpool(questionform.validate, parsed, submitted, files)
        errors = {**errors, **problems}
        if errors and found.open:
            return await self._work_page(request, found, 400, submitted, errors)
        try:
            await run_in_threadpool(
                actions.submit,
                self.site.db,
                self.site.clock,
                found.assignment.worker_id,
                found.assignment.assignment_id,
                answers,
            )
        except (WorkerError, OpenTurkError) as error:
            return self._refused(request, error)
        return await self._after_submit(found)

    async def state(self, request: Request) -> Response:
        """The assignment's state for the work page's script (it moves on once the task submitted)."""
        try:
            found = await self._task(request)
        except WorkerError as error:
            return JSONResponse(error.body(), error.status, headers=self.site.headers())
        body = {"Status": found.assignment.status, "Open": found.open, "SecondsLeft": found.seconds_left}
        return JSONResponse(body, headers=self.site.headers())

    async def return_(self, request: Request, form: FormData) -> Response:
        worker_id = self.site.worker_id(request)
        assignment_id = request.path_params["assignment_id"]
        try:
            await self._task(request)  # another worker's assignment answers as a missing one, as everywhere here
            await run_in_threadpool(actions.return_assignment, self.site.db, self.site.clock, worker_id, assignment_id)
        except WorkerError as error:
            return self._refused(request, error)
        return self.site.redirect("/work?notice=returned")

    async def continue_(self, request: Request, form: FormData) -> Response:
        """After the task submitted: the group's next HIT, already accepted, when the worker keeps
        auto-accept on; Find work otherwise. A task not yet submitted goes back to its page."""
        assignment_id = request.path_params["assignment_id"]
        try:
            found = await self._task(request)
        except WorkerError as error:
            return self._refused(request, error)
        if found.open:
            return self.site.redirect(f"/work/assignments/{assignment_id}")
        if found.assignment.status != "Submitted":
            return self.site.redirect("/work")
        return await self._after_submit(found)

    async def _after_submit(self, found: tasks.Task) -> Response:
        """The group's next HIT, already accepted, with auto-accept on; Find work otherwise."""
        worker_id = found.assignment.worker_id
        if await run_in_threadpool(accounts.auto_accept_next, self.site.db, worker_id):
            accepted = await run_in_threadpool(self._accept_next, worker_id, found.hit.hit_type_id)
            if accepted is not None:
                return self.site.redirect(f"/work/assignments/{accepted}")
        return self.site.redirect("/work?notice=submitted")

    def _accept_next(self, worker_id: str, hit_type_id: str) -> str | None:
        skipped: str | None = None
        for _ in range(AUTO_ACCEPT_TRIES):
            hit_id = discovery.next_hit(self.site.db, self.site.clock, worker_id, hit_type_id, skipped)
            if hit_id is None:
                return None
            try:
                return actions.accept(self.site.db, self.site.clock, worker_id, hit_id).assignment_id
            except WorkerError:
                skipped = hit_id  # taken by someone else meanwhile: the next one
        return None

    async def auto_accept(self, request: Request, form: FormData) -> Response:
        """Remember the worker's "auto-accept next HIT" choice (the box is on by default)."""
        worker_id = self.site.worker_id(request)
        on = form.get("auto_accept") == "on"
        await asyncio.to_thread(accounts.set_auto_accept_next, self.site.db, worker_id, on)
        back = form.get("next")
        target = back if isinstance(back, str) and back.startswith("/work/assignments/") else "/work"
        if request.headers.get("accept", "").startswith("application/json"):
            return JSONResponse({"AutoAcceptNext": on}, headers=self.site.headers())
        return self.site.redirect(target)

    # -- helpers ----------------------------------------------------------------------------------
    async def _task(self, request: Request) -> tasks.Task:
        """The signed-in worker's assignment the path names; ``WorkerError`` 404 for anyone else's."""
        worker_id = self.site.worker_id(request)
        assignment_id = request.path_params["assignment_id"]
        return await run_in_threadpool(tasks.task, self.site.db, self.site.clock, worker_id, assignment_id)

    def _frame(self, request: Request, question: Question, grant: task_tokens.TaskGrant) -> Frame:
        height = question.frame_height or DEFAULT_FRAME_HEIGHT
        token = task_tokens.issue(self.secret, grant)
        submit_to = f"{self.task_base}/submit/{token}"
        sandbox = SANDBOX_FLAGS
        if question.kind == "HTMLQuestion":
            page = f"{self.task_base}/task/{token}"
        elif question.kind == "ExternalQuestion" and question.external_url:
            page = question.external_url
            sandbox = frame_sandbox(page, (str(request.base_url), self.site.settings.base_url, self.task_base))
        else:
            return Frame(None, height)
        src = with_task_parameters(
            page,
            assignment_id=grant.assignment_id,
            hit_id=grant.hit_id,
            turk_submit_to=submit_to,
            worker_id=grant.worker_id,
        )
        return Frame(src, height, sandbox)

    def _questionform(self, document: str, action: str, **options: Any) -> Frame:
        try:
            form = questionform.parse(document)
        except XMLParseError:
            return Frame(None, 0)  # the page says the form cannot be shown
        return Frame(None, 0, form=questionform.render(form, action, **options))

    def _with_media(self, response: Response, frame: Frame | None) -> Response:
        """A page showing a QuestionForm allows what it needs (``pages.with_questionform``)."""
        if frame is not None and frame.form is not None:
            return with_questionform(response, frame.form)
        return response

    def _refused(self, request: Request, error: WorkerError | OpenTurkError) -> Response:
        return self.site.render(request, "error.html", error.status, title="Not possible", message=error.message)


def _search_query(search: discovery.Search) -> dict[str, Any]:
    return {
        "q": search.words,
        "min_reward": money.format_amount(search.min_reward_cents),
        "sort": search.sort,
        "per_page": search.page_size,
    }


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
