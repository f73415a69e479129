"""The MTurk endpoint: ``POST /`` with ``X-Amz-Target``, AWS JSON 1.1 in and out.

The only place where a request becomes an operation call and an exception becomes a wire error.
Operations run in a worker thread (the store is synchronous); nothing here knows an operation.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openturk.api import auth, parser, serializer, spec
from openturk.errors import OpenTurkError, ProtocolError, ServiceFault
from openturk.requester.context import Context
from openturk.requester.operations import handlers

log = logging.getLogger("openturk.api")
CONTENT_TYPE = "application/x-amz-json-1.1"

# Resolves the caller: (signed request, method, path, headers, body) → CustomerId.
Authenticator = Callable[[auth.SignedRequest, str, str, dict[str, str], bytes], str]


def _response(status: int, body: bytes, request_id: str) -> Response:
    return Response(body, status_code=status, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})


def error_response(error: OpenTurkError, request_id: str) -> Response:
    import json

    return _response(error.status, json.dumps(error.body()).encode(), request_id)


class MTurkEndpoint:
    """ASGI handler for the Requester API, bound to the server's store, clock and settings."""

    def __init__(
        self,
        make_context: Callable[[str, str], Context],
        authenticate: Authenticator,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._make_context = make_context
        self._authenticate = authenticate
        self._after_commit = after_commit

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            operation = spec.operation_for_target(request.headers.get("x-amz-target", ""))
            if operation is None:
                raise ProtocolError(
                    "UnknownOperationException",
                    f"Operation '{request.headers.get('x-amz-target', '')}' is not an MTurk 2017-01-17 operation.",
                )
            body = await request.body()
            signed = auth.parse_authorization(request.headers)
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            headers = {k.lower(): v for k, v in request.headers.items()}
            customer_id = await run_in_threadpool(self._authenticate, signed, request.method, path, headers, body)
            params = parser.parse_input(operation, parser.parse_body(body))
            ctx = self._make_context(customer_id, request_id)
            result: dict[str, Any] = await run_in_threadpool(handlers()[operation.name], ctx, params)
            if self._after_commit is not None:
                self._after_commit()
            return _response(200, serializer.serialize_output(operation, result), request_id)
        except OpenTurkError as error:
            return error_response(error, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            return error_response(ServiceFault(), request_id)
