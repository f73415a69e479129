"""The embedded local AWS's own process: moto's server, with its SQS/SNS state kept in a file.

Started by ``LocalAWS`` as ``python -m openturk.notify.local_aws_server --port P [--state PATH]``.
With a state file, the state is loaded at start and every request is answered only once a save
taken after it has committed (``local_aws_state.StateFile``: what changed; group commit: requests that
finish together share one), so whatever this endpoint acknowledged survives a SIGKILL of it or of
``openturk serve``.
``GET /openturk/local-aws`` tells who answers on the port (``{"pid", "server", "state"}``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from openturk import heap
from openturk.notify import local_aws_confirmation, local_aws_policies, local_aws_tuning, local_aws_wsgi
from openturk.notify import local_aws_state as state

log = logging.getLogger("openturk.local_aws")

# Answered by this process itself, whatever moto serves: who is on the port (``{"pid", "state"}``).
IDENTITY_PATH = "/openturk/local-aws"
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Snapshots:
    """Saves the state after changes; ``wait`` returns once a change is on disk.

    One thread saves (``StateFile``: what changed, in one transaction); a failed write (a full disk)
    is retried, and the requests waiting on it fail after ``wait_s`` instead of being acknowledged
    without being saved.
    """

    def __init__(self, state_file: state.StateFile, retry_s: float = 0.5) -> None:
        self.state_file, self.retry_s = state_file, retry_s
        self.path = state_file.path
        self._changed = threading.Condition()
        self._noted = 0
        self._saved = 0
        self._writing = threading.Lock()
        self._closed = False
        threading.Thread(target=self._run, name="local-aws-snapshots", daemon=True).start()

    def close(self) -> None:
        """Stop the writing thread (after its write under way, if any)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def note(self) -> int:
        """Record a change; the caller holds ``STATE_LOCK``. Returns the number to ``wait`` for."""
        with self._changed:
            self._noted += 1
            self._changed.notify_all()
            return self._noted

    def wait(self, change: int, wait_s: float) -> bool:
        """Whether a snapshot including ``change`` reached the disk within ``wait_s``."""
        with self._changed:
            return self._changed.wait_for(lambda: self._saved >= change, timeout=wait_s)

    def save_now(self, lock_wait_s: float = 5.0) -> None:
        """Write the current state at once (at start and at shutdown), unless a request holds it that long.

        Raises ``OSError`` when the file cannot be written.
        """
        with self._writing:
            if not state.STATE_LOCK.acquire(timeout=lock_wait_s):
                return
            try:
                changes = self.state_file.capture()
            finally:
                state.STATE_LOCK.release()
            self.state_file.write(changes)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._closed or self._noted > self._saved)
                if self._closed:
                    return
            # Captured and written under one lock, so changes reach the file in the order they were made.
            with self._writing:
                with state.STATE_LOCK:
                    change, changes = self._noted, self.state_file.capture()
                try:
                    self.state_file.write(changes)  # nothing when nothing changed (a read, an empty receive)
                except OSError as exc:
                    log.error("local AWS state could not be saved to %s (%s); retrying", self.path, exc)
                    time.sleep(self.retry_s)
                    continue
            with self._changed:
                self._saved = change
                self._changed.notify_all()


class DurableApp:
    """WSGI middleware: runs each request under ``STATE_LOCK`` and, with ``snapshots``, answers after
    its snapshot.

    moto's backends are not safe for two requests at once (two ReceiveMessage calls on one queue
    iterate and change its set of in-flight messages: "Set changed size during iteration", a 500), so
    the lock is held without a state file too; a long poll lets it go while it waits (the queues'
    Conditions are built on it). A request whose snapshot is not on disk within ``answer_within_s``
    gets a 503, never a 200.
    """

    def __init__(
        self, app: WSGIApp, snapshots: Snapshots | None, identity: dict[str, Any], answer_within_s: float = 10.0
    ) -> None:
        self.app, self.snapshots, self.answer_within_s = app, snapshots, answer_within_s
        self.identity = json.dumps(identity).encode()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == IDENTITY_PATH:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [self.identity]
        with state.STATE_LOCK:
            status, headers, chunks = local_aws_wsgi.whole_answer(self.app, environ)
            if self.snapshots is None:
                start_response(status, headers)
                return chunks
            change = self.snapshots.note()
        if not self.snapshots.wait(change, self.answer_within_s):
            message = f"the local AWS could not save its state to {self.snapshots.path}"
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [message.encode()]
        start_response(status, headers)
        return chunks


def build(state_path: Path | None, base_url: str) -> tuple[WSGIApp, Snapshots | None]:
    """moto's server application answering at ``base_url``, wrapped; with a state path, restored and made durable."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    local_aws_confirmation.install(base_url)
    local_aws_policies.install()
    local_aws_tuning.apply()

    snapshots = None
    state.bind_queue_conditions()
    state.bound_histories()
    if state_path is not None:
        state_file = state.StateFile(state_path)
        warning = state_file.restore_or_set_aside()
        if warning is not None:
            log.warning("%s", warning)
        snapshots = Snapshots(state_file)
        snapshots.save_now()  # a file that cannot be written fails the start, not every request
    # "server": the process that started this one (openturk serve), the one to stop.
    identity = {"pid": os.getpid(), "server": os.getppid(), "state": str(state_path) if state_path else None}
    moto_app = local_aws_confirmation.route_subscribe_urls(DomainDispatcherApplication(create_backend_app))
    moto_app = local_aws_tuning.route_sqs_json(moto_app)
    return DurableApp(moto_app, snapshots, identity), snapshots


def serve(app: WSGIApp, host: str, port: int, *, durable: bool) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, keeping connections alive between requests.

    uvicorn, not werkzeug's development server: that one closes every connection after one answer,
    so each SQS call from a dispatcher or a consumer paid a new TCP connection and a new thread.
    ``local_aws_wsgi.WSGIOnLoop`` runs the application: calls that cannot wait on the loop itself
    unless ``durable`` (each answer then waits for its snapshot on disk), the rest on a pool of
    threads; a long-polling ReceiveMessage holds one for up to 20 s, so the pool is large (moto's own
    server made a thread per request).
    """
    import uvicorn

    def runs_inline(environ: dict[str, Any]) -> bool:
        return not durable and environ.get("HTTP_X_AMZ_TARGET") in local_aws_wsgi.NEVER_WAIT

    config = uvicorn.Config(
        local_aws_wsgi.WSGIOnLoop(app, WSGI_THREADS, runs_inline, state.STATE_LOCK),
        host=host,
        port=port,
        interface="asgi3",
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    # Long polls still waiting at a stop are expected (a consumer polls until it is stopped) and are
    # cut off after that second: not an error to print on every Ctrl-C of ``openturk serve``.
    logging.getLogger("uvicorn.error").addFilter(_LongPollsCutOff())
    uvicorn.Server(config).run()


class _LongPollsCutOff(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "timeout graceful shutdown exceeded" not in record.getMessage()


# Requests moto may be running at once: long polls in flight and everything else beside them.
WSGI_THREADS = 128


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openturk.notify.local_aws_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, default=None, help="state file (default: memory only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        app, snapshots = build(args.state, f"http://{args.host}:{args.port}")
    except OSError as exc:
        log.error("the local AWS cannot keep its state in %s: %s", args.state, exc)
        return 2
    heap.settle_after_startup()  # moto's backends and the restored messages
    try:
        serve(app, args.host, args.port, durable=snapshots is not None)  # returns once SIGTERM or SIGINT stopped it
    finally:
        # Everything acknowledged is saved already; this keeps what was under way at the signal.
        if snapshots is not None:
            snapshots.close()
            snapshots.save_now()
            snapshots.state_file.close()
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Long polls still waiting in the WSGI threads would hold the exit for up to 20 s; nothing
    # they hold is unsaved (the state was written above).
    os._exit(code)
