"""The worker JSON API and MTurk's ``/mturk/externalSubmit`` form endpoint.

Who the worker is was settled at the trust boundary (``openturk.web.access``): under ``--auth sigv4``
the worker named by the bearer token from ``openturk workers create``; under ``--auth open`` the API
trusts the WorkerId it is given (like the sandbox without a login), and externalSubmit trusts the
assignment id, as MTurk's form did.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from openturk.clock import Clock
from openturk.errors import OpenTurkError, WorkerError
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.web import access
from openturk.web.forms import field_with_nul
from openturk.workers import actions, uploads
from openturk.workers import qualifications as worker_qualifications

Endpoint = Callable[[Request], Awaitable[Response]]


class WorkerAPI:
    def __init__(self, db: Database, clock: Clock, settings: Settings) -> None:
        self.db, self.clock, self.settings = db, clock, settings

    def routes(self) -> list[Route]:
        return [
            Route("/api/worker/hits", self._json(self.list_hits), methods=["GET"]),
            Route("/api/worker/hits/{hit_id}", self._json(self.preview), methods=["GET"]),
            Route("/api/worker/hits/{hit_id}/accept", self._json(self.accept), methods=["POST"]),
            Route("/api/worker/messages", self._json(self.list_messages), methods=["GET"]),
            Route("/api/worker/assignments/{assignment_id}/submit", self._json(self.submit), methods=["POST"]),
            Route("/api/worker/assignments/{assignment_id}/return", self._json(self.return_), methods=["POST"]),
            Route("/api/worker/qualifications", self._json(self.own_qualifications), methods=["GET"]),
            Route(
                "/api/worker/qualifications/{qualification_type_id}/test",
                self._json(self.start_test),
                methods=["GET"],
            ),
            Route(
                "/api/worker/qualifications/{qualification_type_id}/request",
                self._json(self.request_qualification),
                methods=["POST"],
            ),
            Route(access.UPLOAD_ROUTE, self._json(self.upload_file), methods=["PUT"]),
            Route("/mturk/externalSubmit", self.external_submit, methods=["POST"]),
        ]

    def _json(self, handler: Callable[[Request], Awaitable[Any]]) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:  # a path parameter holding NUL never gets here: the boundary refuses it (access._refuse_nul)
                return JSONResponse(await handler(request))
            except WorkerError as error:
                return JSONResponse(error.body(), status_code=error.status)
            except OpenTurkError as error:
                # A rule of the requester's side refused the action (e.g. an escrow that cannot be
                # covered): a 4xx naming it, never a 500.
                return JSONResponse({"Error": type(error).__name__, "Message": error.message}, error.status)

        return endpoint

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser goes
            raise WorkerError(400, "InvalidJSON", "The request body must be a JSON object.") from exc
        if not isinstance(body, dict):
            raise WorkerError(400, "InvalidJSON", "The request body must be a JSON object.")
        return body

    def _worker(self, request: Request, claimed: Any) -> str:
        """The acting worker: the claimed WorkerId in open mode, the token's worker in sigv4 mode."""
        worker_id = access.worker_of(request.scope)
        if worker_id is None:
            if self.settings.auth == "sigv4":  # the boundary admits no worker route without a token
                raise WorkerError(401, "MissingCredentials", "A worker bearer token is required.")
            return actions.check_worker_id(claimed)
        if claimed is not None and claimed != worker_id:
            raise WorkerError(403, "WorkerMismatch", "WorkerId does not match the worker token.")
        return worker_id

    async def list_hits(self, request: Request) -> Any:
        worker_id = self._worker(request, request.query_params.get("WorkerId"))
        hits = await run_in_threadpool(actions.available_hits, self.db, self.clock, worker_id)
        return {"HITs": hits, "NumResults": len(hits)}

    async def preview(self, request: Request) -> Any:
        worker_id = self._worker(request, request.query_params.get("WorkerId"))
        return await run_in_threadpool(actions.preview, self.db, self.clock, worker_id, request.path_params["hit_id"])

    async def own_qualifications(self, request: Request) -> Any:
        worker_id = self._worker(request, request.query_params.get("WorkerId"))
        return await run_in_threadpool(worker_qualifications.own, self.db, worker_id)

    async def start_test(self, request: Request) -> Any:
        """GET, as a page is fetched, though it records the start: the Test is shown and timed at once."""
        worker_id = self._worker(request, request.query_params.get("WorkerId"))
        started = await run_in_threadpool(
            worker_qualifications.start_test,
            self.db,
            self.clock,
            worker_id,
            request.path_params["qualification_type_id"],
        )
        return {
            "QualificationTypeId": started.qualification_type_id,
            "Name": started.name,
            "Test": started.test,
            "TestDurationInSeconds": started.test_duration_s,
            "Deadline": started.deadline / 1000,
        }

    async def list_messages(self, request: Request) -> Any:
        worker_id = self._worker(request, request.query_params.get("WorkerId"))
        found = await run_in_threadpool(actions.messages, self.db, worker_id)
        return {"Messages": found, "NumResults": len(found)}

    async def accept(self, request: Request) -> Any:
        body = await self._body(request)
        worker_id = self._worker(request, body.get("WorkerId"))
        accepted = await run_in_threadpool(
            actions.accept, self.db, self.clock, worker_id, request.path_params["hit_id"]
        )
        return {"AssignmentId": accepted.assignment_id, "HITId": accepted.hit_id, "Deadline": accepted.deadline / 1000}

    async def submit(self, request: Request) -> Any:
        body = await self._body(request)
        worker_id = self._worker(request, body.get("WorkerId"))
        answers = body.get("Answers", {})
        if not isinstance(answers, dict):
            raise WorkerError(400, "InvalidAnswer", "Answers must be an object of QuestionIdentifier to value.")
        assignment_id = request.path_params["assignment_id"]
        await run_in_threadpool(actions.submit, self.db, self.clock, worker_id, assignment_id, list(answers.items()))
        return {"AssignmentId": assignment_id, "AssignmentStatus": "Submitted"}

    async def upload_file(self, request: Request) -> Any:
        """The raw body is the file (capped at the boundary); the answer names the key submit takes."""
        worker_id = self._worker(request, request.query_params.get("WorkerId"))
        stored = await run_in_threadpool(
            uploads.upload,
            self.db,
            self.clock,
            worker_id,
            request.path_params["assignment_id"],
            request.path_params["question_identifier"],
            await request.body(),
        )
        return {"UploadedFileKey": stored.file_key, "UploadedFileSizeInBytes": stored.size}

    async def return_(self, request: Request) -> Any:
        body = await self._body(request)
        worker_id = self._worker(request, body.get("WorkerId"))
        assignment_id = request.path_params["assignment_id"]
        await run_in_threadpool(actions.return_assignment, self.db, self.clock, worker_id, assignment_id)
        return {"AssignmentId": assignment_id, "AssignmentStatus": "Returned"}

    async def request_qualification(self, request: Request) -> Any:
        body = await self._body(request)
        worker_id = self._worker(request, body.get("WorkerId"))
        test_answers = body.get("Answers")
        if test_answers is not None and not isinstance(test_answers, dict):
            raise WorkerError(400, "InvalidAnswer", "Answers must be an object of QuestionIdentifier to value.")
        type_id = request.path_params["qualification_type_id"]
        requested = await run_in_threadpool(
            worker_qualifications.request,
            self.db,
            self.clock,
            worker_id,
            type_id,
            None if test_answers is None else list(test_answers.items()),
        )
        return {
            "QualificationTypeId": type_id,
            "QualificationRequestId": requested.qualification_request_id,
            "Status": requested.status,
            "IntegerValue": requested.integer_value,
        }

    async def external_submit(self, request: Request) -> Response:
        """MTurk's form target: every non-reserved field becomes a FreeText answer, in order.

        Whatever fails (a form that cannot be parsed, a missing or foreign assignment) is answered
        with the same HTML page and a 4xx, and nothing is submitted."""
        try:
            form = await request.form()
        except HTTPException as error:  # Starlette's 400 for a malformed multipart or urlencoded body
            page = _page("Not submitted", f"The form could not be read: {error.detail}")
            return HTMLResponse(page, status_code=error.status_code)
        assignment_id = form.get("assignmentId")
        try:
            if (field := field_with_nul(form)) is not None:
                raise WorkerError(400, "InvalidParameter", f"The field {field} holds the NUL character.")
            if not isinstance(assignment_id, str) or not assignment_id:
                raise WorkerError(400, "MissingAssignmentId", "The form must carry an assignmentId field.")
            if assignment_id == actions.PREVIEW_ASSIGNMENT_ID:
                raise WorkerError(400, "PreviewSubmit", "You must accept the HIT before you can submit it.")
            fields = [(k, v) for k, v in form.multi_items() if k not in actions.RESERVED_FIELDS and isinstance(v, str)]
            # None: under --auth open the form proves nothing beyond the assignment id.
            worker_id = access.worker_of(request.scope)
            await run_in_threadpool(actions.submit, self.db, self.clock, worker_id, assignment_id, fields)
        except WorkerError as error:
            return HTMLResponse(_page("Not submitted", error.message), status_code=error.status)
        except OpenTurkError as error:
            return HTMLResponse(_page("Not submitted", error.message), status_code=error.status)
        return HTMLResponse(_page("Submitted", f"Assignment {escape(assignment_id)} was submitted. Thank you."))


def _page(title: str, message: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>"
    )
