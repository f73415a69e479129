"""An ExternalQuestion's frame keeps its own origin (psiTurk's pages need it: XHR to their own server,
``window.opener`` from their popup), and that origin still gets nothing of the site's; an
ExternalURL of the site's or the task origin's own origin stays an opaque sandbox.

The server runs under ``--auth sigv4``, as a public deployment should."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from openturk.testing import ServerProcess
from openturk.web.task_origin import EXTERNAL_SANDBOX_FLAGS, SANDBOX_FLAGS
from tests.acceptance.web.worksite import (
    SiteWorker,
    external_question,
    frame_src,
    hit_of,
    serving,
    sign_up_in_browser,
    unique_title,
)
from tests.conftest import cli_keys
from tests.support.browser import check_page

# What the task's script tries from its frame; it writes what it got into its own answer.
PROBE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>External probe</title></head>
<body>
<form id="task" method="post">
<input type="hidden" id="assignmentId" name="assignmentId">
<input type="hidden" id="results" name="results">
<p id="ready">probing</p>
<button id="send" type="submit">Send</button>
</form>
<script>
(async function () {
  var p = new URLSearchParams(location.search), mine = p.get("assignmentId");
  var SITE = p.get("site");
  document.getElementById("assignmentId").value = mine;
  document.getElementById("task").action = p.get("turkSubmitTo") + "/mturk/externalSubmit";
  var out = {origin: location.origin};
  try { out.cookie = document.cookie; } catch (e) { out.cookie = "error:" + e.name; }
  async function read(name, url) {
    try {
      var r = await fetch(url, {credentials: "include"});
      out[name] = "read:" + r.status;
    } catch (e) { out[name] = "blocked"; }
  }
  await read("own", "/own-server");
  await read("site", SITE + "/work");
  await read("state", SITE + "/work/assignments/" + mine + "/state");
  try {
    var guess = new URLSearchParams({csrf_token: "guess"});
    await fetch(SITE + "/work/assignments/" + mine + "/return",
                {method: "POST", mode: "no-cors", credentials: "include", body: guess});
  } catch (e) {}
  document.getElementById("results").value = JSON.stringify(out);
  document.getElementById("ready").textContent = "probed";
})();
</script>
</body></html>"""


class ProbeServer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PROBE)))
        self.end_headers()
        self.wfile.write(PROBE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, auth="sigv4", extra_args=aws_args) as running:
        yield running


@pytest.fixture(scope="module")
def mturk(site: ServerProcess) -> Any:
    keys = cli_keys(site.db_url, "requesters", "create", "external-frames-lab")
    return site.client(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def external_site() -> Iterator[str]:
    with serving(ProbeServer) as url:
        yield url


def test_an_external_page_keeps_its_origin_and_still_cannot_act_as_the_worker(
    site: ServerProcess, mturk: Any, page: Any, external_site: str
) -> None:
    title = unique_title("External probe")
    hit = mturk.create_hit(**hit_of(title, external_question(f"{external_site}/probe?site={site.base_url}")))["HIT"]
    sign_up_in_browser(page, site.base_url)
    page.goto(f"{site.base_url}/work/hits/{hit['HITId']}")
    page.get_by_role("button", name="Accept & Work").click()
    page.wait_for_url(re.compile(r"/work/assignments/"))
    assignment_id = page.url.rsplit("/", 1)[-1]
    assert page.locator("#task-frame").get_attribute("sandbox") == EXTERNAL_SANDBOX_FLAGS
    task = page.frame_locator("#task-frame")
    task.locator("#ready").filter(has_text="probed").wait_for()
    results = json.loads(task.locator("#results").input_value())
    check_page(page, "work-assignment-external-probe")

    assert results["origin"] == external_site and results["own"] == "read:200", results  # its own origin
    assert "openturk-session" not in results["cookie"], results  # the session cookie is HttpOnly
    assert results["site"] == "blocked" and results["state"] == "blocked", results  # another origin's
    task.locator("#send").click()  # the guessed-token return did nothing: the assignment still submits
    page.wait_for_url(re.compile(r"/work\?notice=submitted$"))
    [answered] = mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    assert (answered["AssignmentId"], answered["AssignmentStatus"]) == (assignment_id, "Submitted")


def test_an_external_url_of_the_sites_own_origins_stays_an_opaque_sandbox(site: ServerProcess, mturk: Any) -> None:
    worker = SiteWorker.sign_up(site.base_url)
    for url in (f"{site.base_url}/work", f"{site.task_url}/externalHIT_v1.js"):
        hit = mturk.create_hit(**hit_of(unique_title("Own origin"), external_question(url)))["HIT"]
        preview = worker.http.get(f"/work/hits/{hit['HITId']}").text
        assert frame_src(preview).startswith(url)
        assert f'sandbox="{SANDBOX_FLAGS}"' in preview
