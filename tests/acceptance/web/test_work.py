"""The worker's path through a HIT in a real Chromium against a real server: find work, preview,
accept, an HTMLQuestion using externalHIT_v1.js, an ExternalQuestion served by this test, auto-accept,
skip, return and the deadline; the requester reads the answers through boto3."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import httpx
import pytest

from openturk.testing import ServerProcess
from tests.acceptance.test_questionform_page import fill_every_control
from tests.acceptance.web.worksite import (
    MTURK_TEMPLATE,
    PREVIEW_LABEL,
    SiteWorker,
    external_question,
    frame_parameters,
    frame_src,
    hit_of,
    html_question,
    serving,
    sign_up_in_browser,
    unique_title,
)
from tests.support.browser import check_page
from tests.support.cli import run_cli
from tests.support.questionforms import EVERYTHING, free_text, question, question_form


@pytest.fixture(scope="module")
def site(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, extra_args=aws_args) as running:
        yield running


@pytest.fixture
def mturk(site: ServerProcess) -> Any:
    return site.client(f"AKID{uuid.uuid4().hex[:16].upper()}")


def _answers(mturk: Any, hit_id: str) -> str:
    assignments = mturk.list_assignments_for_hit(HITId=hit_id)["Assignments"]
    assert len(assignments) == 1, assignments
    return str(assignments[0]["Answer"])


def test_a_worker_finds_previews_accepts_and_submits_html_questions_with_auto_accept(
    site: ServerProcess, mturk: Any, page: Any
) -> None:
    title = unique_title("Multiply")
    hits = [mturk.create_hit(**hit_of(title, html_question(MTURK_TEMPLATE)))["HIT"] for _ in range(2)]
    sign_up_in_browser(page, site.base_url)

    page.goto(f"{site.base_url}/work")
    page.get_by_label("Search").fill(title)
    page.get_by_role("button", name="Search").click()
    group = page.locator("li.group")
    assert group.count() == 1
    assert "$0.25" in group.inner_text() and "10 min" in group.inner_text()
    assert "arithmetic" in group.inner_text()
    check_page(page, "work-find")

    page.get_by_role("link", name=title, exact=True).click()
    page.wait_for_url(re.compile(r"/work/hits/"))
    task = page.frame_locator("#task-frame")
    # The preview runs the task as MTurk did: no assignment, the submit button disabled and relabelled.
    assert task.locator("#assignmentId").input_value() == "ASSIGNMENT_ID_NOT_AVAILABLE"
    assert task.locator("#submitButton").is_disabled()
    assert task.locator("#submitButton").get_attribute("value") == PREVIEW_LABEL
    assert page.locator("#task-frame").get_attribute("sandbox") == "allow-scripts allow-forms allow-popups"
    check_page(page, "work-preview")

    page.get_by_role("button", name="Accept & Work").click()
    page.wait_for_url(re.compile(r"/work/assignments/"))
    first = page.url.rsplit("/", 1)[-1]
    assert task.locator("#assignmentId").input_value() == first
    assert page.get_by_label("Auto-accept the next HIT").is_checked()  # on by default
    shown = page.locator("#time-left").inner_text()
    assert re.fullmatch(r"0:(09:5\d|10:00)", shown)
    # The countdown runs in the page (task.js) from what the server said was left.
    page.wait_for_function("shown => document.getElementById('time-left').textContent < shown", arg=shown)
    check_page(page, "work-assignment")

    task.get_by_label("What is six times seven?").fill("42")
    task.locator("#submitButton").click()
    # Auto-accept: the next HIT of the same group, already accepted.
    page.wait_for_url(lambda url: "/work/assignments/" in url and not url.endswith(first))
    second = page.url.rsplit("/", 1)[-1]
    answered = {h["HITId"]: h for h in hits}
    submitted_hit = next(h for h in answered if mturk.list_assignments_for_hit(HITId=h)["Assignments"])
    answer = _answers(mturk, submitted_hit)
    assert "<QuestionIdentifier>answer</QuestionIdentifier><FreeText>42</FreeText>" in answer
    assert "assignmentId" not in answer  # MTurk's reserved fields are not answers

    # Turned off (saved as it changes, remembered), the next submit lands on Find work.
    with page.expect_response(lambda response: response.url.endswith("/work/auto-accept")) as saved:
        page.get_by_label("Auto-accept the next HIT").uncheck()
    assert saved.value.ok
    page.reload()
    assert not page.get_by_label("Auto-accept the next HIT").is_checked()
    task.get_by_label("What is six times seven?").fill("forty-two")
    task.locator("#submitButton").click()
    page.wait_for_url(re.compile(r"/work\?notice=submitted$"))
    assert "Your answers were submitted." in page.get_by_role("status").inner_text()
    check_page(page, "work-find-submitted")
    other_hit = next(h for h in answered if h != submitted_hit)
    assert "<FreeText>forty-two</FreeText>" in _answers(mturk, other_hit)
    # A submitted assignment's page says so and shows no task; a HIT that is not there is a 404 page.
    page.goto(f"{site.base_url}/work/assignments/{second}")
    assert "This assignment is Submitted." in page.get_by_role("status").inner_text()
    assert page.locator("#task-frame").count() == 0
    check_page(page, "work-assignment-submitted")
    missing = page.goto(f"{site.base_url}/work/hits/3NOSUCHHIT00000000000000000000")
    assert missing is not None and missing.status == 404
    check_page(page, "work-preview-missing")


class ExternalTask(BaseHTTPRequestHandler):
    """An ExternalQuestion page as psiTurk-like frameworks write it: it reads the four parameters from
    its URL and posts its form to turkSubmitTo + "/mturk/externalSubmit"."""

    seen: ClassVar[list[str]] = []
    PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>External task</title></head>
<body>
<form id="task" method="post">
<input type="hidden" id="assignmentId" name="assignmentId">
<input type="hidden" id="seenWorkerId" name="seenWorkerId">
<input type="hidden" id="seenHitId" name="seenHitId">
<p id="seen"></p>
<label for="mood">How are you?</label> <input id="mood" name="mood">
<button id="send" type="submit">Send</button>
</form>
<script>
var p = new URLSearchParams(location.search);
document.getElementById("assignmentId").value = p.get("assignmentId");
document.getElementById("seenWorkerId").value = p.get("workerId") || "";
document.getElementById("seenHitId").value = p.get("hitId");
document.getElementById("task").action = p.get("turkSubmitTo") + "/mturk/externalSubmit";
document.getElementById("seen").textContent = "assignment " + p.get("assignmentId");
document.getElementById("send").disabled = p.get("assignmentId") === "ASSIGNMENT_ID_NOT_AVAILABLE";
</script>
</body></html>"""

    def do_GET(self) -> None:
        ExternalTask.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.PAGE)))
        self.end_headers()
        self.wfile.write(self.PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def external_site() -> Iterator[str]:
    with serving(ExternalTask) as url:
        yield url


def test_an_external_question_served_by_the_test_reads_the_parameters_and_submits(
    site: ServerProcess, mturk: Any, page: Any, external_site: str
) -> None:
    title = unique_title("External mood")
    hit = mturk.create_hit(**hit_of(title, external_question(f"{external_site}/task?study=7")))["HIT"]
    sign_up_in_browser(page, site.base_url)
    page.goto(f"{site.base_url}/work?q={title.split()[-1]}")
    page.get_by_role("link", name=title, exact=True).click()
    task = page.frame_locator("#task-frame")
    assert task.locator("#seen").inner_text() == "assignment ASSIGNMENT_ID_NOT_AVAILABLE"
    assert task.locator("#send").is_disabled()
    check_page(page, "work-preview-external")

    page.get_by_role("button", name="Accept & Work").click()
    page.wait_for_url(re.compile(r"/work/assignments/"))
    assignment_id = page.url.rsplit("/", 1)[-1]
    assert task.locator("#seen").inner_text() == f"assignment {assignment_id}"
    # MTurk's four parameters, appended to the URL's own query with one "?".
    loaded = ExternalTask.seen[-1]
    assert loaded.startswith("/task?study=7&assignmentId=")
    parameters = frame_parameters(loaded)
    assert parameters["hitId"] == hit["HITId"] and parameters["assignmentId"] == assignment_id
    assert parameters["turkSubmitTo"].startswith(site.task_url + "/submit/")
    worker_id = parameters["workerId"]
    check_page(page, "work-assignment-external")

    task.get_by_label("How are you?").fill("curious")
    task.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/work\?notice=submitted$"))  # the group has no other HIT
    answer = _answers(mturk, hit["HITId"])
    assert "<QuestionIdentifier>mood</QuestionIdentifier><FreeText>curious</FreeText>" in answer
    assert f"<FreeText>{worker_id}</FreeText>" in answer and f"<FreeText>{hit['HITId']}</FreeText>" in answer


def test_find_work_searches_filters_sorts_and_pages(site: ServerProcess, mturk: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    for index, reward in enumerate(["0.10", "0.90", "0.45"]):
        mturk.create_hit(
            **hit_of(f"Sorter {chr(ord('C') - index)} {tag}", html_question(MTURK_TEMPLATE), Reward=reward)
        )
    mturk.create_hit(**hit_of(f"Other {tag}", html_question(MTURK_TEMPLATE), Description="unrelated", Keywords="x"))
    worker = SiteWorker.sign_up(site.base_url)

    def titles(**query: str) -> list[str]:
        found = worker.http.get("/work", params={"q": f"Sorter {tag}", **query})
        assert found.status_code == 200, found.text
        return re.findall(r'<h2><a href="/work/groups/[^"]+">([^<]+)</a>', found.text)

    assert titles(sort="reward") == [f"Sorter B {tag}", f"Sorter A {tag}", f"Sorter C {tag}"]
    assert titles(sort="title") == [f"Sorter A {tag}", f"Sorter B {tag}", f"Sorter C {tag}"]
    assert titles(sort="newest") == [f"Sorter A {tag}", f"Sorter B {tag}", f"Sorter C {tag}"]
    assert titles(min_reward="0.45", sort="title") == [f"Sorter A {tag}", f"Sorter B {tag}"]
    # Paging: 10 per page over 12 groups of one search.
    for index in range(9):
        mturk.create_hit(**hit_of(f"Sorter page{index} {tag}", html_question(MTURK_TEMPLATE)))
    assert len(titles(per_page="10")) == 10
    second = worker.http.get("/work", params={"q": f"Sorter {tag}", "per_page": "10", "page": "2"}).text
    assert "page 2 of 2" in second and len(re.findall(r"<li class=\"group\">", second)) == 2
    assert len(titles(per_page="20")) == 12


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"min_reward": "lots"}, "min_reward", "Minimum reward must be an amount in USD"),
        ({"sort": "random"}, "sort", "Sort must be one of newest, reward, available, title"),
        ({"per_page": "15"}, "per_page", "HITs per page must be 10, 20, 50 or 100"),
        ({"page": "0"}, "page", "Page must be a whole number from 1"),
        ({"page": "\u00b2"}, "page", "Page must be a whole number from 1"),  # isdigit() but not int()
        ({"page": "9" * 5000}, "page", "Page must be a whole number from 1"),  # more digits than int() reads
        ({"per_page": "\u00b2"}, "per_page", "HITs per page must be 10, 20, 50 or 100"),
    ],
)
def test_find_work_refuses_a_bad_search_naming_the_field(
    site: ServerProcess, query: dict[str, str], field: str, message: str
) -> None:
    worker = SiteWorker.sign_up(site.base_url)
    refused = worker.http.get("/work", params=query)
    assert refused.status_code == 400 and message in refused.text
    assert 'class="groups"' not in refused.text


def test_find_work_shows_a_bad_search_accessibly(site: ServerProcess, page: Any) -> None:
    sign_up_in_browser(page, site.base_url)
    page.goto(f"{site.base_url}/work?min_reward=lots")
    assert page.get_by_label("Minimum reward (USD)").get_attribute("aria-invalid") == "true"
    check_page(page, "work-find-error")


def test_nothing_the_worker_may_not_discover_is_found_or_previewed(site: ServerProcess, mturk: Any) -> None:
    worker = SiteWorker.sign_up(site.base_url)
    tag = uuid.uuid4().hex[:8]
    qualification = mturk.create_qualification_type(
        Name=f"Trusted {tag}", Description="trusted", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]

    def requiring(guarded: str) -> list[dict[str, Any]]:
        return [{"QualificationTypeId": qualification, "Comparator": "Exists", "ActionsGuarded": guarded}]

    hidden = mturk.create_hit(
        **hit_of(
            f"Hidden {tag}",
            html_question(MTURK_TEMPLATE),
            QualificationRequirements=requiring("DiscoverPreviewAndAccept"),
        )
    )["HIT"]
    unpreviewable = mturk.create_hit(
        **hit_of(
            f"Guarded {tag}", html_question(MTURK_TEMPLATE), QualificationRequirements=requiring("PreviewAndAccept")
        )
    )["HIT"]
    acceptable_only = mturk.create_hit(
        **hit_of(f"Accepting {tag}", html_question(MTURK_TEMPLATE), QualificationRequirements=requiring("Accept"))
    )["HIT"]
    found = worker.http.get("/work", params={"q": tag, "sort": "title"}).text
    assert f"Hidden {tag}" not in found
    assert f"Guarded {tag}" in found and f"Accepting {tag}" in found
    assert found.count('<span class="bad">No</span>') == 2  # listed, not qualified
    assert worker.http.get(f"/work/hits/{hidden['HITId']}").status_code == 404
    assert worker.http.get(f"/work/hits/{unpreviewable['HITId']}").status_code == 404  # as MTurk: not shown
    preview = worker.http.get(f"/work/hits/{acceptable_only['HITId']}")
    assert preview.status_code == 200 and "Accept &amp; Work" not in preview.text
    assert "do not meet the qualification requirements to accept" in preview.text
    assert worker.post(f"/work/hits/{acceptable_only['HITId']}/accept").status_code == 403

    # A requester's block hides all their HITs, and previewing one answers as if it did not exist.
    mturk.create_worker_block(WorkerId=worker.worker_id, Reason="spam")
    assert f"Accepting {tag}" not in worker.http.get("/work", params={"q": tag}).text
    assert worker.http.get(f"/work/hits/{acceptable_only['HITId']}").status_code == 404


def test_skip_moves_to_the_next_hit_of_the_group_and_return_frees_the_slot(site: ServerProcess, mturk: Any) -> None:
    title = unique_title("Skipper")
    first = mturk.create_hit(**hit_of(title, html_question(MTURK_TEMPLATE)))["HIT"]
    second = mturk.create_hit(**hit_of(title, html_question(MTURK_TEMPLATE)))["HIT"]
    assert first["HITTypeId"] == second["HITTypeId"]
    worker = SiteWorker.sign_up(site.base_url)
    group = f"/work/groups/{first['HITTypeId']}"
    assert worker.http.get(group).headers["location"] == f"/work/hits/{first['HITId']}"
    skipped = worker.http.get(group, params={"after": first["HITId"]})
    assert skipped.headers["location"] == f"/work/hits/{second['HITId']}"
    last = worker.http.get(group, params={"after": second["HITId"]})
    assert last.headers["location"] == "/work?notice=no-more"

    assignment_id = worker.accept(second["HITId"])
    parameters = worker.task_parameters(assignment_id)
    assert worker.post(f"/work/assignments/{assignment_id}/return").headers["location"] == "/work?notice=returned"
    # Returned: the task's token no longer submits, and the slot is open again.
    refused = httpx.post(
        parameters["turkSubmitTo"] + "/mturk/externalSubmit", data={"assignmentId": assignment_id, "answer": "late"}
    )
    assert refused.status_code == 409
    assert mturk.get_hit(HITId=second["HITId"])["HIT"]["NumberOfAssignmentsAvailable"] == 1
    assert mturk.list_assignments_for_hit(HITId=second["HITId"])["Assignments"] == []
    # A worker may accept a HIT once: the returned one is not offered to them again.
    assert worker.http.get(group, params={"after": first["HITId"]}).headers["location"] == "/work?notice=no-more"


def test_an_expired_assignment_cannot_be_submitted(site: ServerProcess, mturk: Any, page: Any) -> None:
    title = unique_title("Slow")
    hit = mturk.create_hit(**hit_of(title, html_question(MTURK_TEMPLATE), AssignmentDurationInSeconds=60))["HIT"]
    sign_up_in_browser(page, site.base_url)
    page.goto(f"{site.base_url}/work/hits/{hit['HITId']}")
    page.get_by_role("button", name="Accept & Work").click()
    page.wait_for_url(re.compile(r"/work/assignments/"))
    assignment_id = page.url.rsplit("/", 1)[-1]
    turk_submit_to = frame_parameters(frame_src(page.content()))["turkSubmitTo"]
    site.advance(61)  # the virtual clock passes the deadline
    refused = httpx.post(turk_submit_to + "/mturk/externalSubmit", data={"assignmentId": assignment_id, "answer": "1"})
    assert refused.status_code == 403 and "time has passed" in refused.text
    page.reload()
    assert "Time is up" in page.get_by_role("alert").inner_text()
    assert page.locator("#task-frame").count() == 0
    check_page(page, "work-assignment-expired")
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []


def test_a_questionform_with_every_answer_type_is_previewed_done_and_checked_again_by_the_server(
    site: ServerProcess, mturk: Any, page: Any
) -> None:
    title = unique_title("Describe the cat")
    hit = mturk.create_hit(**hit_of(title, EVERYTHING))["HIT"]
    page.route("https://example.com/**", lambda route: route.abort())  # the form's media: no network here
    sign_up_in_browser(page, site.base_url)
    page.goto(f"{site.base_url}/work/hits/{hit['HITId']}")
    # The preview shows the form as it will be, with nothing that can be sent.
    assert page.get_by_label("Cat's age").is_disabled()
    assert page.get_by_role("button", name=PREVIEW_LABEL).is_disabled()
    assert page.locator("script:not([src])").count() == 0  # FormattedContent's script was dropped
    check_page(page, "work-preview-questionform")

    page.get_by_role("button", name="Accept & Work").click()
    page.wait_for_url(re.compile(r"/work/assignments/"))
    check_page(page, "work-assignment-questionform")
    fill_every_control(page)
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(r"/work\?notice=submitted$"))
    answer = _answers(mturk, hit["HITId"])
    for expected in (
        "<QuestionIdentifier>age</QuestionIdentifier><FreeText>7</FreeText>",
        "<QuestionIdentifier>colour</QuestionIdentifier><SelectionIdentifier>green</SelectionIdentifier>",
        "<SelectionIdentifier>red</SelectionIdentifier><SelectionIdentifier>blue</SelectionIdentifier>",
        "<QuestionIdentifier>size</QuestionIdentifier><SelectionIdentifier>l</SelectionIdentifier>",
        "<SelectionIdentifier>ball</SelectionIdentifier><SelectionIdentifier>box</SelectionIdentifier>",
        "<OtherSelectionText>mice</OtherSelectionText>",
        "<UploadedFileSizeInBytes>500</UploadedFileSizeInBytes>",
    ):
        assert expected in answer, (expected, answer)


def test_the_server_refuses_questionform_answers_the_browser_would_have_stopped(
    site: ServerProcess, mturk: Any, page: Any
) -> None:
    hit = mturk.create_hit(**hit_of(unique_title("Strict"), EVERYTHING))["HIT"]
    worker = SiteWorker.sign_up(site.base_url)
    assignment_id = worker.accept(hit["HITId"])
    refused = worker.post(f"/work/assignments/{assignment_id}/submit", name="T", age="99", code="abc")
    assert refused.status_code == 400
    for message in (
        "Some answers need attention",
        "This question requires an answer.",
        "Three capital letters, like ABC.",
    ):
        assert message in refused.text
    assert 'value="abc"' in refused.text  # shown again as it was sent
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []
    # An HTMLQuestion's assignment is submitted by its task, never through this form.
    other = mturk.create_hit(**hit_of(unique_title("Framed"), html_question(MTURK_TEMPLATE)))["HIT"]
    framed = worker.accept(other["HITId"])
    assert worker.post(f"/work/assignments/{framed}/submit", answer="x").status_code == 400
    # The refused form, as the worker sees it.
    page.route("https://example.com/**", lambda route: route.abort())
    page.context.add_cookies(
        [{"name": c.name, "value": c.value, "url": site.base_url} for c in worker.http.cookies.jar]
    )
    page.goto(f"{site.base_url}/work/assignments/{assignment_id}")
    page.get_by_label("Cat's age").fill("99")
    page.locator("form.qf").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name="Submit").click()
    assert "Enter a number of at most 30." in page.get_by_role("alert").first.inner_text()
    check_page(page, "work-assignment-questionform-refused")


def test_a_backtracking_answer_format_regex_is_cut_off_and_the_answer_refused(site: ServerProcess, mturk: Any) -> None:
    # ^(a|a)*$ tries 2**41 ways on this answer: unbounded, Python's re would pin a CPU for hours.
    form = question_form(question("code", free_text('<AnswerFormatRegex regex="^(a|a)*$" errorText="Only a."/>')))
    hit = mturk.create_hit(**hit_of(unique_title("Backtracking"), form, MaxAssignments=2))["HIT"]
    worker = SiteWorker.sign_up(site.base_url)
    assignment_id = worker.accept(hit["HITId"])
    started = time.monotonic()
    refused = worker.post(f"/work/assignments/{assignment_id}/submit", code="a" * 40 + "b")
    assert refused.status_code == 400
    assert "could not be checked against the question" in refused.text
    assert time.monotonic() - started < 10
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []
    # An answer the regex decides at once is checked as before.
    assert "Only a." in worker.post(f"/work/assignments/{assignment_id}/submit", code="b").text
    submitted = worker.post(f"/work/assignments/{assignment_id}/submit", code="a" * 40)
    assert submitted.status_code == 303, submitted.text
    assert "<FreeText>" + "a" * 40 + "</FreeText>" in _answers(mturk, hit["HITId"])


def test_a_question_named_like_the_sites_csrf_field_is_answered(site: ServerProcess, mturk: Any) -> None:
    # MTurk allowed any QuestionIdentifier; the site's own token comes first in its form.
    form = question_form(question("csrf_token", free_text(), required=True), question("note", free_text()))
    hit = mturk.create_hit(**hit_of(unique_title("Named csrf_token"), form))["HIT"]
    worker = SiteWorker.sign_up(site.base_url)
    assignment_id = worker.accept(hit["HITId"])
    path = f"/work/assignments/{assignment_id}/submit"
    page = worker.http.get(f"/work/assignments/{assignment_id}").text
    assert page.index('type="hidden" name="csrf_token"') < page.index('id="qf-1-answer" name="csrf_token"')
    token = worker.csrf(f"/work/assignments/{assignment_id}")
    # The token must still come first: an answer in its place is refused, nothing submitted.
    assert worker.http.post(path, data={"csrf_token": ["forged", token]}).status_code == 403
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []
    submitted = worker.http.post(path, data={"csrf_token": [token, "my answer"], "note": "n"})
    assert submitted.status_code == 303, submitted.text
    answer = _answers(mturk, hit["HITId"])
    assert "<QuestionIdentifier>csrf_token</QuestionIdentifier><FreeText>my answer</FreeText>" in answer


def test_a_file_posted_under_a_name_that_is_no_file_question_is_ignored(site: ServerProcess, mturk: Any) -> None:
    """As fields that name no question are: it was refused with an error no question could show."""
    form = question_form(question("note", free_text(), required=True))
    hit = mturk.create_hit(**hit_of(unique_title("Stray file"), form))["HIT"]
    worker = SiteWorker.sign_up(site.base_url)
    assignment_id = worker.accept(hit["HITId"])
    path = f"/work/assignments/{assignment_id}/submit"
    token = worker.csrf(f"/work/assignments/{assignment_id}")
    stray = {"bogus": ("stray.txt", b"not asked for", "text/plain"), "note": ("n.txt", b"a file", "text/plain")}
    submitted = worker.http.post(path, data={"csrf_token": token, "note": "my note"}, files=stray)
    assert submitted.status_code == 303, submitted.text
    assert "<QuestionIdentifier>note</QuestionIdentifier><FreeText>my note</FreeText>" in _answers(mturk, hit["HITId"])


def test_formatted_contents_kept_styles_apply_and_no_other_inline_style_does(
    site: ServerProcess, mturk: Any, page: Any
) -> None:
    """The sanitiser keeps text-look style properties; the page's CSP allows exactly those attributes
    by hash (they were blocked by style-src 'self', so the README's promise showed nothing)."""
    content = (
        '<FormattedContent><![CDATA[<p><span style="color: rgb(255, 0, 0); position: absolute">Red words</span>'
        "</p>]]></FormattedContent>"
    )
    form = question_form(question("note", free_text(), content=content))
    hit = mturk.create_hit(**hit_of(unique_title("Styled"), form))["HIT"]
    worker = SiteWorker.sign_up(site.base_url)
    policy = worker.http.get(f"/work/hits/{hit['HITId']}").headers["content-security-policy"]
    assert "style-src 'self' 'unsafe-hashes' 'sha256-" in policy and "unsafe-inline" not in policy
    page.context.add_cookies(
        [{"name": c.name, "value": c.value, "url": site.base_url} for c in worker.http.cookies.jar]
    )
    page.goto(f"{site.base_url}/work/hits/{hit['HITId']}")
    red = page.get_by_text("Red words", exact=True)
    assert red.evaluate("node => getComputedStyle(node).color") == "rgb(255, 0, 0)"
    assert red.evaluate("node => getComputedStyle(node).position") == "static"  # dropped by the sanitiser
    # A style attribute the page did not ship stays blocked.
    page.evaluate(
        "() => { const s = document.createElement('span'); s.id = 'forged';"
        " s.setAttribute('style', 'color: rgb(0, 0, 255)'); document.body.append(s); }"
    )
    assert page.locator("#forged").evaluate("node => getComputedStyle(node).color") != "rgb(0, 0, 255)"


def test_a_disabled_workers_task_links_stop_working(site: ServerProcess, mturk: Any) -> None:
    """Disabling ends the worker's sessions; the task tokens the site gave them end with them."""
    hit = mturk.create_hit(**hit_of(unique_title("Disabled"), html_question(MTURK_TEMPLATE)))["HIT"]
    worker = SiteWorker.sign_up(site.base_url)
    assignment_id = worker.accept(hit["HITId"])
    parameters = worker.task_parameters(assignment_id)
    assert run_cli("workers", "disable", worker.worker_id, "--db", site.db_url).returncode == 0
    submit_to = parameters["turkSubmitTo"]
    refused = httpx.post(submit_to + "/mturk/externalSubmit", data={"assignmentId": assignment_id, "answer": "x"})
    assert refused.status_code == 403
    assert httpx.get(submit_to.replace("/submit/", "/task/")).status_code == 403
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []
