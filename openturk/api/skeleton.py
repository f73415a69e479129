"""The MTurk endpoint: ``POST /`` with ``X-Amz-Target``, AWS JSON 1.1 in and out.

The only place where a request becomes an operation call and an exception becomes a wire error.
Each request costs one hop to a worker thread (the store is synchronous): identify the caller,
parse, run the operation and serialise all happen there, in that order, so a request whose body
is bad writes nothing — not even the requester an open-mode key would create.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from botocore.model import OperationModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from openturk.api import auth, parser, serializer, spec
from openturk.errors import OpenTurkError, ProtocolError, ServiceFault
from openturk.requester.context import Context
from openturk.requester.operations import handlers

log = logging.getLogger("openturk.api")
CONTENT_TYPE = "application/x-amz-json-1.1"


class Authenticator(Protocol):
    def verify(
        self, signed: auth.SignedRequest, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> str | None:
        """The caller's CustomerId, or None for an open-mode key not seen before; raises if refused."""

    def enroll(self, signed: auth.SignedRequest) -> str:
        """Open mode: create the requester a new access key names; returns its CustomerId."""


def _response(status: int, body: bytes, request_id: str) -> Response:
    return Response(body, status_code=status, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": request_id})


def error_response(error: OpenTurkError, request_id: str) -> Response:
    return _response(error.status, json.dumps(error.body()).encode(), request_id)


class MTurkEndpoint:
    """ASGI handler for the Requester API, bound to the server's store, clock and settings."""

    def __init__(self, make_context: Callable[[str, str], Context], authenticator: Authenticator) -> None:
        self._make_context = make_context
        self._authenticator = authenticator

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            target = request.headers.get("x-amz-target", "")
            operation = spec.operation_for_target(target)
            if operation is None:
                raise ProtocolError(
                    "UnknownOperationException", f"Operation '{target}' is not an MTurk 2017-01-17 operation."
                )
            body = await request.body()
            signed = auth.parse_authorization(request.headers)
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            headers = {k.lower(): v for k, v in request.headers.items()}
            payload = await run_in_threadpool(
                self._call, operation, signed, request.method, path, headers, body, request_id
            )
            return _response(200, payload, request_id)
        except OpenTurkError as error:
            return error_response(error, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            return error_response(ServiceFault(), request_id)

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
        params = parser.parse_input(operation, parser.parse_body(body))
        if customer_id is None:
            customer_id = self._authenticator.enroll(signed)
        result: dict[str, Any] = handlers()[operation.name](self._make_context(customer_id, request_id), params)
        return serializer.serialize_output(operation, result)
