"""The embedded local AWS: moto's server as a child process, so a newcomer needs nothing else.

Started by ``openturk serve`` when no ``--aws-endpoint`` is given and no AWS credentials are
configured; real credentials or an explicit endpoint switch it off.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from openturk.ports import free_port

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


class LocalAWS:
    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> LocalAWS:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("moto's server exited at start")
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=1.0)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto's server did not answer on {self.url}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
