"""The signed-in worker's qualification pages: what they hold and asked for (with the system values
computed for them), the types they may request, and qualification tests taken as QuestionForms.

Everything is decided by ``openturk.workers.qualifications`` (``own``, ``requestable_types``,
``start_test``, ``started_test``, ``request``); these handlers only read forms and show outcomes.
A refusal (a late test, a retry delay not passed, a type already held) is shown on the
qualifications page with its status and message; a request taken redirects there with its outcome.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openturk.errors import WorkerError, XMLParseError
from openturk.web import display, questionform
from openturk.web.pages import Site, answer_fields, with_questionform
from openturk.workers import qualifications

PAGE_SIZE = 25
MAX_QUERY = 255  # ListQualificationTypes' Query is a short search text
# The listing's position: "<CreationTime ms>-<QualificationTypeId>" of the last type shown.
_CURSOR = re.compile(r"^([0-9]{1,15})-([0-9A-Za-z]{1,64})\Z")
# What a redirect after a request taken may announce (anything else in the address is ignored).
OUTCOMES = ("granted", "pending")


def _cursor(raw: str | None) -> tuple[int, str] | None:
    found = _CURSOR.match(raw or "")
    return (int(found.group(1)), found.group(2)) if found else None


def _outcome(owned: dict[str, Any], outcome: str | None, type_id: str | None) -> dict[str, Any] | None:
    """The held qualification or pending request a redirect names, from the worker's own lists."""
    if outcome not in OUTCOMES or not type_id:
        return None
    listed = owned["Qualifications"] if outcome == "granted" else owned["QualificationRequests"]
    for entry in listed:
        if entry["QualificationTypeId"] == type_id and not entry.get("System"):
            return {"outcome": outcome, **entry}
    return None


class QualificationPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        form = self.site.form
        return [
            Route("/qualifications", self.qualifications_page, methods=["GET"]),
            Route("/qualifications/{qualification_type_id}/request", form(self.request), methods=["POST"]),
            Route("/qualifications/{qualification_type_id}/test", self.test_page, methods=["GET"]),
            Route("/qualifications/{qualification_type_id}/test", form(self.submit_test), methods=["POST"]),
        ]

    async def qualifications_page(self, request: Request) -> Response:
        return await self._listing(request)

    async def request(self, request: Request, form: FormData) -> Response:
        """Ask for a type without a Test: granted at once (AutoGranted) or left Pending."""
        type_id = request.path_params["qualification_type_id"]
        try:
            requested = await asyncio.to_thread(
                qualifications.request, self.site.db, self.site.clock, self.site.worker_id(request), type_id, None
            )
        except WorkerError as error:
            return await self._listing(request, refusal=error)
        return self._outcome_redirect(type_id, requested)

    async def test_page(self, request: Request) -> Response:
        """Show the Test and start its clock (again, when started before)."""
        type_id = request.path_params["qualification_type_id"]
        try:
            started = await asyncio.to_thread(
                qualifications.start_test, self.site.db, self.site.clock, self.site.worker_id(request), type_id
            )
        except WorkerError as error:
            return self.site.render(
                request, "error.html", error.status, title="This test cannot be taken", message=error.message
            )
        return self._test(request, started)

    async def submit_test(self, request: Request, form: FormData) -> Response:
        """Check the answers as the QuestionForm says (shown again with the errors while there is
        time), then send them: scored against the AnswerKey, or left Pending for the requester."""
        type_id = request.path_params["qualification_type_id"]
        worker_id = self.site.worker_id(request)
        try:
            started = await asyncio.to_thread(qualifications.started_test, self.site.db, worker_id, type_id)
            test = questionform.parse(started.test)
        except (WorkerError, XMLParseError) as error:
            return await self._listing(request, refusal=_refusal(error))
        submitted = answer_fields(form)
        # a thread: AnswerFormatRegex matching may take up to its time limit (jsregex.MATCH_SECONDS)
        answers, errors = await asyncio.to_thread(questionform.validate, test, submitted)
        # Past the deadline the answers are sent as they are: the refusal says the time is up.
        if errors and self.site.clock.now_ms() <= started.deadline:
            return self._test(request, started, test, values=submitted, errors=errors, status=400)
        try:
            requested = await asyncio.to_thread(
                qualifications.request, self.site.db, self.site.clock, worker_id, type_id, answers
            )
        except WorkerError as error:
            return await self._listing(request, refusal=error)
        return self._outcome_redirect(type_id, requested)

    # -- rendering ----------------------------------------------------------------------------------
    def _test(
        self,
        request: Request,
        started: qualifications.TestStarted,
        test: questionform.QuestionForm | None = None,
        *,
        values: dict[str, list[str]] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        try:
            test = test or questionform.parse(started.test)
        except XMLParseError as error:
            return self.site.render(
                request, "error.html", 422, title="This test cannot be shown", message=error.message
            )
        session = self.site.session(request)
        markup = questionform.render(
            test,
            f"/qualifications/{started.qualification_type_id}/test",
            values=values,
            errors=errors,
            hidden={"csrf_token": session.csrf_token if session else ""},
            submit_label="Send my answers",
        )
        page = self.site.render(
            request,
            "qualification_test.html",
            status,
            title=f"Test: {started.name}",
            started=started,
            form_html=markup,
            show=display,
        )
        return with_questionform(page, markup)

    async def _listing(self, request: Request, *, refusal: WorkerError | None = None) -> Response:
        worker_id = self.site.worker_id(request)
        query_text = request.query_params.get("q", "").strip()[:MAX_QUERY]
        raw_after = request.query_params.get("after")
        after = _cursor(raw_after)
        if raw_after and after is None:
            return self.site.render(
                request,
                "error.html",
                400,
                title="This address is not right",
                message="after is not a position in the list.",
            )
        owned = await asyncio.to_thread(qualifications.own, self.site.db, worker_id)
        found = await asyncio.to_thread(
            qualifications.requestable_types, self.site.db, worker_id, query_text or None, after, PAGE_SIZE + 1
        )
        shown = found[:PAGE_SIZE]
        last = shown[-1].qualification_type if shown and len(found) > PAGE_SIZE else None
        more = (
            "?"
            + urlencode(
                {
                    **({"q": query_text} if query_text else {}),
                    "after": f"{last.creation_time}-{last.qualification_type_id}",
                }
            )
            if last
            else None
        )
        return self.site.render(
            request,
            "qualifications.html",
            refusal.status if refusal else 200,
            title="Qualifications",
            system=[q for q in owned["Qualifications"] if q["System"]],
            held=[q for q in owned["Qualifications"] if not q["System"]],
            pending=owned["QualificationRequests"],
            requestable=shown,
            query_text=query_text,
            more=more,
            first_page=after is None,
            refusal=refusal,
            # The page a refused test can be taken again from (the only refusal with a way on).
            retry_test=request.path_params.get("qualification_type_id"),
            outcome=None
            if refusal
            else _outcome(owned, request.query_params.get("outcome"), request.query_params.get("type")),
            show=display,
        )

    def _outcome_redirect(self, type_id: str, requested: qualifications.Requested) -> Response:
        outcome = "granted" if requested.status == "Granted" else "pending"
        return self.site.redirect("/qualifications?" + urlencode({"outcome": outcome, "type": type_id}))


def _refusal(error: WorkerError | XMLParseError) -> WorkerError:
    if isinstance(error, WorkerError):
        return error
    return WorkerError(422, "TestNotShown", f"This test cannot be shown: {error.message}")
