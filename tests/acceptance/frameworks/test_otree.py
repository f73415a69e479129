"""oTree 6.0.15's own MTurk client (SigV4 by hand, urllib on MTurk's hostnames, no botocore), unchanged,
reaches openturk under ``openturk exec`` with ``openturk serve --tls``; its views' calls and its
payments loop work, and each effect is checked through boto3."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from openturk.testing import ServerProcess, Worker
from tests.conftest import cli_keys
from tests.support import frameworks

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(1500)]
DRIVER = Path(__file__).with_name("otree_driver.py")
# The least an oTree project's settings.py holds for otree.settings to load.
SETTINGS = """SESSION_CONFIGS = []
SESSION_CONFIG_DEFAULTS = {}
ROOMS = []
LANGUAGE_CODE = "en"
REAL_WORLD_CURRENCY_CODE = "USD"
USE_POINTS = False
SECRET_KEY = "openturk-test"
DEMO_PAGE_INTRO_HTML = ""
INSTALLED_APPS = ["otree"]
"""


@pytest.fixture(scope="module")
def tls_server() -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=False, auth="sigv4", tls=True) as running:
        yield running


def test_otree_mturk_client_runs_unchanged_over_tls(tls_server: ServerProcess, tmp_path: Path) -> None:
    venv = frameworks.venv_or_fail("otree")
    out = subprocess.run(
        [sys.executable, "-m", "openturk.cli", "requesters", "create", "otree-lab", "--db", tls_server.db_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    keys = dict(line.split(None, 1) for line in out.splitlines() if line.strip())
    key, secret = keys["AWS_ACCESS_KEY_ID"].strip(), keys["AWS_SECRET_ACCESS_KEY"].strip()
    mturk = tls_server.client(key, secret)
    (tmp_path / "settings.py").write_text(SETTINGS)
    (tmp_path / "_static").mkdir()  # oTree's static-files app wants the project's folder
    made = cli_keys(tls_server.db_url, "workers", "create", "otree-participant")
    worker_id = made["WorkerId"]
    worker = Worker(tls_server.base_url, worker_id, made["Token"], verify=tls_server.http_verify)
    command = [sys.executable, "-m", "openturk.cli", "exec", "--endpoint", tls_server.base_url]
    command += ["--ca-file", str(tls_server.ca_file), "--", str(venv / "bin" / "python"), str(DRIVER), worker_id]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "PYTHONPATH": str(tmp_path)}
    with frameworks.Driver(command, env, tmp_path) as driver:
        created = driver.next()
        hit = mturk.get_hit(HITId=created["hit"])["HIT"]
        assert hit["Title"] == "An oTree study" and hit["HITGroupId"] == created["group"]

        assignment_id = worker.do(created["hit"], {"answer": "cooperate"})
        driver.go()

        listed = driver.next()["assignments"]
        assert listed == [[worker_id, assignment_id, "Submitted"]]
        assert driver.next() == {"done": True}
        driver.finish()

    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved"
    bonuses = mturk.list_bonus_payments(AssignmentId=assignment_id)["BonusPayments"]
    assert [(b["WorkerId"], b["BonusAmount"], b["Reason"]) for b in bonuses] == [(worker_id, "0.25", "Thank you")]
    # oTree expires a HIT with ExpireAt in 2015: a past time expires it now.
    expired = mturk.get_hit(HITId=created["hit"])["HIT"]
    assert expired["HITStatus"] in ("Reviewable", "Reviewing") and expired["Expiration"].timestamp() <= time.time()
