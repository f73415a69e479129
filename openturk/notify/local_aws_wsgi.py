"""moto's WSGI application served on uvicorn's event loop, with at most one thread hop per request.

A general ASGI→WSGI adapter (a2wsgi, which this replaces) streams both ways: the WSGI thread asks the
loop for each piece of the request body and hands it each piece of the answer, waiting every time.
On a small machine each of those round trips (a futex wake and the GIL passing between two threads)
cost more than moto's own work: about 2.9 ms of CPU for a GetQueueUrl. moto reads whole bodies and
answers with whole bodies, so this reads the request on the loop, runs the application once and
sends its whole answer:

* a call that cannot wait (an SQS send, delete, visibility change, a queue lookup) runs on the loop
  itself when nothing else makes it wait (no state file to save before answering);
* anything else (a long-polling ReceiveMessage, SNS fanning out over HTTP, every call when each
  answer waits for its snapshot on disk) runs on a worker thread, and the loop sends its answer.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# SQS calls that neither wait for messages nor call out of the process: safe to run on the loop.
# ReceiveMessage is not among them: it waits up to WaitTimeSeconds (or the queue's own wait).
NEVER_WAIT = frozenset(
    f"AmazonSQS.{action}"
    for action in (
        "SendMessage",
        "SendMessageBatch",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
        "GetQueueUrl",
        "GetQueueAttributes",
        "ListQueues",
    )
)
# The largest request body read: SQS's largest batch (10 messages of 256 KiB) with room for its JSON
# escaping; SNS's largest Publish is smaller. Bigger ones are refused before they are read whole.
MAX_BODY_BYTES = 8 * 1024 * 1024


class Lock(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...

    def release(self) -> None: ...


class WSGIOnLoop:
    """ASGI application running a WSGI one on the loop (``runs_inline``) or on ``threads`` workers.

    With ``inline_lock`` (the lock the application itself takes for every request), a call runs on
    the loop only if that lock is free at once: one held by a worker thread would otherwise stall the
    loop, and every other request with it, until that worker let it go.
    """

    def __init__(
        self,
        app: WSGIApp,
        threads: int,
        runs_inline: Callable[[dict[str, Any]], bool],
        inline_lock: Lock | None = None,
    ) -> None:
        self.app, self.runs_inline, self.inline_lock = app, runs_inline, inline_lock
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="local-aws")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        declared = _content_length(scope)
        if declared is not None and declared > MAX_BODY_BYTES:
            await _answer(send, "413 Request Entity Too Large", [("Content-Type", "text/plain")], [b"body too large"])
            return
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _answer(
                    send, "413 Request Entity Too Large", [("Content-Type", "text/plain")], [b"body too large"]
                )
                return
            if not message.get("more_body", False):
                break
        environ = _environ(scope, bytes(body))
        answer = self._inline_answer(environ) if self.runs_inline(environ) else None
        if answer is None:
            answer = await asyncio.get_running_loop().run_in_executor(self.pool, self.run, environ)
        await _answer(send, *answer)

    def _inline_answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]] | None:
        """The answer run here on the loop, or None if ``inline_lock`` is held elsewhere."""
        if self.inline_lock is None:
            return self.run(environ)
        if not self.inline_lock.acquire(blocking=False):
            return None
        try:
            return self.run(environ)
        finally:
            self.inline_lock.release()

    def run(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        return whole_answer(self.app, environ)


def whole_answer(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """``app``'s whole answer to ``environ``: status, headers and body (its iterable read and closed here)."""
    answer: list[Any] = ["500 Internal Server Error", []]
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        answer[:] = [status, headers]
        return chunks.append

    body = app(environ, start_response)
    try:
        chunks.extend(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return answer[0], answer[1], chunks


async def _answer(send: Any, status: str, headers: list[tuple[str, str]], chunks: list[bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
        }
    )
    await send({"type": "http.response.body", "body": b"".join(chunks)})


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _environ(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """PEP 3333's environ for an ASGI HTTP scope: native strings hold the bytes as latin-1."""
    script_name = scope.get("root_path", "").encode("utf-8").decode("latin-1")
    path_info = scope["path"].encode("utf-8").decode("latin-1")
    if script_name and path_info.startswith(script_name):
        path_info = path_info[len(script_name) :]
    server_host, server_port = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server_host,
        "SERVER_PORT": str(server_port or 0),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name == "CONTENT_LENGTH":
            continue  # the body's own length, set above
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
