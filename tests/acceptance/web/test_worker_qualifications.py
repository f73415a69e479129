"""The worker's profile and qualification pages in a real Chromium against a real server: the profile
feeds Locale and Adult, tests are taken as QuestionForms and scored, requests wait for the requester,
late answers are refused, and no worker sees another's."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import httpx
import pytest

from openturk.testing import ServerProcess, Worker
from tests.acceptance.web.test_accounts import _csrf
from tests.acceptance.web.test_worker_dashboard import ADMIN_TOKEN, _log_in, _new_worker
from tests.conftest import hit_params
from tests.support.browser import check_page
from tests.support.questionforms import free_text, question, question_form, selection

LOCALE, ADULT = "00000000000000000071", "00000000000000000060"
COLOURS = {"red": "<Text>Red</Text>", "green": "<Text>Green</Text>", "blue": "<Text>Blue</Text>"}
# A Test with several answer types; the AnswerKey gives a point for each right answer.
TEST = question_form(
    question("sum", free_text(), required=True, content="<Text>What is 2 + 2?</Text>", name="Sum"),
    question("sky", selection(COLOURS, style="radiobutton"), required=True, content="<Text>The sky?</Text>"),
    question("grass", selection(COLOURS, style="dropdown"), required=True, content="<Text>Grass?</Text>"),
    question("warm", selection(COLOURS, style="checkbox", low=1, high=2), content="<Text>Warm colours?</Text>"),
)
ANSWER_KEY = (
    '<AnswerKey xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/AnswerKey.xsd">'
    + "".join(
        f"<Question><QuestionIdentifier>{identifier}</QuestionIdentifier><AnswerOption>"
        f"<SelectionIdentifier>{right}</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
        for identifier, right in (("sum", "4"), ("sky", "blue"), ("grass", "green"), ("warm", "red"))
    )
    + "</AnswerKey>"
)


@pytest.fixture(scope="module")
def site(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, admin_token=ADMIN_TOKEN, extra_args=aws_args) as running:
        yield running


def _requester(site: ServerProcess) -> Any:
    return site.client(f"AKID{uuid.uuid4().hex[:16].upper()}")


def _type(mturk: Any, **params: Any) -> str:
    created = mturk.create_qualification_type(
        Name=f"Skill {uuid.uuid4().hex[:8]}", Description="A skill", QualificationTypeStatus="Active", **params
    )
    return str(created["QualificationType"]["QualificationTypeId"])


def _type_name(mturk: Any, type_id: str) -> str:
    return str(mturk.get_qualification_type(QualificationTypeId=type_id)["QualificationType"]["Name"])


def _profile_form(client: httpx.Client, **fields: str) -> dict[str, str]:
    return {"csrf_token": _csrf(client, "/profile"), "country": "US", "subdivision": "", **fields}


def test_the_profile_feeds_locale_and_adult_and_a_hit_requiring_them_opens(site: ServerProcess, page: Any) -> None:
    email, worker_id, _ = _new_worker(site)
    mturk = _requester(site)
    requirements = [
        {
            "QualificationTypeId": LOCALE,
            "Comparator": "In",
            "LocaleValues": [{"Country": "DE", "Subdivision": "BE"}],
            "ActionsGuarded": "Accept",
        },
        {"QualificationTypeId": ADULT, "Comparator": "EqualTo", "IntegerValues": [1], "ActionsGuarded": "Accept"},
    ]
    hit_id = mturk.create_hit(**hit_params(QualificationRequirements=requirements))["HIT"]["HITId"]
    worker = Worker(site.base_url, worker_id)
    assert worker.accept(hit_id).status_code == 403  # US, not an adult: the defaults

    _log_in(page, site, email)
    page.get_by_role("link", name="Profile").click()
    page.wait_for_url(re.compile(r"/profile$"))
    assert page.locator("#worker-id").inner_text() == worker_id
    assert page.locator("#email").inner_text() == email
    assert page.locator("#masters").inner_text().startswith("No")
    assert page.get_by_label("Country").input_value() == "US"
    check_page(page, "profile")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label(re.compile("State, province or region")).fill("be")
    page.get_by_label("I am an adult and agree to see adult content").check()
    page.get_by_role("button", name="Save profile").click()
    page.wait_for_url(re.compile(r"/profile\?saved=1$"))
    assert "Your profile was saved" in page.locator("#saved").inner_text()
    assert page.get_by_label("Country").input_value() == "DE"
    assert page.get_by_label(re.compile("State, province")).input_value() == "BE"
    assert page.get_by_label("I am an adult and agree to see adult content").is_checked()

    assert worker.accept(hit_id).status_code == 200
    page.get_by_role("link", name="Qualifications").click()
    page.wait_for_url(re.compile(r"/qualifications$"))
    assert page.locator(f"#system-{LOCALE}").inner_text().endswith("DE-BE")
    assert page.locator(f"#system-{ADULT}").inner_text().endswith("1")
    check_page(page, "qualifications-empty")


def test_a_refused_profile_shows_the_field_error_and_changes_nothing(site: ServerProcess, page: Any) -> None:
    email, _, client = _new_worker(site)
    bad = client.post("/profile", data=_profile_form(client, country="XX", adult="1", auto_accept_next=""))
    assert bad.status_code == 400
    assert 'id="country-error"' in bad.text and "Country: &#39;XX&#39; is not an ISO 3166-1" in bad.text
    # Without the form's CSRF token nothing is read at all.
    forged = client.post("/profile", data={"country": "DE", "adult": "1"})
    assert forged.status_code == 403
    shown = client.get("/profile").text
    assert '<option value="US" selected>' in shown
    assert 'id="adult" name="adult" type="checkbox" value="1" aria' in shown  # still unticked
    assert 'id="auto_accept_next" name="auto_accept_next" type="checkbox" value="1" checked' in shown  # kept on

    _log_in(page, site, email)
    page.goto(f"{site.base_url}/profile")
    page.get_by_label(re.compile("State, province or region")).fill("W-A!")
    page.get_by_role("button", name="Save profile").click()
    error = page.locator("#subdivision-error")
    assert "Subdivision: 'W-A!' is not an ISO 3166-2 subdivision code of US" in error.inner_text()
    assert page.get_by_label(re.compile("State, province")).get_attribute("aria-invalid") == "true"
    check_page(page, "profile-error")
    assert "W-A" not in client.get("/profile").text


def test_a_test_is_taken_in_the_page_scored_and_read_through_boto3(site: ServerProcess, page: Any) -> None:
    email, worker_id, _ = _new_worker(site)
    mturk = _requester(site)
    type_id = _type(mturk, Test=TEST, AnswerKey=ANSWER_KEY, TestDurationInSeconds=600)
    name = _type_name(mturk, type_id)

    _log_in(page, site, email)
    page.goto(f"{site.base_url}/qualifications")
    page.get_by_label("Search by name, description or keyword").fill(name)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/qualifications\?q="))
    assert page.locator(".type").count() == 1
    page.get_by_role("link", name=f"Take the test for {name}").click()
    page.wait_for_url(re.compile(rf"/qualifications/{type_id}/test$"))
    assert "You have 600 seconds (10 minutes) to answer" in page.locator("#time-left").inner_text()
    check_page(page, "qualification-test")

    # The server checks again what the browser would have: a required answer left out is shown
    # with the answers already given kept.
    page.get_by_label("Sum").fill("4")
    page.evaluate("document.querySelector('form.qf').noValidate = true")
    page.get_by_role("button", name="Send my answers").click()
    assert page.locator("#qf-errors").is_visible()
    assert page.get_by_label("Sum").input_value() == "4"
    check_page(page, "qualification-test-errors")
    page.get_by_label("Blue").first.check()
    page.locator("select[name=grass]").select_option("green")
    page.locator("input[name=warm][value=red]").check()
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(re.compile(r"/qualifications\?outcome=granted"))
    # sum 4, sky blue, grass green, warm red: a point each
    assert "with a score of 4" in page.locator("#outcome").inner_text()
    assert page.locator(f"#held-{type_id}").inner_text().count("Granted") == 1
    assert "You hold this qualification" in page.locator(f"#type-{type_id}").inner_text()
    check_page(page, "qualifications-granted")
    score = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker_id)["Qualification"]
    assert score["IntegerValue"] == 4 and score["Status"] == "Granted"


def test_a_request_waits_until_the_requester_accepts_it(site: ServerProcess, page: Any) -> None:
    email, worker_id, client = _new_worker(site)
    mturk = _requester(site)
    type_id = _type(mturk, RetryDelayInSeconds=3600)
    name = _type_name(mturk, type_id)
    # Forms need the session's CSRF token: without it nothing is requested.
    assert client.post(f"/qualifications/{type_id}/request", data={}).status_code == 403
    assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0

    _log_in(page, site, email)
    page.goto(f"{site.base_url}/qualifications?q={name}")
    page.get_by_role("button", name=f"Request {name}").click()
    page.wait_for_url(re.compile(r"/qualifications\?outcome=pending"))
    assert "waits for the requester's decision" in page.locator("#outcome").inner_text()
    assert name in page.locator(f"#pending-{type_id}").inner_text()
    assert "waiting for the requester" in page.locator(f"#type-{type_id}").inner_text()
    check_page(page, "qualifications-pending")
    # A second request within RetryDelayInSeconds is refused with MTurk's reason.
    again = client.post(f"/qualifications/{type_id}/request", data={"csrf_token": _csrf(client, "/qualifications")})
    assert again.status_code == 409 and "retry delay" in again.text

    listed = mturk.list_qualification_requests(QualificationTypeId=type_id)["QualificationRequests"]
    assert [r["WorkerId"] for r in listed] == [worker_id]
    mturk.accept_qualification_request(QualificationRequestId=listed[0]["QualificationRequestId"], IntegerValue=7)
    page.reload()
    assert page.locator(f"#pending-{type_id}").count() == 0
    held = page.locator(f"#held-{type_id}").inner_text()
    assert name in held and "7" in held and "Granted" in held


def test_late_answers_are_refused_with_a_clear_message(site: ServerProcess, page: Any) -> None:
    email, worker_id, _ = _new_worker(site)
    mturk = _requester(site)
    type_id = _type(mturk, Test=TEST, AnswerKey=ANSWER_KEY, TestDurationInSeconds=60)
    _log_in(page, site, email)
    page.goto(f"{site.base_url}/qualifications/{type_id}/test")
    page.get_by_label("Sum").fill("4")
    page.get_by_label("Blue").first.check()
    page.locator("select[name=grass]").select_option("green")
    site.advance(61)
    with page.expect_response(re.compile(rf"/qualifications/{type_id}/test$")) as answer:
        page.get_by_role("button", name="Send my answers").click()
    assert answer.value.status == 410
    refusal = page.locator("#refusal").inner_text()
    assert "The 60 seconds allowed for the Test" in refusal and "your answers were not taken" in refusal
    check_page(page, "qualifications-late")
    page.get_by_role("link", name="Take the test again").click()
    page.wait_for_url(re.compile(rf"/qualifications/{type_id}/test$"))
    assert "You have 60 seconds to answer" in page.locator("#time-left").inner_text()
    with pytest.raises(botocore.exceptions.ClientError):
        mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker_id)


def test_another_worker_sees_none_of_it_and_a_blocking_requesters_types_are_hidden(
    site: ServerProcess, page: Any
) -> None:
    _, first_id, first = _new_worker(site)
    other_email, other_id, other = _new_worker(site)
    mturk = _requester(site)
    granted = _type(mturk, AutoGranted=True, AutoGrantedValue=3)
    pending = _type(mturk)
    csrf = _csrf(first, "/qualifications")
    assert first.post(f"/qualifications/{granted}/request", data={"csrf_token": csrf}).status_code == 303
    assert first.post(f"/qualifications/{pending}/request", data={"csrf_token": csrf}).status_code == 303
    mine = first.get("/qualifications").text
    assert f'id="held-{granted}"' in mine and f'id="pending-{pending}"' in mine

    hidden = _requester(site)
    blocked_type = _type(hidden)
    search = {"q": _type_name(hidden, blocked_type)}
    hidden.create_worker_block(WorkerId=other_id, Reason="Spam")
    assert f'id="type-{blocked_type}"' in first.get("/qualifications", params=search).text
    assert f'id="type-{blocked_type}"' not in other.get("/qualifications", params=search).text
    theirs = other.get("/qualifications").text
    for type_id in (granted, pending):
        assert f'id="held-{type_id}"' not in theirs and f'id="pending-{type_id}"' not in theirs
    # A test started by one worker is not the other's: their answers are refused.
    tested = _type(mturk, Test=TEST, AnswerKey=ANSWER_KEY, TestDurationInSeconds=600)
    assert first.get(f"/qualifications/{tested}/test").status_code == 200
    refused = other.post(f"/qualifications/{tested}/test", data={"csrf_token": _csrf(other, "/qualifications")})
    assert refused.status_code == 409 and "Start the Test" in refused.text
    assert first_id not in theirs
    # The outcome notice comes from the worker's own lists: an address cannot make it claim a grant.
    claimed = other.get("/qualifications", params={"outcome": "granted", "type": granted}).text
    assert 'id="outcome"' not in claimed
    assert 'id="outcome"' in first.get("/qualifications", params={"outcome": "granted", "type": granted}).text

    _log_in(page, site, other_email)
    page.goto(f"{site.base_url}/qualifications")
    assert "No requester has granted you a qualification yet" in page.inner_text("main")
    assert "You have no pending request" in page.inner_text("main")
