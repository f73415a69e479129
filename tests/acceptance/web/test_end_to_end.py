"""The whole path through the site, as issue 11 states it: a requester creates a HIT with boto3 and
SQS notifications; a worker signs up, finds, previews, accepts and submits it in Chromium; the
requester reads the answer through boto3 and sees the notifications in the dashboard's delivery log."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess
from tests.acceptance.web.worksite import MTURK_TEMPLATE, hit_of, html_question, sign_up_in_browser, unique_title
from tests.support.browser import check_page
from tests.support.queues import drain, events_in, sqs_client


@pytest.fixture(scope="module")
def site(local_aws: LocalAWS) -> Iterator[ServerProcess]:
    with ServerProcess(virtual_clock=True, extra_args=["--aws-endpoint", local_aws.url]) as running:
        yield running


def test_a_site_worker_submits_and_the_requester_sees_answer_and_deliveries(
    site: ServerProcess, local_aws: LocalAWS, browser_context: Any
) -> None:
    access_key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    mturk = site.client(access_key)
    queue = sqs_client(local_aws.url).create_queue(QueueName=f"e2e-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    title = unique_title("Multiply")
    hit = mturk.create_hit(**hit_of(title, html_question(MTURK_TEMPLATE)))["HIT"]
    mturk.update_notification_settings(
        HITTypeId=hit["HITTypeId"],
        Notification={
            "Destination": queue,
            "Transport": "SQS",
            "Version": "2014-08-15",
            "EventTypes": ["AssignmentAccepted", "AssignmentSubmitted"],
        },
        Active=True,
    )

    worker = browser_context.new_page()
    sign_up_in_browser(worker, site.base_url)
    worker.goto(f"{site.base_url}/work")
    worker.get_by_label("Search").fill(title)
    worker.get_by_role("button", name="Search").click()
    worker.get_by_role("link", name=title, exact=True).click()
    worker.get_by_role("button", name="Accept & Work").click()
    worker.wait_for_url(re.compile(r"/work/assignments/"))
    assignment_id = worker.url.rsplit("/", 1)[-1]
    task = worker.frame_locator("#task-frame")
    task.get_by_label("What is six times seven?").fill("42")
    task.locator("#submitButton").click()
    worker.wait_for_url(lambda url: not url.endswith(assignment_id))  # the task's submit moved the worker on

    answer = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["Answer"]
    assert "<QuestionIdentifier>answer</QuestionIdentifier><FreeText>42</FreeText>" in answer
    documents = drain(sqs_client(local_aws.url), queue, lambda d: len(events_in(d)) >= 2)
    assert sorted(e["EventType"] for e in events_in(documents)) == ["AssignmentAccepted", "AssignmentSubmitted"]

    # The requester, in a browser of their own, finds both messages delivered in the log.
    requester = browser_context.browser.new_context().new_page()
    requester.goto(f"{site.base_url}/requester/login")
    requester.get_by_label("Access key ID").fill(access_key)
    requester.get_by_role("button", name="Log in").click()
    requester.wait_for_url(re.compile(r"/requester$"))
    requester.goto(f"{site.base_url}/requester/deliveries?hit_type_id={hit['HITTypeId']}")
    log = requester.locator("main").inner_text()
    for event_type in ("AssignmentAccepted", "AssignmentSubmitted"):
        assert event_type in log
    assert log.count("delivered") >= 2 and assignment_id in log
    check_page(requester, "end-to-end-delivery-log")
    requester.context.close()
