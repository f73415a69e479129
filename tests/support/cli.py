"""``openturk`` commands run in this test process: their exit status and what they print.

For tests that check what a command does to the database and says, not that it runs as a program
(``serve``, ``dispatch`` and ``exec`` stay subprocesses): a new Python process costs ~1.5-2 s of
start-up and imports on a loaded machine, the command itself ~0.05 s.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass

from openturk import cli

# Rich colours its output only on a terminal (pytest -s at a console): the tests read plain text.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class CliRun:
    """What ``openturk ARGS`` did: as ``subprocess.run`` would have captured it."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliRun:
    """Run ``openturk ARGS`` (``openturk.cli.main``) here, capturing stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:  # argparse's usage errors, as the program would exit
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return CliRun(code, _ANSI.sub("", out.getvalue()), _ANSI.sub("", err.getvalue()))


def cli_keys(db_url: str, *args: str) -> dict[str, str]:
    """Run ``openturk ARGS --db DB_URL`` and read the ``NAME VALUE`` lines it prints (keys, tokens);
    a failing command fails the test with what it printed."""
    done = run_cli(*args, "--db", db_url)
    assert done.returncode == 0, f"openturk {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return dict(re.findall(r"^(\S+)\s+(\S+)$", done.stdout, re.MULTILINE))
