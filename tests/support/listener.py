"""An HTTP endpoint on 127.0.0.1 that records every POST it gets (an SNS subscriber, a form's target)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Listener:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._changed = threading.Condition()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with listener._changed:
                    listener.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    listener._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sns"

    def wait_for(self, count: int, timeout_s: float = 15.0) -> list[Received]:
        """The first ``count`` requests, once that many arrived; AssertionError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} requests arrived in {timeout_s}s: {self.received}"
                self._changed.wait(left)
            return list(self.received[:count])

    def __enter__(self) -> Listener:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
