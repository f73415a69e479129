"""Mephisto 1.1.1's real MTurk provider functions (``mturk_utils``), unchanged, under
``openturk exec --sandbox``: qualifications, HIT type and HIT, approve/reject, bonus, NotifyWorkers,
blocks, its ListHITs paging loop, expiry and disposal; each effect checked through boto3."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from openturk.testing import ServerProcess, Worker
from tests.support import frameworks

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(1500)]
DRIVER = Path(__file__).with_name("mephisto_driver.py")


def test_mephisto_mturk_utils_run_unchanged(server: ServerProcess, tmp_path: Path) -> None:
    venv = frameworks.venv_or_fail("mephisto")
    key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    mturk = server.client(key)
    first, second = (Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper()) for _ in range(2))
    # Mephisto keeps each requester's keys as an AWS profile (its setup_aws_credentials writes them).
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(
        f"[mephisto-lab]\naws_access_key_id = {key}\naws_secret_access_key = secret\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)  # ~/.aws and ~/.mephisto of this test only
    command = frameworks.under_exec(
        server.base_url,
        str(venv / "bin" / "python"),
        str(DRIVER),
        "mephisto-lab",
        first.worker_id,
        second.worker_id,
        mode="sandbox",
    )
    balance_before = float(mturk.get_account_balance()["AvailableBalance"])
    with frameworks.Driver(command, env, tmp_path) as driver:
        # --sandbox: Mephisto's client_is_sandbox() holds though the client took boto3's default (live) URL.
        assert driver.next() == {"sandbox": True, "balance": balance_before}

        made = driver.next()
        assert made["again"] == made["qid"]  # found, not made twice
        assert "workersandbox.mturk.com" in made["link"]
        hit = mturk.get_hit(HITId=made["hit"])["HIT"]
        assert hit["HITTypeId"] == made["hit_type"] and hit["MaxAssignments"] == 2
        # Sandbox: no locale requirement added; IntegerValue converted to IntegerValues.
        assert hit["QualificationRequirements"] == [
            {
                "QualificationTypeId": made["qid"],
                "Comparator": "GreaterThanOrEqualTo",
                "IntegerValues": [3],
                "ActionsGuarded": "DiscoverPreviewAndAccept",
            }
        ]
        assert "https://example.org/task?a=1&amp;b=2" in hit["Question"]
        outsider = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
        assert outsider.accept(made["hit"]).status_code >= 400
        first_assignment, second_assignment = first.do(made["hit"]), second.do(made["hit"])
        driver.go()

        result = driver.next()
        assert result["assignments"] == 2 and result["paid"] is True
        assert result["emailed"] == [True, ""]
        assert result["blocked"] is True and result["unblocked"] is True
        assert made["hit"] in result["outstanding"][made["hit_type"]]
        assert result["not_disposed"] == 0
        assert driver.next() == {"done": True}
        driver.finish()

    assert mturk.get_assignment(AssignmentId=first_assignment)["Assignment"]["AssignmentStatus"] == "Approved"
    rejected = mturk.get_assignment(AssignmentId=second_assignment)["Assignment"]
    assert (rejected["AssignmentStatus"], rejected["RequesterFeedback"]) == ("Rejected", "Answers were blank")
    [bonus] = mturk.list_bonus_payments(AssignmentId=first_assignment)["BonusPayments"]
    assert (bonus["WorkerId"], bonus["BonusAmount"], bonus["Reason"]) == (first.worker_id, "0.75", "Thorough work")
    assert float(mturk.get_account_balance()["AvailableBalance"]) < balance_before - 0.75
    assert mturk.list_worker_blocks()["WorkerBlocks"] == []
    assert mturk.get_hit(HITId=made["hit"])["HIT"]["HITStatus"] == "Disposed"
    kept = mturk.get_qualification_score(QualificationTypeId=made["qid"], WorkerId=first.worker_id)
    assert kept["Qualification"]["IntegerValue"] == 3
    status = mturk.get_qualification_type(QualificationTypeId=made["qid"])["QualificationType"]
    assert status["QualificationTypeStatus"] == "Disposing"
