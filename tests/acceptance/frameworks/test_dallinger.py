"""Dallinger 12.4.0's real ``MTurkService``, unchanged, under ``openturk exec --sandbox --local-aws``:
qualifications, a HIT that requires one, its SNS subscription handshake and notifications through
an HTTP listener as Dallinger's, then extend, expire and delete; each effect checked through boto3."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess, Worker
from tests.support import frameworks

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(1500)]
DRIVER = Path(__file__).with_name("dallinger_driver.py")
STEP_TIMEOUT_S = 120.0


def _next(driver: subprocess.Popen[str]) -> dict[str, Any]:
    assert driver.stdout is not None
    line = driver.stdout.readline()
    if not line:
        stderr = driver.stderr.read() if driver.stderr else ""
        pytest.fail(f"the Dallinger driver stopped (exit {driver.wait(timeout=STEP_TIMEOUT_S)}):\n{stderr}")
    return dict(json.loads(line))


def test_dallinger_mturk_service_runs_unchanged(server: ServerProcess, local_aws: LocalAWS, tmp_path: Path) -> None:
    venv = frameworks.venv_or_fail("dallinger")
    key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    mturk = server.client(key)
    worker = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
    command = frameworks.under_exec(
        server.base_url,
        str(venv / "bin" / "python"),
        str(DRIVER),
        key,
        worker.worker_id,
        mode="sandbox",
        local_aws=local_aws.url,
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": "secret"}
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    ) as driver:
        try:
            start = _next(driver)
            assert start == {"endpoint": "https://mturk-requester-sandbox.us-east-1.amazonaws.com", "balance": 10000.0}

            quals = _next(driver)
            assert quals["found"] == quals["qtype"]
            assert (quals["incremented"], quals["named"], quals["score"]) == (6, 7, 7)
            assert quals["holders"] == [{"id": worker.worker_id, "score": 7}]
            score = mturk.get_qualification_score(QualificationTypeId=quals["qtype"], WorkerId=worker.worker_id)
            assert score["Qualification"]["IntegerValue"] == 7

            created = _next(driver)
            hit_id = created["hit"]
            assert created["confirmations"], "the subscription was confirmed through Dallinger's listener"
            assert created["qualification_type_ids"] == [quals["qtype"]]
            hit = mturk.get_hit(HITId=hit_id)["HIT"]
            assert hit["QualificationRequirements"][0]["Comparator"] == "Exists"
            unqualified = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
            assert unqualified.accept(hit_id).status_code >= 400
            worker.do(hit_id)
            assert driver.stdin is not None
            driver.stdin.write("done\n")
            driver.stdin.flush()

            events = _next(driver)["events"]
            assert {"AssignmentAccepted", "AssignmentSubmitted", "HITReviewable"} <= {
                e for e, h in events if h == hit_id
            }

            extended = _next(driver)
            assert extended["extended_max"] == 2
            finished = _next(driver)
            assert finished["after_revoke"] is None
            assert finished["deleted"] is True
            assert driver.wait(timeout=STEP_TIMEOUT_S) == 0, driver.stderr.read() if driver.stderr else ""
        finally:
            if driver.poll() is None:
                driver.kill()
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Disposed"
    disposed = mturk.get_qualification_type(QualificationTypeId=quals["qtype"])["QualificationType"]
    assert disposed["QualificationTypeStatus"] == "Disposing"
