"""The embedded local AWS: moto's server as a child process, so a newcomer needs nothing else.

Started by ``openturk serve`` when no ``--aws-endpoint`` is given and no AWS credentials are
configured; real credentials or an explicit endpoint switch it off. It listens on a fixed port
(``--local-aws-port``, default 8444) and keeps its SQS/SNS state in a file next to the database,
so the queue URLs a requester saved still work after a restart.
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from openturk.notify.local_aws_server import IDENTITY_PATH
from openturk.ports import free_port
from openturk.store.database import is_in_memory, normalise_url

LOCAL_ACCESS_KEY = "openturk-local"
LOCAL_SECRET = "openturk-local"


def _die_with_parent() -> None:
    """Linux: end the child when openturk dies, even by SIGKILL, so no orphan holds the port."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def real_credentials_configured() -> bool:
    """Whether the environment names AWS credentials (without asking any metadata service)."""
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return True
    shared = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", Path.home() / ".aws" / "credentials"))
    return shared.exists()


class LocalAWSError(Exception):
    """The local AWS could not start; the message says why and what to do."""


def state_path(given: str | None, db_url: str) -> Path | None:
    """Where the local AWS keeps its state: ``given`` (``--local-aws-state``), else by the database.

    Next to an SQLite file (``openturk.db`` → ``openturk.db.local-aws``), ``./openturk.local-aws``
    for a server database (PostgreSQL), and nowhere (memory only) for an in-memory SQLite database,
    which keeps nothing across restarts either.
    """
    if given:
        return Path(given)
    url = make_url(normalise_url(db_url))
    if url.get_backend_name() != "sqlite":
        return Path("openturk.local-aws")
    if is_in_memory(db_url) or url.database is None:
        return None
    return Path(url.database + ".local-aws")


def what_is_kept(path: Path | None) -> str:
    """The one line ``openturk serve`` prints about what survives a restart of the local AWS."""
    if path is None:
        return "local SQS/SNS state: memory only (in-memory database), nothing is kept across restarts"
    return (
        f"local SQS/SNS state: {path} (queues, topics, subscriptions and messages, in flight ones included, "
        "are kept across restarts and crashes; other services moto emulates are not)"
    )


def _port_free(port: int) -> bool:
    # Bound as the server binds (SO_REUSEADDR), so connections left in TIME_WAIT do not count.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@functools.cache
def _plain_http() -> ssl.SSLContext:
    # The local AWS speaks plain HTTP, but httpx makes a TLS context for every call regardless
    # (~20-50 ms of CPU): a start polling every 50 ms spent most of a core on them while its child
    # was importing moto.
    return ssl.create_default_context()


def identify(url: str) -> dict[str, Any] | None:
    """``{"pid", "state"}`` of the openturk local AWS answering at ``url``; None for anything else."""
    try:
        response = httpx.get(url + IDENTITY_PATH, timeout=1.0, verify=_plain_http())
        found = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    if response.status_code != 200 or not isinstance(found, dict) or "pid" not in found:
        return None
    return found


class LocalAWS:
    """moto's SQS/SNS in a child process on 127.0.0.1:``port`` (0: any free port).

    With ``state_path`` its SQS and SNS state is loaded from that file at start and saved there
    before each answer (``openturk.notify.local_aws_server``); without, it lives in memory only.
    """

    def __init__(self, port: int = 0, state_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_path = state_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0, handover_s: float = 5.0) -> LocalAWS:
        """Start and wait until it answers; ``LocalAWSError`` if the port is taken or it fails.

        A port held by another openturk's local AWS is waited for up to ``handover_s``: the child
        of a stopped or killed ``openturk serve`` saves and exits within moments.
        """
        self._wait_for_port(handover_s)
        state = ["--state", str(self.state_path)] if self.state_path is not None else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openturk.notify.local_aws_server", "--port", str(self.port), *state],
            stdout=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalAWSError(f"the local AWS exited at start on port {self.port} (its error is above)")
            found = identify(self.url)
            if found is not None and found["pid"] == self.process.pid:
                return self
            time.sleep(0.05)
        self.stop()
        raise LocalAWSError(f"the local AWS did not answer on {self.url} in {timeout_s:.0f}s")

    def _wait_for_port(self, handover_s: float, foreign_grace_s: float = 1.0) -> None:
        # A process killed a moment ago may still hold the port without answering: a short grace.
        started = time.monotonic()
        while not _port_free(self.port):
            owner = identify(self.url)
            waited = time.monotonic() - started
            if owner is None and waited > foreign_grace_s:
                raise LocalAWSError(
                    f"port {self.port} is taken by another program (not openturk's local AWS): "
                    "stop it, or give --local-aws-port another port"
                )
            if owner is not None and waited > handover_s:
                raise LocalAWSError(
                    f"port {self.port} is held by the local AWS (pid {owner['pid']}) of another openturk serve "
                    f"(pid {owner.get('server', '?')}, state {owner.get('state')}): stop that server, "
                    "or give --local-aws-port another port"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
