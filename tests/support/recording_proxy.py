"""An HTTP proxy in front of the local SQS/SNS endpoint that records every send it forwards.

For each request it notes when it arrived and when the answer went back, and the EventDocIds of the
notification documents the request carries (SQS SendMessage/SendMessageBatch and SNS Publish, JSON
or query protocol). Two sends of one document that overlap in time mean the document was in flight
at two dispatchers at once. ``delay_s`` holds each request before forwarding it: a destination slow
enough that sends are caught mid-flight.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass(frozen=True)
class Send:
    doc_ids: tuple[str, ...]
    started: float
    ended: float


def _doc_id(body: str) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("EventDocId") if isinstance(document, dict) else None


def doc_ids_of(body: bytes, content_type: str) -> list[str]:
    """The EventDocIds of the documents a SendMessage(Batch)/Publish request carries."""
    texts: list[str] = []
    if "json" in content_type:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return []
        texts += [request.get("MessageBody", ""), request.get("Message", "")]
        texts += [entry.get("MessageBody", "") for entry in request.get("Entries", [])]
        texts += [entry.get("Message", "") for entry in request.get("PublishBatchRequestEntries", [])]
    else:
        for key, value in parse_qsl(body.decode(errors="replace")):
            if key in ("MessageBody", "Message") or key.endswith((".MessageBody", ".Message")):
                texts.append(value)
    return [doc_id for doc_id in map(_doc_id, texts) if doc_id]


class RecordingProxy:
    def __init__(self, upstream: str, delay_s: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.delay_s = delay_s
        self.sends: list[Send] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def start(self) -> RecordingProxy:
        proxy = self
        client = httpx.Client(timeout=60)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                started = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                doc_ids = doc_ids_of(body, self.headers.get("Content-Type", ""))
                if proxy.delay_s:
                    time.sleep(proxy.delay_s)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                try:
                    answer = client.post(proxy.upstream + self.path, content=body, headers=headers)
                    status, content, answer_headers = answer.status_code, answer.content, answer.headers
                except httpx.HTTPError as error:
                    status, content, answer_headers = 502, str(error).encode(), httpx.Headers()
                try:
                    self.send_response(status)
                    for key, value in answer_headers.items():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-encoding":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the sender died mid-request: its send still counts as in flight until now
                finally:
                    if doc_ids:
                        with proxy._lock:
                            proxy.sends.append(Send(tuple(doc_ids), started, time.monotonic()))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def overlapping(self) -> list[tuple[str, Send, Send]]:
        """Every pair of sends of one document whose times overlap."""
        by_doc: dict[str, list[Send]] = {}
        with self._lock:
            for send in self.sends:
                for doc_id in send.doc_ids:
                    by_doc.setdefault(doc_id, []).append(send)
        found = []
        for doc_id, sends in by_doc.items():
            ordered = sorted(sends, key=lambda s: s.started)
            for earlier, later in itertools.pairwise(ordered):
                if later.started < earlier.ended:
                    found.append((doc_id, earlier, later))
        return found

    def sent_more_than_once(self) -> set[str]:
        seen: dict[str, int] = {}
        with self._lock:
            for send in self.sends:
                for doc_id in send.doc_ids:
                    seen[doc_id] = seen.get(doc_id, 0) + 1
        return {doc_id for doc_id, count in seen.items() if count > 1}
