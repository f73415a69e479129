"""Requester content cannot act as the worker, and one worker cannot submit another's assignment.

The server runs under ``--auth sigv4`` (as a public deployment should): the worker API then needs a
worker bearer token, which a site worker's browser never holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from openturk.testing import ServerProcess
from tests.acceptance.web.worksite import (
    MTURK_TEMPLATE,
    PREVIEW_LABEL,
    SiteWorker,
    frame_parameters,
    frame_src,
    hit_of,
    html_question,
    sign_up_in_browser,
    unique_title,
)
from tests.conftest import cli_keys
from tests.support.browser import check_page


@pytest.fixture(scope="module")
def site(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, auth="sigv4", admin_token="isolation-admin", extra_args=aws_args) as running:
        yield running


@pytest.fixture(scope="module")
def mturk(site: ServerProcess) -> Any:
    keys = cli_keys(site.db_url, "requesters", "create", "isolation-lab")
    return site.client(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])


def _submit(turk_submit_to: str, **fields: str) -> httpx.Response:
    return httpx.post(turk_submit_to + "/mturk/externalSubmit", data=fields, timeout=30)


# What a hostile task tries from its sandbox; it writes what it got into its own answer.
PROBE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Probe</title></head>
<body>
<form id="mturk_form" method="post">
<input type="hidden" id="assignmentId" name="assignmentId">
<input type="hidden" id="results" name="results">
<p id="ready">probing</p>
<input type="submit" id="submitButton" value="Submit">
</form>
<script>
(async function () {
  var SITE = "__SITE__", OTHER = "__OTHER__";
  var p = new URLSearchParams(location.search);
  var mine = p.get("assignmentId"), worker = p.get("workerId"), submitTo = p.get("turkSubmitTo");
  document.getElementById("assignmentId").value = mine;
  document.getElementById("mturk_form").action = submitTo + "/mturk/externalSubmit";
  var out = {};
  try { out.cookie = document.cookie; } catch (e) { out.cookie = "error:" + e.name; }
  async function read(name, url) {
    try {
      var r = await fetch(url, {credentials: "include"});
      out[name] = "read:" + r.status + ":" + (await r.text()).slice(0, 80);
    } catch (e) { out[name] = "blocked"; }
  }
  async function blind(url, body) {
    try { await fetch(url, {method: "POST", mode: "no-cors", credentials: "include", body: body}); } catch (e) {}
  }
  await read("site", SITE + "/work");
  await read("state", SITE + "/work/assignments/" + mine + "/state");
  await read("api", SITE + "/api/worker/hits?WorkerId=" + worker);
  // Posts that would return this assignment as the worker (site form, worker API) land but must do nothing.
  await blind(SITE + "/work/assignments/" + mine + "/return", new URLSearchParams({csrf_token: "guess"}));
  await blind(SITE + "/api/worker/assignments/" + mine + "/return", JSON.stringify({WorkerId: worker}));
  // Another worker's assignment, with this task's token, then at the site's own externalSubmit.
  await blind(submitTo + "/mturk/externalSubmit", new URLSearchParams({assignmentId: OTHER, stolen: "1"}));
  await blind(SITE + "/mturk/externalSubmit", new URLSearchParams({assignmentId: OTHER, stolen: "1"}));
  document.getElementById("results").value = JSON.stringify(out);
  document.getElementById("ready").textContent = "probed";
})();
</script>
</body></html>"""


def test_script_in_an_html_question_cannot_read_cookies_or_act_as_the_worker(
    site: ServerProcess, mturk: Any, page: Any
) -> None:
    # Another worker holds an assignment the probe will try to submit.
    victim = SiteWorker.sign_up(site.base_url)
    victims_hit = mturk.create_hit(**hit_of(unique_title("Victim"), html_question(MTURK_TEMPLATE)))["HIT"]
    victims_assignment = victim.accept(victims_hit["HITId"])

    probe = PROBE.replace("__SITE__", site.base_url).replace("__OTHER__", victims_assignment)
    hit = mturk.create_hit(**hit_of(unique_title("Probe"), html_question(probe)))["HIT"]
    sign_up_in_browser(page, site.base_url)
    # A cookie of the site's host that page script could read (not HttpOnly): the task origin is the same
    # host on another port, so only the sandbox keeps it from the task's script.
    page.context.add_cookies([{"name": "site_visible", "value": "1", "url": site.base_url}])
    page.goto(f"{site.base_url}/work/hits/{hit['HITId']}")
    page.get_by_role("button", name="Accept & Work").click()
    page.wait_for_url(re.compile(r"/work/assignments/"))
    assignment_id = page.url.rsplit("/", 1)[-1]
    task = page.frame_locator("#task-frame")
    task.locator("#ready").filter(has_text="probed").wait_for()
    results = json.loads(task.locator("#results").input_value())
    check_page(page, "work-assignment-probe")

    assert results["cookie"] == "error:SecurityError", results  # an opaque origin has no cookies
    assert results["site"] == "blocked" and results["state"] == "blocked", results
    assert results["api"] == "blocked", results
    task.locator("#submitButton").click()
    page.wait_for_url(re.compile(r"/work\?notice=submitted$"))
    # The probe's own assignment was still open to submit (no return went through), and its answer
    # is what it saw; the victim's assignment is untouched.
    [answered] = mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    assert answered["AssignmentId"] == assignment_id
    assert mturk.list_assignments_for_hit(HITId=victims_hit["HITId"])["Assignments"] == []
    state = victim.http.get(f"/work/assignments/{victims_assignment}/state").json()
    assert state["Status"] == "Accepted"


def test_task_pages_are_sandboxed_by_their_own_csp_and_rewrite_mturks_script(site: ServerProcess, mturk: Any) -> None:
    worker = SiteWorker.sign_up(site.base_url)
    hit = mturk.create_hit(**hit_of(unique_title("Sandboxed"), html_question(MTURK_TEMPLATE)))["HIT"]
    preview = worker.http.get(f"/work/hits/{hit['HITId']}")
    site_policy = preview.headers["content-security-policy"]
    assert f"frame-src {site.task_url} https:" in site_policy and "frame-ancestors 'none'" in site_policy
    src = frame_src(preview.text)
    assert src.startswith(site.task_url + "/task/")
    content = httpx.get(src)
    assert content.headers["content-security-policy"] == "sandbox allow-scripts allow-forms allow-popups"
    assert content.headers["referrer-policy"] == "no-referrer"
    assert f'<script src="{site.task_url}/externalHIT_v1.js">' in content.text
    assert "s3.amazonaws.com" not in content.text
    script = httpx.get(f"{site.task_url}/externalHIT_v1.js")
    assert script.headers["content-type"].startswith("text/javascript") and PREVIEW_LABEL in script.text
    # The task origin serves only task routes: none of the site's or the API's.
    for path in ("/work", "/login", "/api/worker/hits", "/health"):
        assert httpx.get(site.task_url + path).status_code == 404


def test_one_worker_cannot_submit_anothers_assignment(site: ServerProcess, mturk: Any) -> None:
    alice, bob = SiteWorker.sign_up(site.base_url), SiteWorker.sign_up(site.base_url)
    title = unique_title("Shared")
    hit = mturk.create_hit(**hit_of(title, html_question(MTURK_TEMPLATE), MaxAssignments=2))["HIT"]
    alices = alice.accept(hit["HITId"])
    bobs = bob.accept(hit["HITId"])
    alice_submits_to = alice.task_parameters(alices)["turkSubmitTo"]
    bob_submits_to = bob.task_parameters(bobs)["turkSubmitTo"]

    # Bob's assignment with Alice's token, and Alice's with Bob's: refused, nothing recorded.
    assert _submit(alice_submits_to, assignmentId=bobs, answer="x").status_code == 403
    assert _submit(bob_submits_to, assignmentId=alices, answer="x").status_code == 403
    # A tampered token: another worker or assignment named, a later deadline, a changed signature.
    hit_id, assignment_id, worker_id, expires, signature = alice_submits_to.rsplit("/", 1)[-1].split(".")
    base = alice_submits_to.rsplit("/", 1)[0]
    for forged in (
        f"{hit_id}.{assignment_id}.{bob.worker_id}.{expires}.{signature}",
        f"{hit_id}.{bobs}.{worker_id}.{expires}.{signature}",
        f"{hit_id}.{assignment_id}.{worker_id}.{int(expires) + 10**9}.{signature}",
        f"{hit_id}.{assignment_id}.{worker_id}.{expires}.{signature[:-1]}{'0' if signature[-1] != '0' else '1'}",
        "not-a-token",
    ):
        refused = _submit(f"{base}/{forged}", assignmentId=assignment_id, answer="x")
        assert refused.status_code == 403, forged
    # Another worker's assignment is not theirs to see either (answered as if it did not exist).
    assert bob.http.get(f"/work/assignments/{alices}").status_code == 404
    assert bob.http.get(f"/work/assignments/{alices}/state").status_code == 404
    assert bob.post(f"/work/assignments/{alices}/return").status_code == 404
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []

    # The right token submits once; replaying it changes nothing.
    done = _submit(alice_submits_to, assignmentId=alices, answer="mine")
    assert done.status_code == 303 and done.headers["location"].endswith("/done")
    assert _submit(alice_submits_to, assignmentId=alices, answer="again").status_code == 409
    [answered] = mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    assert "<FreeText>mine</FreeText>" in answered["Answer"] and answered["WorkerId"] == alice.worker_id


def test_a_preview_cannot_submit_and_a_token_dies_at_the_deadline(site: ServerProcess, mturk: Any) -> None:
    worker = SiteWorker.sign_up(site.base_url)
    hit = mturk.create_hit(
        **hit_of(unique_title("Deadline"), html_question(MTURK_TEMPLATE), AssignmentDurationInSeconds=120)
    )["HIT"]
    previewed = frame_parameters(frame_src(worker.http.get(f"/work/hits/{hit['HITId']}").text))
    assert previewed["assignmentId"] == "ASSIGNMENT_ID_NOT_AVAILABLE" and "workerId" not in previewed
    refused = _submit(previewed["turkSubmitTo"], assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", answer="x")
    assert refused.status_code == 400 and PREVIEW_LABEL in refused.text

    assignment_id = worker.accept(hit["HITId"])
    submit_to = worker.task_parameters(assignment_id)["turkSubmitTo"]
    site.advance(121)
    late = _submit(submit_to, assignmentId=assignment_id, answer="late")
    assert late.status_code == 403
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []


def test_the_site_refuses_to_be_framed_and_task_routes_take_no_session(site: ServerProcess) -> None:
    worker = SiteWorker.sign_up(site.base_url)
    page = worker.http.get("/work")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # The session cookie sent to the task origin (same host, other port) opens nothing there.
    cookies = {c.name: c.value for c in worker.http.cookies.jar}
    assert httpx.get(f"{site.task_url}/task/anything", cookies=cookies).status_code == 403
