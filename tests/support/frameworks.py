"""Virtual environments with the real MTurk frameworks (psiTurk, Dallinger, Mephisto, oTree), pinned from PyPI.

Each framework pins its own boto3/botocore (psiTurk: botocore 1.12 and an older Python), so each gets
a virtual environment of its own, made once per machine and kept under
``~/.cache/openturk-tests/venvs/<name>-<version>-py<X.Y>`` (``OPENTURK_FRAMEWORKS_CACHE`` moves it).
A venv counts as ready only once its install finished and its framework imported (a ``ready`` file
holds the seconds the install took); a half-made one is made again. A file lock keeps two test
processes on one machine from building the same venv at once.

``scripts/test`` starts making all of them in the background as pytest starts
(``python -m tests.support.frameworks``); the framework tests run last and, through the lock, wait for
them. A test run without it makes the one it needs. ``OPENTURK_FRAMEWORKS_<NAME>_VENV`` names a venv
to use instead (made by hand).
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PIP_TIMEOUT_S = 900.0  # one `pip install` of a framework with its dependencies, on a slow machine
PIP_NETWORK_TIMEOUT_S = "60"  # pip's own per-connection timeout
CACHE = Path(os.environ.get("OPENTURK_FRAMEWORKS_CACHE", Path.home() / ".cache" / "openturk-tests" / "venvs"))


@dataclass(frozen=True)
class Framework:
    name: str
    requirement: str
    pythons: tuple[str, ...]  # the Python versions it supports, preferred first
    module: str  # imported to check the venv
    # Declared dependencies left out: installed with --no-deps, then the rest of its requirements.
    skip: tuple[str, ...] = ()
    # Requirements added to its own, for dependencies whose newest releases break it.
    pins: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        return self.requirement.split("==")[1]


FRAMEWORKS = {
    # psiTurk 3.3.1 pins boto3 1.9 / botocore 1.12, gevent 20 and friends that predate Python 3.10.
    # Its pyOpenSSL 22.0 fails to import with cryptography 39 or later (GEN_EMAIL); its APScheduler 3.6
    # imports pkg_resources, which setuptools 70+ (pulled in by gunicorn) no longer ships.
    "psiturk": Framework(
        "psiturk",
        "PsiTurk==3.3.1",
        ("3.9", "3.8", "3.7"),
        "psiturk.psiturk_shell",
        pins=("cryptography<39", "setuptools<70"),
    ),
    "dallinger": Framework("dallinger", "dallinger==12.4.0", ("3.11", "3.12", "3.13"), "dallinger.mturk"),
    # oTree signs SigV4 itself and calls urllib on MTurk's hostnames: it needs `openturk serve --tls`.
    # Its MTurk client reads the project's settings.py, so the check imports the package only.
    "otree": Framework("otree", "otree==6.0.15", ("3.11", "3.12", "3.13", "3.10"), "otree"),
    # detoxify (torch + transformers, gigabytes) serves only Mephisto's optional content moderation,
    # which Mephisto imports inside a try/except.
    "mephisto": Framework(
        "mephisto",
        "mephisto==1.1.1",
        ("3.10", "3.9", "3.8"),  # its dataclasses break on 3.11 (mutable defaults)
        "mephisto.abstractions.providers.mturk.mturk_utils",
        skip=("detoxify",),
    ),
}


class FrameworkUnavailable(RuntimeError):
    pass


def find_python(versions: tuple[str, ...]) -> tuple[str, str]:
    """The first interpreter found for the preferred versions: (path, "X.Y").

    Looks in pyenv's versions (``~/.pyenv/versions/X.Y*/bin/python``), then ``pythonX.Y`` on PATH,
    and checks that it runs and has ``venv``. Raises ``FrameworkUnavailable`` naming what it looked for.
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in versions:
        candidates = sorted(glob.glob(str(pyenv / f"{version}*" / "bin" / "python")), reverse=True)
        on_path = shutil.which(f"python{version}")
        for candidate in [*candidates, *([on_path] if on_path else [])]:
            probe = subprocess.run(
                [candidate, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if probe.returncode == 0 and probe.stdout.strip() == version:
                return candidate, version
    raise FrameworkUnavailable(
        f"no Python {' or '.join(versions)} with venv found (looked in {pyenv}/<version>*/bin/python and for "
        f"python<version> on PATH): install one, e.g. `pyenv install {versions[0]}`"
    )


def venv_dir(framework: Framework, python_version: str) -> Path:
    return CACHE / f"{framework.name}-{framework.version}-py{python_version}"


def bin_path(venv: Path, program: str) -> Path:
    return venv / "bin" / program


def ensure(name: str) -> Path:
    """The ready venv of framework ``name``, made first if needed. Raises ``FrameworkUnavailable``."""
    given = os.environ.get(f"OPENTURK_FRAMEWORKS_{name.upper()}_VENV")
    if given:  # a venv made by hand (another Python, a development copy of the framework): used as it is
        return Path(given)
    framework = FRAMEWORKS[name]
    python, version = find_python(framework.pythons)
    venv = venv_dir(framework, version)
    ready = venv / "ready"
    if ready.is_file():
        return venv
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be making it: wait, then use its result
        if not ready.is_file():
            started = time.monotonic()
            _build(framework, python, venv)
            ready.write_text(json.dumps({"install_seconds": round(time.monotonic() - started, 1)}))
    return venv


def install_seconds(venv: Path) -> float:
    return float(json.loads((venv / "ready").read_text())["install_seconds"])


def _build(framework: Framework, python: str, venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    _run([python, "-m", "venv", str(venv)], f"making the venv {venv}")
    pip = [
        str(bin_path(venv, "python")),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--prefer-binary",
        "--timeout",
        PIP_NETWORK_TIMEOUT_S,
    ]
    if framework.skip:
        _run([*pip, "--no-deps", framework.requirement], f"installing {framework.requirement}")
        dependencies = [*_requirements_without(venv, framework), *framework.pins]
        _run([*pip, *dependencies], f"installing {framework.requirement}'s dependencies")
    else:
        _run([*pip, framework.requirement, *framework.pins], f"installing {framework.requirement}")
    _run([str(bin_path(venv, "python")), "-c", f"import {framework.module}"], f"importing {framework.module}")


def _requirements_without(venv: Path, framework: Framework) -> list[str]:
    """The framework's declared requirements (no extras), less ``framework.skip``."""
    script = (
        "import json, re, importlib.metadata as m\n"
        f"reqs = m.requires({framework.requirement.split('==')[0]!r}) or []\n"
        "print(json.dumps([r.split(';')[0].strip() for r in reqs if 'extra ==' not in r]))\n"
    )
    out = _run([str(bin_path(venv, "python")), "-c", script], "reading requirements")
    skip = {name.lower() for name in framework.skip}
    return [req for req in json.loads(out) if re.split(r"[\s(<>=!~\[;]", req, maxsplit=1)[0].lower() not in skip]


def _run(command: list[str], what: str) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FrameworkUnavailable(f"{what}: no result in {PIP_TIMEOUT_S:.0f}s") from exc
    if result.returncode != 0:
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        raise FrameworkUnavailable(f"{what} failed (exit {result.returncode}):\n{output}")
    return result.stdout


def under_exec(endpoint: str, *command: str, mode: str | None = None, local_aws: str | None = None) -> list[str]:
    """``openturk exec [--sandbox|--live] [--local-aws URL] --endpoint ENDPOINT -- COMMAND`` as an argv."""
    options = [*([f"--{mode}"] if mode else []), *(["--local-aws", local_aws] if local_aws else [])]
    return [sys.executable, "-m", "openturk.cli", "exec", "--endpoint", endpoint, *options, "--", *command]


class Driver:
    """A framework driver script run as a child: one JSON object per stdout line; ``go`` writes a line
    to its stdin (it waits for one while the test's workers act)."""

    STEP_TIMEOUT_S = 180.0

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
        )

    def next(self) -> dict[str, Any]:
        """Its next JSON line (the framework's own log lines are passed over); a test failure with
        its stderr if it ended instead."""
        assert self.process.stdout is not None
        for line in self.process.stdout:  # ends at the child's end of output
            if line.startswith('{"'):
                return dict(json.loads(line))
        code = self.process.wait(timeout=self.STEP_TIMEOUT_S)
        stderr = self.process.stderr.read() if self.process.stderr else ""
        pytest.fail(f"the driver stopped (exit {code}):\n{stderr[-6000:]}", pytrace=False)

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def finish(self) -> None:
        """Wait for a clean exit (a test failure otherwise)."""
        code = self.process.wait(timeout=self.STEP_TIMEOUT_S)
        stderr = self.process.stderr.read() if self.process.stderr else ""
        assert code == 0, stderr[-6000:]

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def venv_or_fail(name: str) -> Path:
    """For tests: the framework's venv, or a test failure that says why it could not be made."""
    try:
        return ensure(name)
    except FrameworkUnavailable as exc:
        pytest.fail(f"{name}: {exc}", pytrace=False)


def main(argv: list[str]) -> int:
    """``python -m tests.support.frameworks [NAME …]``: make the venvs (all by default), report their install times."""
    names = argv or list(FRAMEWORKS)
    for name in names:
        started = time.monotonic()
        try:
            venv = ensure(name)
        except FrameworkUnavailable as exc:
            print(f"frameworks: {name}: {exc}", file=sys.stderr)
            return 1
        took = time.monotonic() - started
        print(f"frameworks: {name} ready in {venv} (install {install_seconds(venv):.0f}s; this run {took:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
