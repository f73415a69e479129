"""``python -m openturk`` exits with the command's status, as the ``openturk`` script does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_python_dash_m_openturk_exits_with_the_commands_status(tmp_path: Path) -> None:
    # `workers disable` of a worker with no site account exits 2 (README); it used to exit 0 here.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openturk",
            "workers",
            "disable",
            "ANOSUCHWORKER1",
            "--db",
            f"sqlite:///{tmp_path}/x.db",
        ],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
