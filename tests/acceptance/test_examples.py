"""Every recipe in ``examples/`` runs end to end: a real openturk server, moto, the example as a process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# The lines each example must print (substrings of its stdout), in order.
EXPECTED = {
    "add_assignments_on_disagreement.py": [
        "image-1: consensus 'cat' from 2 of 2 answers",
        "image-2: disagreement {'cat': 1, 'dog': 1} -> one more assignment",
        "answered 'dog'",
        "image-2: consensus 'dog' from 2 of 3 answers",
        "OK: ",
    ],
    "results_to_database.py": [
        "2 result(s) saved and approved",
        "row: receipt-103 ",
        "OK: 6 rows in results.db, every assignment approved; replaying added nothing",
    ],
    "flag_erring_worker.py": [
        "Japan: ",
        "wrong ('Kyoto', expected 'Tokyo') -> rejected",
        "FLAGGED worker ",
        "OK: ",
    ],
    "chain_hits.py": [
        "img-1: caption 'A cat asleep on a red sofa' -> check HIT ",
        "img-1: caption 'A cat asleep on a red sofa' verified",
        "OK: ",
    ],
    "repost_expired.py": [
        "clause-1: expired at $0.10 -> reposted as ",
        "clause-1: expired at $0.20 -> reposted as ",
        "clause-1: done at $0.40 after 2 repost(s)",
        "clause-2: expired at $0.40; $0.80 is over the limit -> sidelined",
        "OK: ",
    ],
    "sns_lambda_handler.py": [
        "invoked with 1 SNS record(s): 2 answers saved",
        "redelivered the same SNS message: skipped (same EventDocId)",
        "the seed's test event: handled",
        "a malformed message fails the invocation: ",
        "OK: ",
    ],
}


def in_order(output: str, lines: list[str]) -> bool:
    position = 0
    for line in lines:
        found = output.find(line, position)
        if found < 0:
            return False
        position = found + len(line)
    return True


def test_every_example_is_tested() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, server: ServerProcess, local_aws: LocalAWS) -> None:
    command = [sys.executable, str(EXAMPLES / name), "--endpoint", server.base_url, "--aws-endpoint", local_aws.url]
    result = subprocess.run(
        [*command, "--timeout", "50"], capture_output=True, text=True, timeout=60, cwd=EXAMPLES.parent
    )
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    assert in_order(result.stdout, EXPECTED[name]), output
