"""The MTurk endpoint: ``POST /`` with ``X-Amz-Target``, AWS JSON 1.1 in and out.

The only place where a request becomes an operation call and an exception becomes a wire error.
Identify the caller, parse, run the operation and serialise happen in that order, in one place, so a
request whose body is bad writes nothing — not even the requester an open-mode key would create.
Where that place is depends on the store (which is synchronous): on SQLite a known caller's call
runs on the event loop unless it would wait for the writer (see ``MTurkEndpoint.__init__``);
everything else makes one hop to a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, Protocol

from botocore.model import OperationModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from openturk.api import auth, parser, serializer, spec
from openturk.errors import OpenTurkError, ProtocolError, ServiceFault
from openturk.requester.context import Context
from openturk.requester.operations import WAITS_OUTSIDE_STORE, handlers, invalid_messages
from openturk.store.database import WriterBusy

log = logging.getLogger("openturk.api")
CONTENT_TYPE = "application/x-amz-json-1.1"
# Threads per server process for calls that use only the store, and for those that wait on something
# else too (``WAITS_OUTSIDE_STORE``). Eight keep a core busy with PostgreSQL's round trips; more only
# contend (see MTurkEndpoint.__init__ and docs/decisions.md).
STORE_CALL_THREADS = 8
WAITING_CALL_THREADS = 32


class Authenticator(Protocol):
    def verify(
        self, signed: auth.SignedRequest, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> str | None:
        """The caller's CustomerId, or None for an open-mode key not seen before; raises if refused."""

    def knows(self, signed: auth.SignedRequest) -> bool:
        """Whether the caller's key is known without reading the store."""

    def enroll(self, signed: auth.SignedRequest) -> str:
        """Open mode: create the requester a new access key names; returns its CustomerId."""


def _response(status: int, body: bytes, request_id: str) -> Response:
    return Response(body, status_code=status, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})


def error_response(error: OpenTurkError, request_id: str) -> Response:
    return _response(error.status, json.dumps(error.body()).encode(), request_id)


class MTurkEndpoint:
    """ASGI handler for the Requester API, bound to the server's store, clock and settings."""

    def __init__(
        self,
        make_context: Callable[[str, str], Context],
        authenticator: Authenticator,
        *,
        inline: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self._make_context = make_context
        self._authenticator = authenticator
        # The operation table is checked against the model now, at start-up, not at a first request.
        self._handlers = handlers()
        self._invalid_messages = invalid_messages()
        # On SQLite most calls take well under a millisecond of work and a hop to a worker thread
        # costs about half that again (plus the GIL passing between two threads). With ``inline``
        # (the store's ``non_blocking_writes``) a known caller's call runs on the event loop: reads
        # never wait (WAL), and a write that would wait for the writer raises ``WriterBusy`` before it
        # did anything, and is run on a worker thread instead.
        self._inline = inline
        # Plain executors: about a third cheaper per hop than the framework's thread pool, and every
        # API call makes exactly one hop. Calls that only use the store share a few threads, so more
        # calls in flight queue here, holding nothing, rather than in the store: with 32 threads on
        # PostgreSQL, 32 callers' transactions held their row locks (a requester's balance) while
        # waiting for the interpreter lock behind each other, and the ceiling fell from about 445 to
        # 277 CreateHIT/s as the callers went from 8 to 32. Calls that wait on a destination or a mail
        # server have threads of their own, so a slow one never holds up the store's.
        self._store_calls = ThreadPoolExecutor(max_workers=STORE_CALL_THREADS, thread_name_prefix="openturk-api")
        self._waiting_calls = ThreadPoolExecutor(max_workers=WAITING_CALL_THREADS, thread_name_prefix="openturk-wait")

    async def handle(self, request: Request) -> Response:
        """The Starlette route (kept for mounting the endpoint inside another application)."""
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, payload, request_id = await self.respond(request.method, path, headers, await request.body())
        return _response(status, payload, request_id)

    async def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        """(status, JSON body, request id) for one request; never raises."""
        request_id = str(uuid.uuid4())
        try:
            target = headers.get("x-amz-target", "")
            operation = spec.operation_for_target(target)
            if operation is None:
                raise ProtocolError(
                    "UnknownOperationException", f"Operation '{target}' is not an MTurk 2017-01-17 operation."
                )
            signed = auth.parse_authorization(headers)
            payload = None
            if (
                self._inline is not None
                and operation.name not in WAITS_OUTSIDE_STORE
                and self._authenticator.knows(signed)
            ):
                # WriterBusy: the call did nothing; it runs below, where waiting is allowed.
                with contextlib.suppress(WriterBusy), self._inline():
                    payload = self._call(operation, signed, method, path, headers, body, request_id)
            if payload is None:
                executor = self._waiting_calls if operation.name in WAITS_OUTSIDE_STORE else self._store_calls
                payload = await asyncio.get_running_loop().run_in_executor(
                    executor, self._call, operation, signed, method, path, headers, body, request_id
                )
            return 200, payload, request_id
        except OpenTurkError as error:
            return error.status, json.dumps(error.body()).encode(), request_id
        except Exception:
            log.exception("request %s failed", request_id)
            return 500, json.dumps(ServiceFault().body()).encode(), request_id

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Raw ASGI for ``POST /``: the API's hot path skips the web framework's routing and middleware."""
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope.get("path", "/") + (f"?{query}" if query else "")
        status, payload, request_id = await self.respond(scope["method"], path, headers, b"".join(chunks))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _call(
        self,
        operation: OperationModel,
        signed: auth.SignedRequest,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
    ) -> bytes:
        customer_id = self._authenticator.verify(signed, method, path, headers, body)
        params = parser.parse_input(operation, parser.parse_body(body), self._invalid_messages.get(operation.name))
        if customer_id is None:
            customer_id = self._authenticator.enroll(signed)
        result: dict[str, Any] = self._handlers[operation.name](self._make_context(customer_id, request_id), params)
        return serializer.serialize_output(operation, result)


class FastPath:
    """Serves ``POST /`` with ``MTurkEndpoint.asgi`` and everything else with ``app``."""

    def __init__(self, endpoint: MTurkEndpoint, app: ASGIApp) -> None:
        self.endpoint, self.app = endpoint, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/":
            await self.endpoint.asgi(scope, receive, send)
        else:
            await self.app(scope, receive, send)
