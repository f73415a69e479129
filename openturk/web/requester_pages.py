"""The requester dashboard: HIT types and their notifications, HITs, assignments, results, deliveries.

Every route is a ``requester_page`` (a requester's session, or the admin's, which sees every
requester's objects). Reads go through ``openturk.requester.dashboard`` scoped by the session's
requester, so another requester's object answers 404 exactly like a missing one. Approve, reject and
"send test event" call the requester operations themselves (same checks, errors, events and money);
"send again" is ``outbox.redrive``, the path of ``openturk deliveries redrive``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openturk import digits
from openturk.domain import money
from openturk.domain.model import EVENT_TYPES
from openturk.errors import RequestError
from openturk.notify import deliveries
from openturk.notify.transports.base import Transport
from openturk.requester import assignments, batch_results, dashboard, notifications
from openturk.requester.context import Context
from openturk.web.pages import Site, form_text

T = TypeVar("T")
HITS_PER_PAGE = 25
MESSAGES_PER_PAGE = 20
# Event types a test event may carry: the lifecycle's, and Ping, which only a test event sends.
TEST_EVENT_TYPES = ("Ping", *EVENT_TYPES)
# What a redirect after a change tells the page to say (a fixed text per key: nothing is reflected).
NOTICES = {
    "approved": "The assignment was approved.",
    "rejected": "The assignment was rejected.",
    "sent": "The test event was sent.",
    "queued": "The message will be sent again now.",
}


class RequesterPages:
    def __init__(self, site: Site, transports: Mapping[str, Transport]) -> None:
        self.site, self.transports = site, transports

    def routes(self) -> list[Route]:
        form = self.site.form
        return [
            Route("/requester", self.hit_types, methods=["GET"]),
            Route("/requester/hit-types/{hit_type_id}/test-event", form(self.send_test_event), methods=["POST"]),
            Route("/requester/hit-types/{hit_type_id}/results.csv", self.hit_type_results, methods=["GET"]),
            Route("/requester/hits", self.hits, methods=["GET"]),
            Route("/requester/hits/{hit_id}", self.hit, methods=["GET"]),
            Route("/requester/hits/{hit_id}/review", form(self.review), methods=["POST"]),
            Route("/requester/hits/{hit_id}/results.csv", self.hit_results, methods=["GET"]),
            Route("/requester/deliveries", self.deliveries, methods=["GET"]),
            Route("/requester/deliveries/{message_id}/send-again", form(self.send_again), methods=["POST"]),
        ]

    # -- HIT types ---------------------------------------------------------------------------------
    async def hit_types(self, request: Request, *, status: int = 200, error: str | None = None) -> Response:
        views = await self._read(lambda conn: dashboard.hit_types_of(conn, self._customer(request)))
        return self._render(
            request, "requester_hit_types.html", status, title="HIT types", hit_types=views, error=error
        )

    async def send_test_event(self, request: Request, form: FormData) -> Response:
        hit_type_id = request.path_params["hit_type_id"]
        view = await self._read(lambda conn: dashboard.hit_type_of(conn, self._customer(request), hit_type_id))
        if view is None:
            return self._missing(request, f"HIT type {hit_type_id}")
        event_type = form_text(form, "event_type")
        if view.notification is None:
            return await self.hit_types(
                request, status=400, error=f"HIT type {hit_type_id} has no notification specification to test."
            )
        spec = view.notification
        offered = [t for t in TEST_EVENT_TYPES if t == "Ping" or t in spec.event_types]
        if event_type not in offered:
            error = f"The test event must be one of {', '.join(offered)}: the types this HIT type sends, or Ping."
            return await self.hit_types(request, status=400, error=error)
        params = {
            "Notification": {
                "Destination": spec.destination,
                "Transport": spec.transport,
                "Version": spec.version,
                "EventTypes": list(spec.event_types),
            },
            "TestEventType": event_type,
        }
        context = self._context(view.hit_type.customer_id)
        try:
            await asyncio.to_thread(notifications.send_test_event_notification, context, params)
        except RequestError as error:
            return await self.hit_types(request, status=400, error=error.message)
        return self.site.redirect("/requester?notice=sent")

    async def hit_type_results(self, request: Request) -> Response:
        hit_type_id = request.path_params["hit_type_id"]
        customer = self._customer(request)

        def build(conn: Any) -> str | None:
            if dashboard.hit_type_of(conn, customer, hit_type_id) is None:
                return None
            return batch_results.results_csv(conn, dashboard.hits_of_type(conn, hit_type_id), self.site.clock.now_ms())

        text = await self._read(build)
        if text is None:
            return self._missing(request, f"HIT type {hit_type_id}")
        return self._csv(text, f"{hit_type_id}-results.csv")

    # -- HITs and their assignments ------------------------------------------------------------------
    async def hits(self, request: Request) -> Response:
        page = digits.positive(request.query_params.get("page", "1"), max_digits=12)
        if page is None:
            return self._bad(request, "page must be a whole number from 1.")
        views, more = await self._read(
            lambda conn: dashboard.hits_page(conn, self._customer(request), page, HITS_PER_PAGE)
        )
        return self._render(request, "requester_hits.html", title="HITs", hits=views, page=page, more=more)

    async def hit(
        self, request: Request, *, status: int = 200, error: str | None = None, values: dict[str, str] | None = None
    ) -> Response:
        hit_id = request.path_params["hit_id"]
        customer = self._customer(request)

        def read(conn: Any) -> tuple[dashboard.HITView, list[dashboard.AssignmentView]] | None:
            view = dashboard.hit_of(conn, customer, hit_id)
            return (view, dashboard.assignments_of(conn, hit_id)) if view is not None else None

        found = await self._read(read)
        if found is None:
            return self._missing(request, f"HIT {hit_id}")
        view, items = found
        return self._render(
            request,
            "requester_hit.html",
            status,
            title=view.hit_type.title,
            view=view,
            assignments=items,
            error=error,
            values=values or {},
        )

    async def review(self, request: Request, form: FormData) -> Response:
        hit_id = request.path_params["hit_id"]
        assignment_id, decision = form_text(form, "assignment_id"), form_text(form, "decision")
        feedback = form_text(form, "feedback")
        found = await self._read(
            lambda conn: (
                dashboard.hit_of(conn, self._customer(request), hit_id),
                dashboard.assignment_of(conn, self._customer(request), hit_id, assignment_id),
            )
        )
        view, assignment = found
        if view is None or assignment is None:
            return self._missing(request, f"Assignment {assignment_id[:64]}" if assignment_id else "That assignment")
        values = {"assignment_id": assignment_id, "feedback": feedback}
        if decision not in ("approve", "reject"):
            return await self.hit(request, status=400, error="Choose Approve or Reject.", values=values)
        if decision == "reject" and not feedback.strip():
            return await self.hit(
                request, status=400, error="RequesterFeedback is required to reject an assignment.", values=values
            )
        params: dict[str, Any] = {"AssignmentId": assignment_id}
        if feedback:
            params["RequesterFeedback"] = feedback
        operation = assignments.approve_assignment if decision == "approve" else assignments.reject_assignment
        try:
            await asyncio.to_thread(operation, self._context(view.hit.customer_id), params)
        except RequestError as error:
            return await self.hit(request, status=400, error=error.message, values=values)
        notice = "approved" if decision == "approve" else "rejected"
        return self.site.redirect(f"/requester/hits/{hit_id}?notice={notice}")

    async def hit_results(self, request: Request) -> Response:
        hit_id = request.path_params["hit_id"]
        customer = self._customer(request)

        def build(conn: Any) -> str | None:
            view = dashboard.hit_of(conn, customer, hit_id)
            return batch_results.results_csv(conn, [view], self.site.clock.now_ms()) if view is not None else None

        text = await self._read(build)
        if text is None:
            return self._missing(request, f"HIT {hit_id}")
        return self._csv(text, f"{hit_id}-results.csv")

    # -- the delivery log --------------------------------------------------------------------------
    async def deliveries(self, request: Request) -> Response:
        query = request.query_params
        before = digits.row_id(query["before"]) if "before" in query else None
        if "before" in query and before is None:
            return self._bad(request, "before must be a message number.")
        hit_type_id = query.get("hit_type_id") or None
        customer = self._customer(request)

        def read(conn: Any) -> tuple[list[dict[str, Any]], list[dashboard.HITTypeView]]:
            found = deliveries.list_messages(
                conn, customer_id=customer, hit_type_id=hit_type_id, before_id=before, limit=MESSAGES_PER_PAGE + 1
            )
            return found, dashboard.hit_types_of(conn, customer)

        found, types = await self._read(read)
        return self._render(
            request,
            "requester_deliveries.html",
            title="Delivery log",
            messages=found[:MESSAGES_PER_PAGE],
            more=len(found) > MESSAGES_PER_PAGE,
            paged=before is not None,
            hit_types=types,
            hit_type_id=hit_type_id or "",
        )

    async def send_again(self, request: Request, form: FormData) -> Response:
        message_id = digits.row_id(request.path_params["message_id"])
        if message_id is None:
            return self._missing(request, "That message")
        customer = self._customer(request)

        def redrive() -> str | None:
            with self.site.db.write() as conn:
                return dashboard.send_again(conn, customer, message_id, self.site.site_clock.now_ms())

        problem = await asyncio.to_thread(redrive)
        if problem == "missing":
            return self._missing(request, f"Message {message_id}")
        if problem is not None:
            return self.site.render(request, "error.html", 409, title="Not sent again", message=problem)
        back = form_text(form, "hit_type_id")
        return self.site.redirect(
            "/requester/deliveries?notice=queued" + (f"&hit_type_id={back}" if back.isalnum() else "")
        )

    # -- shared ------------------------------------------------------------------------------------
    def _customer(self, request: Request) -> str | None:
        session = self.site.session(request)
        assert session is not None and session.kind in ("requester", "admin"), "a requester_page without a session"
        return session.customer_id

    def _context(self, customer_id: str) -> Context:
        return dashboard.act_as(self.site.db, self.site.clock, self.site.settings, self.transports, customer_id)

    async def _read(self, query: Callable[[Any], T]) -> T:
        def run() -> T:
            with self.site.db.read() as conn:
                return query(conn)

        return await asyncio.to_thread(run)

    def _render(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        session = self.site.session(request)
        return self.site.render(
            request,
            template,
            status,
            notice=notice,
            is_admin=session is not None and session.kind == "admin",
            when=_when,
            dollars=lambda cents: "$" + money.format_amount(cents),
            **values,
        )

    def _missing(self, request: Request, what: str) -> Response:
        return self.site.render(request, "error.html", 404, title="Not found", message=f"{what} does not exist.")

    def _bad(self, request: Request, message: str) -> Response:
        return self.site.render(request, "error.html", 400, title="Bad request", message=message)

    def _csv(self, text: str, filename: str) -> Response:
        headers = {**self.site.headers(), "Content-Disposition": f'attachment; filename="{filename}"'}
        return Response(text, 200, media_type="text/csv; charset=utf-8", headers=headers)


def _when(epoch: float | None, *, seconds: bool = False) -> str:
    """A time for people: UTC, to the second (``epoch`` in ms, or in s with ``seconds``)."""
    if epoch is None:
        return "—"
    at = epoch if seconds else epoch / 1000
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
