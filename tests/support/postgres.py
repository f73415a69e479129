"""A throwaway PostgreSQL cluster for the tests, made and removed by ``scripts/postgres``.

The script is the one way to start one (tests, benchmarks, a developer's shell): Debian's package,
loopback only, its socket in the cluster's own directory, fsync off, as the ``postgres`` system
user when run as root (initdb refuses root).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres"


class TemporaryPostgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="openturk-pg-"))
        self.url = ""
        self.port = 0

    def start(self) -> TemporaryPostgres:
        started = subprocess.run(
            [str(SCRIPT), "start", str(self.dir)], capture_output=True, text=True, timeout=180, check=False
        )
        if started.returncode != 0:
            self.stop()
            raise RuntimeError(f"scripts/postgres start failed:\n{started.stderr}")
        self.url = started.stdout.strip().splitlines()[-1]
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])
        return self

    def stop(self) -> None:
        subprocess.run([str(SCRIPT), "stop", str(self.dir)], capture_output=True, timeout=120, check=True)
