"""psiTurk 3.3.1's real shell, unchanged, under ``openturk exec``: ``psiturk hit create`` (with
``--require-qualification-id``), ``hit list``, ``hit extend``, ``qualifications list``, ``worker
approve/reject/unreject/bonus``, ``hit expire`` and ``hit delete``, as a lab types them in its
experiment folder, while workers do the HIT through openturk; each effect checked through boto3."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from openturk.testing import ServerProcess, Worker
from tests.support import frameworks

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(1500)]
# A lab's experiment folder needs only this: psiTurk reads config.txt from the current directory
# (its defaults fill the rest) and keeps its own participants.db there.
CONFIG_TXT = """\
[HIT Configuration]
title = Stroop task
description = Name the colour of each word
keywords = psychology, stroop
ad_url_domain = lab.example.org
us_only = true
approve_requirement = 95

[Shell Parameters]
launch_in_mode = sandbox
"""


class Shell:
    """``openturk exec -- psiturk COMMAND`` in the experiment folder, one command per run."""

    def __init__(self, server: ServerProcess, venv: Path, folder: Path, key: str) -> None:
        self.server, self.venv, self.folder = server, venv, folder
        self.env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": "secret", "HOME": str(folder)}

    def __call__(self, command: str) -> str:
        argv = frameworks.under_exec(self.server.base_url, str(self.venv / "bin" / "psiturk"), "-e", command)
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=180, env=self.env, cwd=self.folder, check=False
        )
        assert result.returncode == 0, f"psiturk -e {command!r}:\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
        return result.stdout


def _hit(mturk: Any, hit_id: str) -> dict[str, Any]:
    return dict(mturk.get_hit(HITId=hit_id)["HIT"])


def test_psiturk_shell_runs_unchanged(server: ServerProcess, tmp_path: Path) -> None:
    venv = frameworks.venv_or_fail("psiturk")
    (tmp_path / "config.txt").write_text(CONFIG_TXT)
    key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    mturk = server.client(key)
    psiturk = Shell(server, venv, tmp_path, key)
    qual = mturk.create_qualification_type(
        Name=f"stroop-pilot-{uuid.uuid4().hex[:6]}", Description="Did the pilot", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    workers = [Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper()) for _ in range(3)]
    for worker in workers:
        mturk.associate_qualification_with_worker(QualificationTypeId=qual, WorkerId=worker.worker_id, IntegerValue=1)

    listed = psiturk("qualifications list")
    assert qual in listed and "No custom qualifications found" not in listed

    created = psiturk(f"hit create 3 1.50 2 --require-qualification-id {qual}")
    match = re.search(r"HITid: (\w+)", created)
    assert match, created
    hit_id = match.group(1)
    hit = _hit(mturk, hit_id)
    assert (hit["MaxAssignments"], hit["Reward"], hit["Title"]) == (3, "1.50", "Stroop task")
    assert hit["AssignmentDurationInSeconds"] == 7200
    assert "https://lab.example.org:443/pub?mode=sandbox" in hit["Question"]
    required = {r["QualificationTypeId"]: r for r in hit["QualificationRequirements"]}
    assert required[qual]["Comparator"] == "Exists"
    assert required["000000000000000000L0"]["IntegerValues"] == [95]
    assert required["00000000000000000071"]["LocaleValues"] == [{"Country": "US"}]
    outsider = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
    assert outsider.accept(hit_id).status_code >= 400  # no pilot qualification

    assert hit_id in psiturk("hit list")
    approved_id, rejected_id, unrejected_id = (worker.do(hit_id) for worker in workers)

    psiturk(f"hit extend {hit_id} --assignments 2 --expiration 30")
    extended = _hit(mturk, hit_id)
    assert extended["MaxAssignments"] == 5
    assert (extended["Expiration"] - hit["Expiration"]).total_seconds() == pytest.approx(1800, abs=5)

    # The workers did not go through a psiTurk server, so its own database does not know the
    # assignment: psiTurk then wants --all-studies --force.
    psiturk(f"worker approve {approved_id} --all-studies --force")
    psiturk(f"worker reject {rejected_id} {unrejected_id}")
    psiturk(f"worker unreject {unrejected_id}")
    # psiTurk passes --override-bonused-status where it means --all-studies (its own shell's quirk).
    psiturk(f'worker bonus --amount 0.25 --reason "Fast and careful" {approved_id} --override-bonused-status')
    statuses = {
        a["AssignmentId"]: a["AssignmentStatus"] for a in mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]
    }
    assert statuses == {approved_id: "Approved", rejected_id: "Rejected", unrejected_id: "Approved"}
    [bonus] = mturk.list_bonus_payments(AssignmentId=approved_id)["BonusPayments"]
    assert (bonus["WorkerId"], bonus["BonusAmount"], bonus["Reason"]) == (
        workers[0].worker_id,
        "0.25",
        "Fast and careful",
    )

    psiturk(f"hit expire {hit_id}")
    assert _hit(mturk, hit_id)["HITStatus"] == "Reviewable"
    assert hit_id in psiturk("hit list --reviewable")
    psiturk(f"hit delete {hit_id}")
    assert _hit(mturk, hit_id)["HITStatus"] == "Disposed"
