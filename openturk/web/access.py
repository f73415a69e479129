"""The trust boundary: who may call each route, decided in one place before any body is read.

Every route of the application has an owner in ``OWNERS``, and ``Boundary`` (the outermost ASGI
layer, in front of the API's fast path too) enforces it:

- ``requester``: ``POST /``, the Requester API. Under ``--auth sigv4`` a SigV4 Authorization header
  is required here; the signature covers the body, so the endpoint verifies it once the capped body
  has been read.
- ``worker``: the worker API and ``/mturk/externalSubmit``. Under ``--auth sigv4`` a worker bearer
  token (``openturk workers create``) is required here, and the worker it names is what the handlers
  act as (``worker_of``); under ``--auth open`` the handlers trust the WorkerId (or, for
  externalSubmit, the assignment id) they are given.
- ``admin``: metrics, deliveries and the virtual clock. With ``--admin-token`` that token is
  required (``Authorization: Bearer``, compared in constant time); without one they answer loopback
  clients under ``--auth open`` and nobody under ``--auth sigv4``.
- ``public``: ``/health``, and ``/files/{file_key}`` whose signed query (GetFileUploadURL) is the
  credential the download checks itself.
- ``task``: the task origin's listener (requester content and its externalSubmit); the signed task
  token in the path is the credential, checked by the handler; no cookie is read.
- ``page``, ``worker_page``, ``requester_page``, ``admin_page``: the web site. Its session cookie is
  read here (``session_of``); a ``worker_page`` needs a worker's session (of an account no admin
  disabled), a ``requester_page`` a requester's or an admin's, an ``admin_page`` the admin's (a
  requester's is refused with 403). Without one a GET is redirected to the log-in page and anything
  else refused with 403. Every form post on them also carries the session's CSRF token, which
  ``openturk.web.pages`` checks before any handler runs.

An unknown path (404), a wrong method (405) and a route without an owner (403) are refused. A body
larger than its owner's cap is refused with 413 before it is read in full: at once when the
Content-Length says so, otherwise as soon as the bytes received pass the cap.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import ipaddress
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.requests import cookie_parser
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openturk import digits
from openturk.api import auth
from openturk.clock import SystemClock
from openturk.errors import ProtocolError
from openturk.requester.account import token_hash
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.store.worker_identities import WorkerIdentityRepository
from openturk.web import sessions
from openturk.web.sessions import Session
from openturk.workers import accounts

Owner = Literal["requester", "worker", "admin", "public", "page", "worker_page", "requester_page", "admin_page", "task"]

# ":path": a QuestionIdentifier may hold "/" (sent as %2F).
UPLOAD_ROUTE = "/api/worker/assignments/{assignment_id}/files/{question_identifier:path}"
# A QuestionForm's answers on the worker site, FileUploadAnswer files included.
QUESTIONFORM_SUBMIT_ROUTE = "/work/assignments/{assignment_id}/submit"

# Every route, by its path template ("METHOD path" where one path has routes of two owners). A route
# missing here is refused (and fails a test).
OWNERS: Mapping[str, Owner] = {
    "/": "requester",
    "/health": "public",
    "/metrics": "admin",
    "/api/deliveries": "admin",
    "/api/clock": "admin",
    "/api/clock/advance": "admin",
    "/api/worker/hits": "worker",
    "/api/worker/hits/{hit_id}": "worker",
    "/api/worker/hits/{hit_id}/accept": "worker",
    "/api/worker/messages": "worker",
    "/api/worker/assignments/{assignment_id}/submit": "worker",
    "/api/worker/assignments/{assignment_id}/return": "worker",
    "/api/worker/qualifications": "worker",
    "/api/worker/qualifications/{qualification_type_id}/test": "worker",
    "/api/worker/qualifications/{qualification_type_id}/request": "worker",
    UPLOAD_ROUTE: "worker",
    "/files/{file_key}": "public",
    "/mturk/externalSubmit": "worker",
    # The web site (openturk.web.site_routes and the pages it gathers).
    "/static": "page",
    "GET /": "page",  # the site's front door; POST / is the API
    "/signup": "page",
    "/login": "page",
    "/logout": "page",
    "/requester/login": "page",
    "/dashboard": "worker_page",
    "/messages": "worker_page",
    "/profile": "worker_page",
    "/qualifications": "worker_page",
    "/qualifications/{qualification_type_id}/request": "worker_page",
    "/qualifications/{qualification_type_id}/test": "worker_page",
    # The admin's pages.
    "/admin/workers": "admin_page",
    "/admin/workers/{worker_id}/disabled": "admin_page",
    # The requester dashboard (openturk.web.requester_pages).
    "/requester": "requester_page",
    "/requester/hit-types/{hit_type_id}/test-event": "requester_page",
    "/requester/hit-types/{hit_type_id}/results.csv": "requester_page",
    "/requester/hits": "requester_page",
    "/requester/hits/{hit_id}": "requester_page",
    "/requester/hits/{hit_id}/review": "requester_page",
    "/requester/hits/{hit_id}/results.csv": "requester_page",
    "/requester/deliveries": "requester_page",
    "/requester/deliveries/{message_id}/send-again": "requester_page",
    # The worker's path through a HIT (openturk.web.work_pages).
    "/work": "worker_page",
    "/work/groups/{hit_type_id}": "worker_page",
    "/work/hits/{hit_id}": "worker_page",
    "/work/hits/{hit_id}/accept": "worker_page",
    "/work/assignments/{assignment_id}": "worker_page",
    "/work/assignments/{assignment_id}/state": "worker_page",
    QUESTIONFORM_SUBMIT_ROUTE: "worker_page",
    "/work/assignments/{assignment_id}/return": "worker_page",
    "/work/assignments/{assignment_id}/continue": "worker_page",
    "/work/auto-accept": "worker_page",
    # The task origin's own listener (openturk.web.task_origin): the task token in the path is the
    # credential, checked by the handler; no cookie is read.
    "/externalHIT_v1.js": "task",
    "/task/{token}": "task",
    "/submit/{token}/mturk/externalSubmit": "task",
    "/submit/{token}/done": "task",
}
PAGE_OWNERS: frozenset[Owner] = frozenset({"page", "worker_page", "requester_page", "admin_page"})

KiB = 1024
# MTurk caps a Question at 64 KiB and a HIT's other strings far below that; with HITLayoutParameters
# and JSON's escaping (a control character becomes six bytes) a real CreateHIT stays well under this.
API_MAX_BODY = 512 * KiB
# One assignment's answers, as JSON or as the externalSubmit form.
WORKER_MAX_BODY = 256 * KiB
# The admin and public routes take at most a tiny JSON object (the clock's {"Seconds": N}).
SMALL_MAX_BODY = 16 * KiB
# A log-in or sign-up form, a requester's approve/reject with feedback.
FORM_MAX_BODY = 64 * KiB
MAX_BODY: Mapping[Owner, int] = {
    "requester": API_MAX_BODY,
    "worker": WORKER_MAX_BODY,
    "admin": SMALL_MAX_BODY,
    "public": SMALL_MAX_BODY,
    "page": FORM_MAX_BODY,
    "worker_page": WORKER_MAX_BODY,  # a task's answers
    "requester_page": FORM_MAX_BODY,
    "admin_page": FORM_MAX_BODY,
    "task": WORKER_MAX_BODY,  # one assignment's answers, as the externalSubmit form
}

# Routes whose cap is not their owner's. A FileUploadAnswer file is held in memory and in one
# database row, so this server caps it at 16 MiB, far below MTurk's 2,000,000,000 bytes (docs/decisions.md).
UPLOAD_MAX_BODY = 16 * KiB * KiB
ROUTE_MAX_BODY: Mapping[str, int] = {UPLOAD_ROUTE: UPLOAD_MAX_BODY, QUESTIONFORM_SUBMIT_ROUTE: UPLOAD_MAX_BODY}

_WORKER_ID = "openturk.worker_id"
_SESSION = "openturk.session"


class Refused(Exception):
    """A request the boundary answers itself: status, error code and a message naming the cause."""

    def __init__(self, status: int, code: str, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.location = status, code, message, location


def worker_of(scope: Scope) -> str | None:
    """The worker the boundary authenticated for this request (``--auth sigv4``), else None."""
    found = scope.get(_WORKER_ID)
    return found if isinstance(found, str) else None


def session_of(scope: Scope) -> Session | None:
    """The web-site session the boundary found for this request (page owners only), else None."""
    found = scope.get(_SESSION)
    return found if isinstance(found, Session) else None


class Boundary:
    """ASGI middleware: resolve the route's owner, admit the caller, read the capped body, then call
    ``app`` with that body. Nothing behind it runs for a refused request."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], settings: Settings, db: Database) -> None:
        self.app, self.routes, self.settings, self.db = app, list(routes), settings, db
        # Sessions and log-in limits run on wall time even under --virtual-clock (see openturk.web.sessions).
        self.site_clock = SystemClock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})  # no route speaks anything else
            return
        owner: Owner | None = None
        try:
            path, owner, path_params = self._route(scope)
            _refuse_nul(scope, path_params)
            await self._admit(owner, scope)
            cap = ROUTE_MAX_BODY.get(path, MAX_BODY[owner])
            body = await _read_capped(receive, _content_length(scope), cap)
        except Refused as refusal:
            await _refuse(refusal, owner, send)
            return
        except _Disconnected:
            return
        await self.app(scope, _replay(body, receive), send)

    def owner(self, scope: Scope) -> Owner:
        """The owner of the route ``scope`` asks for; ``Refused`` if none may be called."""
        return self.route(scope)[1]

    def route(self, scope: Scope) -> tuple[str, Owner]:
        """The path template and owner of the route ``scope`` asks for; ``Refused`` if none may be called."""
        path, owner, _ = self._route(scope)
        return path, owner

    def _route(self, scope: Scope) -> tuple[str, Owner, dict[str, Any]]:
        """``route``, and the path parameters the route read from the path."""
        method_mismatch = False
        for route in self.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                path = getattr(route, "path", None)
                # A route that answers GET answers HEAD too (Starlette): the same owner decides both.
                method = "GET" if scope["method"] == "HEAD" else scope["method"]
                owner = (OWNERS.get(f"{method} {path}") or OWNERS.get(path)) if isinstance(path, str) else None
                if owner is None or not isinstance(path, str):
                    raise Refused(403, "Forbidden", f"No caller may call {scope['path']}: the route has no owner.")
                return path, owner, dict(child.get("path_params", {}))
            method_mismatch = method_mismatch or match == Match.PARTIAL
        if method_mismatch:
            raise Refused(405, "MethodNotAllowed", f"{scope['method']} is not allowed on {scope['path']}.")
        raise Refused(404, "NotFound", f"There is no {scope['path']}.")

    async def _admit(self, owner: Owner, scope: Scope) -> None:
        if owner == "requester" and self.settings.auth == "sigv4":
            try:
                auth.parse_authorization(_headers(scope))
            except ProtocolError as error:
                raise Refused(error.status, error.wire_type, error.message) from error
        elif owner == "worker" and self.settings.auth == "sigv4":
            scope[_WORKER_ID] = await self._worker(_bearer(scope))
        elif owner == "admin":
            self._admit_admin(scope)
        elif owner in PAGE_OWNERS:
            await self._admit_page(owner, scope)

    async def _admit_page(self, owner: Owner, scope: Scope) -> None:
        secure = scope.get("scheme") == "https"
        token = _cookie(scope, sessions.cookie_name(secure))

        def lookup() -> Session | None:
            if token is None:
                return None
            found = sessions.load(self.db, self.site_clock, token)
            if found is not None and found.kind == "worker" and not accounts.is_active(self.db, found.principal or ""):
                return None  # disabled since it logged in
            return found

        session = await asyncio.to_thread(lookup)
        scope[_SESSION] = session
        wanted = {"worker_page": ("worker",), "requester_page": ("requester", "admin"), "admin_page": ("admin",)}.get(
            owner
        )
        if wanted is None or (session is not None and session.kind in wanted):
            return
        if owner == "admin_page" and session is not None and session.kind == "requester":
            raise Refused(403, "Forbidden", "Only the site's administrator may use this page.")
        if scope["method"] in ("GET", "HEAD"):
            login = "/login" if owner == "worker_page" else "/requester/login"
            target = scope["path"] + (
                f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
            )
            raise Refused(303, "LoginRequired", "Log in to see this page.", f"{login}?{urlencode({'next': target})}")
        raise Refused(403, "LoginRequired", "Log in first: this page needs a signed-in session.")

    def _admit_admin(self, scope: Scope) -> None:
        token = self.settings.admin_token
        if token:
            presented = _bearer(scope)
            if presented is None:
                raise Refused(401, "MissingCredentials", "An admin token is required (Authorization: Bearer).")
            # The header's own bytes (it was decoded as latin-1) against the token's, in constant time.
            if not hmac.compare_digest(presented.encode("latin-1"), token.encode()):
                raise Refused(401, "InvalidCredentials", "The admin token is not valid.")
        elif self.settings.auth == "sigv4":
            raise Refused(403, "Forbidden", f"{scope['path']} is off under --auth sigv4 without --admin-token.")
        elif not _is_loopback(scope):
            raise Refused(403, "Forbidden", f"{scope['path']} answers loopback clients only without --admin-token.")

    async def _worker(self, token: str | None) -> str:
        if token is None:
            raise Refused(401, "MissingCredentials", "A worker bearer token is required.")

        def lookup(hashed: str) -> str | None:
            with self.db.read() as conn:
                return WorkerIdentityRepository(conn).worker_for_token(hashed)

        worker_id = await asyncio.to_thread(lookup, token_hash(token))
        if worker_id is None:
            raise Refused(401, "InvalidCredentials", "The worker token is not valid.")
        return worker_id


class _Disconnected(Exception):
    """The client went away before its body arrived: there is nobody to answer."""


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _header(scope: Scope, name: bytes) -> str | None:
    """One header's value (the first), without building them all: this runs on every API call."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    """One cookie's value, read as browsers send them (Starlette's lenient parser): ``SimpleCookie``
    stopped at the first cookie it could not parse, so a page on the site's host name (any port)
    could set one that made every signed-in user look logged out."""
    header = _header(scope, b"cookie")
    if not header:
        return None
    return cookie_parser(header).get(name)


def _bearer(scope: Scope) -> str | None:
    header = _header(scope, b"authorization") or ""
    if not header.lower().startswith("bearer "):
        return None
    return header[7:].strip() or None


def _is_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _refuse_nul(scope: Scope, path_params: Mapping[str, Any]) -> None:
    """No address may carry the NUL character: PostgreSQL's text cannot hold it, so a path parameter
    or query value with it would be a 500 there (and only there) at its first lookup."""
    for name, value in path_params.items():
        if "\x00" in str(value):
            raise Refused(400, "InvalidParameter", f"{name} must not contain the NUL character (%00).")
    query = scope.get("query_string", b"")
    if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
        raise Refused(400, "InvalidParameter", "The address must not contain the NUL character (%00).")


def _content_length(scope: Scope) -> int | None:
    declared = _header(scope, b"content-length")
    if declared is None:
        return None
    length = digits.non_negative(declared.strip(), max_digits=18)
    if length is None:
        raise Refused(400, "InvalidContentLength", "Content-Length must be a non-negative integer.")
    return length


BODY_IDLE_S = 30.0  # longest wait for the next part of a request body


def _too_large(cap: int) -> Refused:
    return Refused(413, "RequestEntityTooLarge", f"The request body is larger than {cap} bytes.")


async def _read_capped(receive: Receive, declared: int | None, cap: int) -> bytes:
    """The whole body, or ``Refused``: 413 as soon as it is known to pass ``cap`` bytes, 408 when
    none of it arrives for ``BODY_IDLE_S`` (a client that stops sending must not hold a request open)."""
    if declared is not None and declared > cap:
        raise _too_large(cap)
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(BODY_IDLE_S) as idle:
            while True:  # each message carries more of a body that may not pass ``cap``
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > cap:
                    raise _too_large(cap)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
                idle.reschedule(loop.time() + BODY_IDLE_S)
    except TimeoutError:
        raise Refused(
            408, "RequestTimeout", f"The request body stopped arriving: nothing came for {BODY_IDLE_S:g} seconds."
        ) from None


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the body already read, then the client's later messages (disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(refusal: Refused, owner: Owner | None, send: Send) -> None:
    """API callers get AWS JSON 1.1 errors an SDK reads; the site's visitors a page (or a redirect to
    the log-in page); everyone else ``{"Error", "Message"}``."""
    if owner in PAGE_OWNERS:
        await _refuse_page(refusal, send)
        return
    if owner == "requester":
        payload = {"__type": refusal.code, "Message": refusal.message}
        headers = [(b"content-type", b"application/x-amz-json-1.1"), (b"x-amzn-requestid", str(uuid.uuid4()).encode())]
    else:
        payload = {"Error": refusal.code, "Message": refusal.message}
        headers = [(b"content-type", b"application/json")]
    body = json.dumps(payload).encode()
    # No "Connection: close": the server then discards (never buffers) whatever body is still on
    # its way, so a client that sends the whole body before reading still gets this answer.
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse_page(refusal: Refused, send: Send) -> None:
    text = html.escape(refusal.message)
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>openturk</title></head>'
        f"<body><main><h1>{refusal.status}</h1><p>{text}</p>"
        + (f'<p><a href="{html.escape(refusal.location)}">Log in</a></p>' if refusal.location else "")
        + "</main></body></html>"
    ).encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if refusal.location:
        headers.append((b"location", refusal.location.encode("latin-1")))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
