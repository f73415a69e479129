"""The local AWS's ASGI→WSGI bridge: whole requests in, whole answers out, on the loop or a worker thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from openturk.notify import local_aws_wsgi
from openturk.notify.local_aws_wsgi import WSGIOnLoop


def _scope(headers: list[tuple[bytes, bytes]], path: str = "/", query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "query_string": query,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8444),
        "client": ("127.0.0.1", 50000),
        "headers": headers,
    }


def _call(app: WSGIOnLoop, scope: dict[str, Any], pieces: list[bytes]) -> tuple[int, dict[bytes, bytes], bytes, int]:
    """Run one request; the answer and the thread the application ran on."""
    sent: list[dict[str, Any]] = []

    async def run() -> int:
        loop_thread = threading.get_ident()
        messages = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return loop_thread

    loop_thread = asyncio.run(run())
    start, body = sent
    return start["status"], dict(start["headers"]), body["body"], loop_thread


def _echo() -> tuple[Any, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append({**environ, "body": environ["wsgi.input"].read(), "thread": threading.get_ident()})
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Echo", "yes")])
        return iter([b"an ", b"answer"])

    return app, seen


def test_a_call_that_cannot_wait_runs_on_the_loop_and_the_rest_on_a_worker_thread() -> None:
    app, seen = _echo()
    bridge = WSGIOnLoop(app, 4, lambda environ: environ.get("HTTP_X_AMZ_TARGET") in local_aws_wsgi.NEVER_WAIT)
    status, headers, body, loop_thread = _call(bridge, _scope([(b"x-amz-target", b"AmazonSQS.SendMessage")]), [b"{}"])
    assert (status, headers[b"x-echo"], body) == (201, b"yes", b"an answer")
    assert seen[-1]["thread"] == loop_thread
    _, _, body, loop_thread = _call(bridge, _scope([(b"x-amz-target", b"AmazonSQS.ReceiveMessage")]), [b"{}"])
    assert body == b"an answer"
    assert seen[-1]["thread"] != loop_thread


def test_a_call_that_cannot_wait_goes_to_a_worker_thread_while_another_holds_the_lock() -> None:
    # The application takes the lock for every request; waiting for it on the loop would stall the loop.
    app, seen = _echo()
    lock = threading.RLock()
    bridge = WSGIOnLoop(app, 4, lambda environ: True, lock)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    threading.Timer(0.2, release.set).start()  # the worker waits for it, not the loop
    _, _, body, loop_thread = _call(bridge, _scope([(b"x-amz-target", b"AmazonSQS.SendMessage")]), [b"{}"])
    holder.join(10)
    assert body == b"an answer"
    assert seen[-1]["thread"] != loop_thread
    _, _, _, loop_thread = _call(bridge, _scope([(b"x-amz-target", b"AmazonSQS.SendMessage")]), [b"{}"])
    assert seen[-1]["thread"] == loop_thread  # free again: on the loop


def test_the_environ_carries_the_whole_body_headers_path_and_query() -> None:
    app, seen = _echo()
    bridge = WSGIOnLoop(app, 2, lambda environ: False)
    scope = _scope(
        [
            (b"content-type", b"application/x-amz-json-1.0"),
            (b"content-length", b"11"),
            (b"x-amz-target", b"AmazonSQS.ListQueues"),
            (b"x-repeated", b"a"),
            (b"x-repeated", b"b"),
        ],
        path="/123456789012/q\u00e9",
        query=b"Action=ListQueues",
    )
    _call(bridge, scope, [b"hello", b" world"])
    environ = seen[-1]
    assert environ["body"] == b"hello world"
    assert environ["CONTENT_LENGTH"] == "11"
    assert environ["CONTENT_TYPE"] == "application/x-amz-json-1.0"
    assert environ["HTTP_X_AMZ_TARGET"] == "AmazonSQS.ListQueues"
    assert environ["HTTP_X_REPEATED"] == "a,b"
    assert environ["PATH_INFO"] == "/123456789012/q\u00e9".encode().decode("latin-1")  # PEP 3333's native string
    assert environ["QUERY_STRING"] == "Action=ListQueues"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"], environ["REMOTE_ADDR"]) == (
        "127.0.0.1",
        "8444",
        "127.0.0.1",
    )


def test_a_body_over_the_limit_is_refused_before_the_application_sees_it(monkeypatch: Any) -> None:
    monkeypatch.setattr(local_aws_wsgi, "MAX_BODY_BYTES", 10)
    app, seen = _echo()
    bridge = WSGIOnLoop(app, 2, lambda environ: True)
    status, _, _, _ = _call(bridge, _scope([(b"content-length", b"11")]), [b"hello world"])
    assert status == 413
    status, _, _, _ = _call(bridge, _scope([]), [b"hello ", b"world"])  # no length declared: counted as it comes
    assert status == 413
    assert seen == []
    status, _, body, _ = _call(bridge, _scope([]), [b"0123456789"])
    assert (status, body) == (201, b"an answer")


def test_a_client_gone_before_its_body_ends_gets_nothing_run() -> None:
    app, seen = _echo()
    bridge = WSGIOnLoop(app, 2, lambda environ: True)
    sent: list[Any] = []

    async def run() -> None:
        messages = [{"type": "http.request", "body": b"part", "more_body": True}, {"type": "http.disconnect"}]

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await bridge(_scope([]), receive, send)

    asyncio.run(run())
    assert (seen, sent) == ([], [])
