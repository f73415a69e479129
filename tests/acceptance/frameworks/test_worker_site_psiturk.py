"""A psiTurk study, end to end on the worker site: psiTurk 3.3.1's own example experiment (the Stroop
task, from ``psiturk-setup-example``) served by psiTurk's own experiment server, its HIT made with
``psiturk -e "hit create …"`` under ``openturk exec``, done by a worker in Chromium on openturk's
worker site, submitted through one of the README's one-line template overrides, and then seen and
approved by the requester through boto3 and psiTurk's shell. Nothing of psiTurk is changed but that
line and the settings psiTurk reads from ``PSITURK_*`` environment variables.

Both recipes run: openturk's URL written into the form (``--auth open``: the site's
``/mturk/externalSubmit`` takes the form without a worker token), and the form posting to the
frame's ``turkSubmitTo`` (``--auth sigv4``: the task origin's token in that URL is the worker's
authority; on MTurk itself the same line posts to MTurk)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.ports import free_port
from openturk.testing import ServerProcess
from tests.acceptance.frameworks.test_submit_recipes import PSITURK_OVERRIDE, PSITURK_SHIPPED
from tests.acceptance.web.worksite import find_in_browser, sign_up_in_browser
from tests.conftest import cli_keys
from tests.support import frameworks
from tests.support.browser import check_page
from tests.support.queues import drain, events_in, notify_queue, sqs_client

pytestmark = [pytest.mark.frameworks, pytest.mark.timeout(300)]
STARTUP_TIMEOUT_S = 60.0
# The example's Stroop trials: a word in a colour, answered with the colour's key.
KEYS = {"red": "r", "green": "g", "blue": "b"}
TRIALS = 9
# The second recipe: psiTurk renders the thanks page from its /pub route, whose query is the one the
# worker site (or MTurk) gave the frame; Flask puts ``request`` in every template's context.
PSITURK_TURK_SUBMIT_TO_OVERRIDE = (
    '      <form style="width: auto;" id="mturk_form" action="{{ request.args.turkSubmitTo }}/mturk/externalSubmit" '
    'method="post">\n'
)
# Each recipe with the server's --auth it is for.
RECIPES = {"openturk-url": ("open", PSITURK_OVERRIDE), "turkSubmitTo": ("sigv4", PSITURK_TURK_SUBMIT_TO_OVERRIDE)}


def psiturk_settings(port: int, title: str) -> dict[str, str]:
    """What a lab sets to run its psiTurk server on this machine, as psiTurk's own overrides of
    config.txt (``PSITURK_<NAME>`` for any setting): the server on 127.0.0.1, the ad's URL on it
    (plain HTTP, which openturk allows for loopback ExternalURLs), one gunicorn worker, SQLite."""
    return {
        "PSITURK_HOST": "127.0.0.1",
        "PSITURK_PORT": str(port),
        "PSITURK_THREADS": "1",
        "PSITURK_AD_URL_DOMAIN": "127.0.0.1",
        "PSITURK_AD_URL_PORT": str(port),
        "PSITURK_AD_URL_PROTOCOL": "http",
        "PSITURK_DATABASE_URL": "sqlite:///participants.db",
        "PSITURK_TITLE": title,
        "PSITURK_DESCRIPTION": "Name the colour of each word",
        "PSITURK_KEYWORDS": "psychology, stroop",
    }


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    """psiTurk's example experiment, made by psiTurk, with the README's one-line override."""
    venv = frameworks.venv_or_fail("psiturk")
    subprocess.run([str(venv / "bin" / "psiturk-setup-example")], cwd=tmp_path, check=True, capture_output=True)
    folder = tmp_path / "psiturk-example"
    thanks = folder / "templates" / "thanks-mturksubmit.html"
    text = thanks.read_text()
    assert PSITURK_SHIPPED in text, f"{thanks} no longer has the lines the README tells labs to override"
    return folder


def apply_override(folder: Path, override: str, server: ServerProcess) -> None:
    thanks = folder / "templates" / "thanks-mturksubmit.html"
    recipe = override.replace("OPENTURK", server.base_url)
    thanks.write_text(thanks.read_text().replace(PSITURK_SHIPPED, recipe))


class PsiturkServer:
    """psiTurk's experiment server (``psiturk-server``: its gunicorn launcher, in the foreground) in
    the experiment folder, in a process group of its own so that its gunicorn workers end with it."""

    def __init__(self, folder: Path, env: dict[str, str], port: int) -> None:
        self.folder, self.url = folder, f"http://127.0.0.1:{port}"
        venv = frameworks.venv_or_fail("psiturk")
        self.process = subprocess.Popen(
            [str(venv / "bin" / "psiturk-server")],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"psiturk-server ended: {self.log()}"
            try:
                if httpx.get(f"{self.url}/static/js/psiturk.js", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"psiturk-server did not answer within {STARTUP_TIMEOUT_S}s: {self.log()}")

    def log(self) -> str:
        log = self.folder / "server.log"
        return log.read_text()[-3000:] if log.exists() else "(no server.log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


@pytest.fixture(params=list(RECIPES))
def recipe(request: pytest.FixtureRequest, local_aws: LocalAWS) -> Iterator[tuple[ServerProcess, str]]:
    """openturk under the recipe's --auth, and the recipe's template line."""
    auth, override = RECIPES[request.param]
    with ServerProcess(virtual_clock=True, auth=auth, extra_args=["--aws-endpoint", local_aws.url]) as running:
        yield running, override


def test_a_site_worker_does_psiturks_stroop_study_and_the_lab_approves_it(
    recipe: tuple[ServerProcess, str], local_aws: LocalAWS, experiment: Path, browser_context: Any
) -> None:
    site, override = recipe
    venv = frameworks.venv_or_fail("psiturk")
    apply_override(experiment, override, site)
    port, title = free_port(), f"Stroop task {uuid.uuid4().hex[:8]}"
    keys = cli_keys(site.db_url, "requesters", "create", "stroop-lab")
    env = {**os.environ, **psiturk_settings(port, title), **keys, "HOME": str(experiment)}
    mturk = site.client(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])

    def psiturk(command: str) -> str:
        argv = frameworks.under_exec(site.base_url, str(venv / "bin" / "psiturk"), "-e", command)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=experiment)
        assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr, (
            f"psiturk -e {command!r}:\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    server = PsiturkServer(experiment, env, port)
    try:
        server.wait_until_serving()
        created = psiturk("hit create 1 0.50 1")
        found = re.search(r"HITid: (\w+)", created)
        assert found, created
        hit = mturk.get_hit(HITId=found.group(1))["HIT"]
        assert f"http://127.0.0.1:{port}/pub?mode=sandbox" in hit["Question"]
        queue = notify_queue(mturk, local_aws.url, hit["HITTypeId"], "AssignmentAccepted", "AssignmentSubmitted")

        page = browser_context.new_page()
        sign_up_in_browser(page, site.base_url)
        find_in_browser(page, site.base_url, title)
        ad = page.frame_locator("#task-frame")
        ad.get_by_role("heading", name="Call for participants").wait_for()  # psiTurk's ad, in preview
        page.get_by_role("button", name="Accept & Work").click()
        page.wait_for_url(re.compile(r"/work/assignments/"))
        assignment_id = page.url.rsplit("/", 1)[-1]
        ad.get_by_role("heading", name="Thank you for accepting this HIT!").wait_for()
        check_page(page, "psiturk-work-ad")

        with page.expect_popup() as opened:
            ad.get_by_role("button", name="Begin Experiment").click()
        study = opened.value
        study.get_by_role("button", name="I agree").click()
        for _ in range(3):
            study.get_by_role("button", name="Next").click()
        study.get_by_role("button", name="Begin experiment").click()
        for _ in range(TRIALS):
            colour = study.locator("#word").evaluate("word => word.style.color")
            study.keyboard.press(KEYS[colour])
        study.locator("#engagement").select_option("8")
        study.locator("#difficulty").select_option("3")
        with study.expect_event("close"):  # psiTurk's closepopup.html reloads the ad's frame and closes
            study.get_by_role("button", name="Continue").click()

        ad.get_by_role("heading", name="Thanks for your participation").wait_for()
        ad.get_by_role("button", name="Complete HIT").click()
        page.wait_for_url(lambda url: not url.endswith(assignment_id))  # the site moved on after the submit

        assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
        assert assignment["AssignmentStatus"] == "Submitted"
        assert assignment["HITId"] == hit["HITId"]
        documents = drain(sqs_client(local_aws.url), queue, lambda d: len(events_in(d)) >= 2)
        assert sorted(e["EventType"] for e in events_in(documents)) == ["AssignmentAccepted", "AssignmentSubmitted"]
        # The answers live where psiTurk keeps them: its own database, which knows the assignment as submitted.
        with sqlite3.connect(experiment / "participants.db") as db:
            status, data = db.execute(
                "SELECT status, datastring FROM assignments WHERE assignmentid = ?", (assignment_id,)
            ).fetchone()
        assert status == 4  # psiTurk's SUBMITTED
        recorded = json.loads(data)
        trials = [row["trialdata"] for row in recorded["data"] if row["trialdata"].get("phase") == "TEST"]
        assert len(trials) == TRIALS and all(trial["hit"] for trial in trials)
        assert recorded["questiondata"]["engagement"] == "8"

        assert assignment_id in psiturk(f"worker list --submitted --hit {hit['HITId']}")
        psiturk(f"worker approve {assignment_id}")
        assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"
    finally:
        server.stop()

    page.goto(f"{site.base_url}/dashboard")
    dashboard = page.locator("main").inner_text()
    assert title in dashboard and "Approved" in dashboard
