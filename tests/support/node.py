"""The test suite's Node.js packages (tests/js): the AWS SDK for JavaScript and axe-core."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS_DIR = Path(__file__).resolve().parents[1] / "js"
NPM_CI_TIMEOUT = 420.0
# One file of each locked package: when one is missing, `npm ci` installs them all.
INSTALLED = (
    JS_DIR / "node_modules" / "@aws-sdk" / "client-mturk" / "package.json",
    JS_DIR / "node_modules" / "axe-core" / "axe.min.js",
)
AXE = INSTALLED[1]


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH: install Node.js >= 20 (with npm); scripts/test does", pytrace=False)
    return path


def ensure_node_modules() -> None:
    """Install the locked packages on a clean checkout (``node_modules/`` is git-ignored)."""
    if all(path.is_file() for path in INSTALLED):
        return
    result = subprocess.run(
        [tool("npm"), "ci", "--no-audit", "--no-fund"],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=NPM_CI_TIMEOUT,
        check=False,
    )
    outcome = f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"`npm ci` in {JS_DIR} failed:\n{outcome}"
