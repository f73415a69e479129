"""Clients other than boto3, used unchanged: the AWS SDK for JavaScript v3 and the AWS CLI (v1).

Both talk to the session's real ``openturk serve`` process; each test names a brand-new requester
(open auth mode: the access key id is the requester) so listings see only that test's HITs. Each
also signs for a ``--auth sigv4`` server, where the signature is verified.
A missing ``node``/``npm``/``awscli`` is a failure, never a skip: these tests are the proof.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess
from tests.conftest import HTML_QUESTION, cli_keys
from tests.support.node import JS_DIR, NPM_CI_TIMEOUT, ensure_node_modules

SMOKE_SCRIPT = JS_DIR / "mturk_smoke.mjs"
CLIENT_TIMEOUT = 120.0

AwsCli = Callable[..., subprocess.CompletedProcess[str]]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: install Node.js >= 20 (with npm) to run the JavaScript SDK compatibility test",
            pytrace=False,
        )
    return path


def _describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"


def _new_requester() -> str:
    return f"AKID{uuid.uuid4().hex[:16].upper()}"


@pytest.fixture(scope="module")
def sigv4_server(local_aws: LocalAWS) -> Iterator[ServerProcess]:
    """Signatures verified: each client must sign exactly as AWS does, body hash and X-Amz-Target included."""
    with ServerProcess(auth="sigv4", virtual_clock=False, extra_args=["--aws-endpoint", local_aws.url]) as running:
        yield running


def _smoke(base_url: str, access_key_id: str, secret: str | None = None) -> None:
    node = _tool("node")
    ensure_node_modules()

    result = subprocess.run(
        [node, str(SMOKE_SCRIPT), base_url],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        check=False,
        env={
            **os.environ,
            "OPENTURK_ACCESS_KEY_ID": access_key_id,
            **({"OPENTURK_SECRET_ACCESS_KEY": secret} if secret else {}),
        },
    )

    lines = result.stdout.strip().splitlines()
    assert lines, f"the smoke script printed nothing:\n{_describe(result)}"
    summary = json.loads(lines[-1])
    assert result.returncode == 0 and summary["ok"], f"JavaScript SDK smoke checks failed:\n{_describe(result)}"
    assert summary["failures"] == []
    assert summary["checks"] >= 20
    assert len(summary["result"]["hitIds"]) == 3 and summary["result"]["pages"] >= 3
    assert summary["result"]["qualificationTypeId"]


@pytest.mark.timeout(NPM_CI_TIMEOUT + CLIENT_TIMEOUT + 60)
def test_javascript_sdk_v3_smoke(server: ServerProcess) -> None:
    _smoke(server.base_url, _new_requester())


@pytest.mark.timeout(NPM_CI_TIMEOUT + CLIENT_TIMEOUT + 60)
def test_javascript_sdk_v3_signatures_verify_under_sigv4(sigv4_server: ServerProcess) -> None:
    keys = cli_keys(sigv4_server.db_url, "requesters", "create", "js-sdk")
    _smoke(sigv4_server.base_url, keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])


def _aws_cli(base_url: str, tmp_path: Path, access_key_id: str, secret: str) -> AwsCli:
    """Run ``aws mturk ...`` (the venv's awscli) with these keys, isolated from any user config."""
    if importlib.util.find_spec("awscli") is None:
        pytest.fail("the `awscli` package is not installed: `pip install -e .[test]`", pytrace=False)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_CONFIG_FILE": str(tmp_path / "no-such-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-such-credentials"),
        "AWS_PAGER": "",
    }
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_MTURK",
        "AWS_DEFAULT_OUTPUT",
        "AWS_CA_BUNDLE",
    ):
        env.pop(name, None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "awscli",
            "mturk",
            *args,
            "--endpoint-url",
            base_url,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=CLIENT_TIMEOUT, check=False)

    return run


@pytest.fixture
def aws(server: ServerProcess, tmp_path: Path) -> AwsCli:
    """The AWS CLI as a fresh requester (open mode: the access key names it)."""
    return _aws_cli(server.base_url, tmp_path, _new_requester(), "openturk-test-secret")


def _ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, _describe(result)
    return json.loads(result.stdout)


def _create_hit(aws: AwsCli, title: str) -> dict[str, Any]:
    created = _ok(
        aws(
            "create-hit",
            "--title",
            title,
            "--description",
            "Say what is in the picture",
            "--reward",
            "0.50",
            "--assignment-duration-in-seconds",
            "600",
            "--lifetime-in-seconds",
            "3600",
            "--auto-approval-delay-in-seconds",
            "86400",
            "--max-assignments",
            "1",
            "--question",
            HTML_QUESTION,
        )
    )
    return dict(created["HIT"])


def test_cli_get_account_balance(aws: AwsCli) -> None:
    balance = _ok(aws("get-account-balance"))

    assert float(balance["AvailableBalance"]) >= 0


def test_cli_signatures_verify_under_sigv4(sigv4_server: ServerProcess, tmp_path: Path) -> None:
    keys = cli_keys(sigv4_server.db_url, "requesters", "create", "aws-cli")
    signed = _aws_cli(sigv4_server.base_url, tmp_path, keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])
    hit = _create_hit(signed, "Signed by the AWS CLI")
    assert _ok(signed("get-hit", "--hit-id", hit["HITId"]))["HIT"]["Title"] == "Signed by the AWS CLI"
    wrong = _aws_cli(sigv4_server.base_url, tmp_path, keys["AWS_ACCESS_KEY_ID"], "not-the-secret")
    refused = wrong("get-account-balance")
    assert refused.returncode != 0 and "InvalidSignatureException" in refused.stderr, _describe(refused)


def test_cli_create_hit_then_get_hit(aws: AwsCli) -> None:
    created = _create_hit(aws, "Label an image (cli)")

    got = _ok(aws("get-hit", "--hit-id", created["HITId"]))["HIT"]

    assert got["HITId"] == created["HITId"]
    assert got["HITTypeId"] == created["HITTypeId"]
    assert got["HITStatus"] == "Assignable"
    assert got["Title"] == "Label an image (cli)"
    assert got["Reward"] == "0.50"
    assert got["MaxAssignments"] == 1
    assert got["Question"] == HTML_QUESTION
    assert isinstance(got["QualificationRequirements"], list)
    assert got["Expiration"] > got["CreationTime"]


def test_cli_list_hits_paginates(aws: AwsCli) -> None:
    hit_ids = {_create_hit(aws, f"Paged HIT {i}")["HITId"] for i in range(3)}

    # awscli v1 turns its own paginator off when the limit key is given: one page and a NextToken,
    # which we then follow by hand.
    seen: list[str] = []
    page = _ok(aws("list-hits", "--max-results", "1"))
    while True:
        assert page["NumResults"] == len(page["HITs"]) <= 1
        seen += [hit["HITId"] for hit in page["HITs"]]
        if "NextToken" not in page:
            break
        assert len(seen) <= len(hit_ids), f"pagination does not end: {seen}"
        page = _ok(aws("list-hits", "--max-results", "1", "--next-token", page["NextToken"]))
    assert sorted(seen) == sorted(hit_ids)

    # --page-size is the CLI's own auto-pagination: MaxResults=1 per request, every page merged.
    merged = aws("list-hits", "--page-size", "1", "--debug")
    requests = [
        line for line in merged.stderr.splitlines() if "Making request for OperationModel(name=ListHITs)" in line
    ]
    assert {hit["HITId"] for hit in _ok(merged)["HITs"]} == hit_ids
    assert len(requests) >= len(hit_ids), _describe(merged)
    assert all('"MaxResults": 1' in line for line in requests)


def test_cli_get_missing_hit_is_a_request_error(aws: AwsCli) -> None:
    result = aws("get-hit", "--hit-id", "NOPE123")

    assert result.returncode != 0, _describe(result)
    assert "An error occurred (RequestError) when calling the GetHIT operation" in result.stderr
    assert "NOPE123" in result.stderr

    # The CLI prints only the error's Message; TurkErrorCode is in the response body (--debug shows it).
    debug = aws("get-hit", "--hit-id", "NOPE123", "--debug")
    assert debug.returncode != 0
    assert "RequestError" in debug.stderr
    assert '"TurkErrorCode": "AWS.MechanicalTurk.HITDoesNotExist"' in debug.stderr, _describe(debug)


def test_cli_qualification_round_trip(aws: AwsCli) -> None:
    """Create a type, grant it, read the score and the granted workers, revoke it: the CLI's own
    serialisation of every qualification call reaches openturk and reads its answers."""
    created = _ok(
        aws(
            "create-qualification-type",
            "--name",
            f"CLI qualified {uuid.uuid4().hex[:8]}",
            "--description",
            "Passed the screener",
            "--qualification-type-status",
            "Active",
        )
    )["QualificationType"]
    type_id = created["QualificationTypeId"]
    assert created["QualificationTypeStatus"] == "Active"
    worker_id = "A" + uuid.uuid4().hex[:13].upper()
    granted = aws(
        "associate-qualification-with-worker",
        "--qualification-type-id",
        type_id,
        "--worker-id",
        worker_id,
        "--integer-value",
        "7",
        "--no-send-notification",
    )
    assert granted.returncode == 0, _describe(granted)  # an empty answer: the CLI prints nothing
    score = _ok(aws("get-qualification-score", "--qualification-type-id", type_id, "--worker-id", worker_id))
    assert (score["Qualification"]["IntegerValue"], score["Qualification"]["Status"]) == (7, "Granted")
    listed = _ok(aws("list-workers-with-qualification-type", "--qualification-type-id", type_id))
    assert [q["WorkerId"] for q in listed["Qualifications"]] == [worker_id]
    revoking = aws(
        "disassociate-qualification-from-worker",
        "--qualification-type-id",
        type_id,
        "--worker-id",
        worker_id,
        "--reason",
        "Retired the screener",
    )
    assert revoking.returncode == 0, _describe(revoking)
    revoked = aws("get-qualification-score", "--qualification-type-id", type_id, "--worker-id", worker_id)
    assert revoked.returncode != 0 and "can be called with a status of: Granted" in revoked.stderr, _describe(revoked)
    listed = _ok(aws("list-workers-with-qualification-type", "--qualification-type-id", type_id, "--status", "Revoked"))
    assert [q["Status"] for q in listed["Qualifications"]] == ["Revoked"]
    missing = aws("get-qualification-score", "--qualification-type-id", type_id, "--worker-id", "ANOBODY0000000")
    assert missing.returncode != 0 and "does not exist" in missing.stderr, _describe(missing)
