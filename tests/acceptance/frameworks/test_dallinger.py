"""Dallinger 12.4.0's real ``MTurkService``, unchanged, under ``openturk exec --sandbox --local-aws``:
qualifications, a HIT that requires one, its SNS subscription handshake and notifications through
an HTTP listener as Dallinger's, then extend, expire and delete; each effect checked through boto3."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess, Worker
from tests.support import frameworks

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(1500)]
DRIVER = Path(__file__).with_name("dallinger_driver.py")


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
    with frameworks.Driver(command, env, tmp_path) as driver:
        start = driver.next()
        assert start == {"endpoint": "https://mturk-requester-sandbox.us-east-1.amazonaws.com", "balance": 10000.0}

        quals = driver.next()
        assert quals["found"] == quals["qtype"]
        assert (quals["incremented"], quals["named"], quals["score"]) == (6, 7, 7)
        assert quals["holders"] == [{"id": worker.worker_id, "score": 7}]
        score = mturk.get_qualification_score(QualificationTypeId=quals["qtype"], WorkerId=worker.worker_id)
        assert score["Qualification"]["IntegerValue"] == 7

        created = driver.next()
        hit_id = created["hit"]
        assert created["confirmations"], "the SNS subscription was confirmed through Dallinger's listener"
        assert created["qualification_type_ids"] == [quals["qtype"]]
        hit = mturk.get_hit(HITId=hit_id)["HIT"]
        assert hit["QualificationRequirements"][0]["Comparator"] == "Exists"
        unqualified = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
        assert unqualified.accept(hit_id).status_code >= 400
        worker.do(hit_id)
        driver.go()

        events = driver.next()["events"]
        assert {"AssignmentAccepted", "AssignmentSubmitted", "HITReviewable"} <= {e for e, h in events if h == hit_id}

        assert driver.next()["extended_max"] == 2
        finished = driver.next()
        # Revoked: Dallinger reads MTurk's refusal to score it as "no score".
        assert finished["after_revoke"] is None
        assert finished["deleted"] is True
        driver.finish()
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Disposed"
    disposed = mturk.get_qualification_type(QualificationTypeId=quals["qtype"])["QualificationType"]
    assert disposed["QualificationTypeStatus"] == "Disposing"
