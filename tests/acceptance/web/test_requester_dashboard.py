"""The requester dashboard in a real Chromium against a real server with a local SQS: HIT types and
their notification specification, HITs, parsed answers, approve/reject through the page, the batch
results CSV, the delivery log with "send again" and "send test event", and who may see what."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess, Worker
from tests.acceptance.test_layouts import _new_layout
from tests.acceptance.web.test_accounts import _csrf
from tests.conftest import FAST_RETRIES, HTML_QUESTION
from tests.support.browser import check_page
from tests.support.queues import drain, events_in, sqs_client, wait_for

ADMIN_TOKEN = "dashboard-admin-token"
# The batch results columns MTurk's requester site wrote, in its order (before Input.* and Answer.*, and
# the Approve and Reject columns after them).
BATCH_COLUMNS = [
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime", "MaxAssignments",
    "RequesterAnnotation", "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds", "Expiration",
    "NumberOfSimilarHITs", "LifetimeInSeconds", "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime",
    "SubmitTime", "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback", "WorkTimeInSeconds",
    "LifetimeApprovalRate", "Last30DaysApprovalRate", "Last7DaysApprovalRate",
]  # fmt: skip
EVENTS = ["AssignmentSubmitted", "AssignmentApproved", "AssignmentRejected", "HITCreated"]


@pytest.fixture(scope="module")
def site(local_aws: LocalAWS) -> Iterator[ServerProcess]:
    args = ["--aws-endpoint", local_aws.url, *FAST_RETRIES]
    with ServerProcess(virtual_clock=True, admin_token=ADMIN_TOKEN, extra_args=args) as running:
        yield running


class Requester:
    """A requester: boto3 for the API, and its access key for the dashboard's log-in."""

    def __init__(self, site: ServerProcess) -> None:
        self.access_key = f"AKID{uuid.uuid4().hex[:16].upper()}"
        self.mturk = site.client(self.access_key)
        self.mturk.get_account_balance()  # open mode: the key makes its requester

    def hit_type(self, destination: str | None, title: str = "Label an image") -> str:
        type_id = str(
            self.mturk.create_hit_type(
                Title=title,
                Description="Say what is in the picture",
                Reward="0.50",
                AssignmentDurationInSeconds=600,
                AutoApprovalDelayInSeconds=86400,
                Keywords="image, label",
            )["HITTypeId"]
        )
        if destination is not None:
            notification = {
                "Destination": destination,
                "Transport": "SQS",
                "Version": "2014-08-15",
                "EventTypes": EVENTS,
            }
            self.mturk.update_notification_settings(HITTypeId=type_id, Notification=notification, Active=True)
        return type_id

    def hit(self, type_id: str, slots: int = 1) -> str:
        created = self.mturk.create_hit_with_hit_type(
            HITTypeId=type_id,
            LifetimeInSeconds=3600,
            MaxAssignments=slots,
            Question=HTML_QUESTION,
            RequesterAnnotation="batch 7",
        )
        return str(created["HIT"]["HITId"])


@contextlib.contextmanager
def _session(site: ServerProcess, access_key: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in to the dashboard as the requester of ``access_key``."""
    with httpx.Client(base_url=site.base_url, timeout=30) as client:
        token = _csrf(client, "/requester/login")
        assert (
            client.post("/requester/login", data={"csrf_token": token, "access_key_id": access_key}).status_code == 303
        )
        yield client


def _log_in(page: Any, site: ServerProcess, access_key: str) -> None:
    page.goto(f"{site.base_url}/requester/login")
    page.get_by_label("Access key ID").fill(access_key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/requester$"))


def _queue(local_aws: LocalAWS) -> str:
    return str(sqs_client(local_aws.url).create_queue(QueueName=f"dash-{uuid.uuid4().hex[:12]}")["QueueUrl"])


def _states(site: ServerProcess, type_id: str) -> list[str]:
    rows = site.sql(
        "SELECT state FROM messages WHERE hit_type_ids LIKE :pattern ORDER BY message_id", pattern=f"%{type_id}%"
    )
    return [row[0] for row in rows]


def _worker(site: ServerProcess) -> Worker:
    return Worker(site.base_url, "A" + uuid.uuid4().hex[:13].upper())


def test_a_requester_reads_parsed_answers_approves_and_rejects_in_the_page_and_sees_the_deliveries(
    site: ServerProcess, local_aws: LocalAWS, page: Any
) -> None:
    requester = Requester(site)
    queue = _queue(local_aws)
    type_id = requester.hit_type(queue)
    hit_id = requester.hit(type_id, slots=2)
    approved = _worker(site).do(hit_id, {"label": "a <b>cat</b>", "tags": ["fur", "whiskers"]})
    rejected = _worker(site).do(hit_id, {"label": "a dog"})

    _log_in(page, site, requester.access_key)
    main = page.locator("main")
    assert "Label an image" in main.inner_text() and queue in main.inner_text()
    assert "AssignmentApproved" in main.inner_text() and "2014-08-15" in main.inner_text()
    check_page(page, "requester-hit-types")

    page.get_by_role("link", name="HITs", exact=True).click()
    page.wait_for_url(re.compile(r"/requester/hits$"))
    row = page.get_by_role("row").filter(has_text=hit_id)
    # Status, review status, then available, pending, submitted and completed assignments.
    assert "Reviewable\tNotReviewed\t0\t0\t2\t0" in row.inner_text()
    check_page(page, "requester-hits")

    page.get_by_role("link", name="Label an image").first.click()
    page.wait_for_url(re.compile(f"/requester/hits/{hit_id}$"))
    first = page.locator("section", has_text=approved)
    answers = first.get_by_role("table").inner_text()
    # The QuestionFormAnswers document, parsed: one row per question, selections joined, markup as text.
    assert "label\ta <b>cat</b>" in answers and "tags\tfur|whiskers" in answers
    check_page(page, "requester-hit")

    # Rejecting needs feedback: refused in the page, nothing written.
    second = page.locator("section", has_text=rejected)
    second.get_by_role("button", name="Reject").click()
    assert "RequesterFeedback is required" in page.get_by_role("alert").inner_text()
    check_page(page, "requester-hit-error")
    assert requester.mturk.get_assignment(AssignmentId=rejected)["Assignment"]["AssignmentStatus"] == "Submitted"

    page.locator("section", has_text=approved).get_by_role("button", name="Approve").click()
    assert "approved" in page.get_by_role("status").inner_text()
    assert requester.mturk.get_assignment(AssignmentId=approved)["Assignment"]["AssignmentStatus"] == "Approved"

    second = page.locator("section", has_text=rejected)
    second.get_by_label(re.compile("Feedback to the worker")).fill("Not a cat.")
    second.get_by_role("button", name="Reject").click()
    assert "rejected" in page.get_by_role("status").inner_text()
    decided = requester.mturk.get_assignment(AssignmentId=rejected)["Assignment"]
    assert decided["AssignmentStatus"] == "Rejected" and decided["RequesterFeedback"] == "Not a cat."

    # The decisions' events went through the outbox to the queue, and the delivery log shows them.
    documents = drain(
        sqs_client(local_aws.url),
        queue,
        lambda d: {"AssignmentApproved", "AssignmentRejected"} <= {e["EventType"] for e in events_in(d)},
    )
    approved_doc = next(d for d in documents if any(e["EventType"] == "AssignmentApproved" for e in d["Events"]))
    wait_for(lambda: set(_states(site, type_id)) == {"delivered"}, what="every message delivered")
    page.get_by_role("link", name="Delivery log", exact=True).click()
    page.wait_for_url(re.compile(r"/requester/deliveries$"))
    card = page.locator("section", has_text=approved_doc["EventDocId"])
    text = card.inner_text()
    assert "delivered" in text and "AssignmentApproved" in text and approved in text and queue in text
    assert re.search(r"\d+ ms", text)  # end-to-end latency and each attempt's
    assert card.get_by_role("table", name="Attempts").get_by_role("row").count() == 2  # header + one attempt
    check_page(page, "requester-deliveries")


def test_a_dead_letter_is_sent_again_from_the_delivery_log(site: ServerProcess, local_aws: LocalAWS, page: Any) -> None:
    requester = Requester(site)
    # A queue that does not exist yet: every attempt fails until the message is dead-lettered.
    missing = _queue(local_aws).rsplit("/", 1)[0] + f"/later-{uuid.uuid4().hex[:12]}"
    type_id = requester.hit_type(missing)
    hit_id = requester.hit(type_id)
    wait_for(lambda: _states(site, type_id) == ["dead"], timeout=30, what="the HITCreated message dead-lettered")

    _log_in(page, site, requester.access_key)
    # A test event to the missing queue is refused with the transport's error.
    page.locator("section", has_text=type_id).get_by_role("button", name="Send test event").click()
    assert "could not be sent" in page.get_by_role("alert").inner_text()
    check_page(page, "requester-hit-types-error")
    page.goto(f"{site.base_url}/requester/deliveries?hit_type_id={type_id}")
    card = page.locator("section.message")
    assert "dead" in card.inner_text() and hit_id in card.inner_text() and "HITCreated" in card.inner_text()
    assert card.get_by_role("table", name="Attempts").get_by_role("row").count() == 1 + 6  # FAST_RETRIES: 6 tries
    check_page(page, "requester-deliveries-dead")

    sqs_client(local_aws.url).create_queue(QueueName=missing.rsplit("/", 1)[1])
    card.get_by_role("button", name=re.compile("Send again")).click()
    assert "sent again" in page.get_by_role("status").inner_text()
    [document] = drain(sqs_client(local_aws.url), missing, lambda d: len(d) >= 1)
    assert [e["HITId"] for e in document["Events"]] == [hit_id]
    wait_for(lambda: _states(site, type_id) == ["delivered"], what="the message delivered")
    page.reload()
    text = page.locator("section.message").inner_text()
    assert document["EventDocId"] in text and "delivered" in text
    # Only a dead letter can be sent again.
    with _session(site, requester.access_key) as client:
        message_id = re.search(r"Message (\d+)", text)
        assert message_id
        token = _csrf(client, "/requester/deliveries")
        again = client.post(f"/requester/deliveries/{message_id.group(1)}/send-again", data={"csrf_token": token})
        assert again.status_code == 409 and "only a dead letter" in again.text


def test_send_test_event_arrives_in_the_queue_and_the_log(site: ServerProcess, local_aws: LocalAWS, page: Any) -> None:
    requester = Requester(site)
    queue = _queue(local_aws)
    type_id = requester.hit_type(queue)
    _log_in(page, site, requester.access_key)
    section = page.locator("section", has_text=type_id)
    section.get_by_label("Test event type").select_option("AssignmentApproved")
    section.get_by_role("button", name="Send test event").click()
    assert "test event was sent" in page.get_by_role("status").inner_text()
    [document] = drain(sqs_client(local_aws.url), queue, lambda d: len(d) >= 1)
    assert [e["EventType"] for e in document["Events"]] == ["AssignmentApproved"]
    page.get_by_role("link", name="Delivery log", exact=True).click()
    assert "(test event)" in page.locator("section", has_text=document["EventDocId"]).inner_text()


def test_the_results_csv_has_mturks_batch_columns_and_cannot_inject_formulas(
    site: ServerProcess, local_aws: LocalAWS, tmp_path: Path
) -> None:
    requester = Requester(site)
    type_id = requester.hit_type(_queue(local_aws))
    hit_id = requester.hit(type_id)
    worker = _worker(site)
    assignment_id = worker.do(hit_id, {"label": '=HYPERLINK("http://evil.example")', "tags": ["+a", "b"]})
    requester.mturk.approve_assignment(AssignmentId=assignment_id)
    idle_hit = requester.hit(type_id)
    with _session(site, requester.access_key) as client:
        response = client.get(f"/requester/hits/{hit_id}/results.csv")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        header, *rows = list(csv.reader(io.StringIO(response.text)))
        assert header == [*BATCH_COLUMNS, "Answer.label", "Answer.tags", "Approve", "Reject"]
        [row] = [dict(zip(header, values, strict=True)) for values in rows]
        assert row["HITId"] == hit_id and row["HITTypeId"] == type_id and row["AssignmentId"] == assignment_id
        assert row["WorkerId"] == worker.worker_id and row["AssignmentStatus"] == "Approved"
        assert row["Reward"] == "$0.50" and row["MaxAssignments"] == "1" and row["RequesterAnnotation"] == "batch 7"
        assert row["Keywords"] == "image, label" and row["LifetimeInSeconds"] == "3600"
        assert row["AssignmentDurationInSeconds"] == "600" and row["AutoApprovalDelayInSeconds"] == "86400"
        assert row["LifetimeApprovalRate"] == "100% (1/1)" and row["Last7DaysApprovalRate"] == "100% (1/1)"
        assert row["ApprovalTime"].endswith("UTC " + row["ApprovalTime"][-4:]) and row["RejectionTime"] == ""
        # A formula from a worker is text in a spreadsheet: prefixed with '.
        assert row["Answer.label"] == '\'=HYPERLINK("http://evil.example")'
        assert row["Answer.tags"] == "'+a|b"

        by_type = client.get(f"/requester/hit-types/{type_id}/results.csv")
        assert by_type.status_code == 200
        header, *rows = list(csv.reader(io.StringIO(by_type.text)))
        assert sorted(r[0] for r in rows) == sorted([hit_id, idle_hit])  # a HIT without assignments has its row
        [idle_row] = [r for r in rows if r[0] == idle_hit]
        assert idle_row[header.index("AssignmentId")] == ""

    # A HIT made from a layout: its HITLayoutParameters are the batch input row, as Input.* columns.
    layout_id = _new_layout(site, requester.access_key, tmp_path)
    parameters = [
        {"Name": "image_url", "Value": "https://example.com/cat.jpg"},
        {"Name": "caption", "Value": "=cmd|' /C calc'!A0"},
    ]
    layout_hit = requester.mturk.create_hit_with_hit_type(
        HITTypeId=type_id, LifetimeInSeconds=3600, HITLayoutId=layout_id, HITLayoutParameters=parameters
    )["HIT"]["HITId"]
    _worker(site).do(layout_hit, {"label": "cat"})
    with _session(site, requester.access_key) as client:
        by_type = client.get(f"/requester/hit-types/{type_id}/results.csv")
        header, *rows = list(csv.reader(io.StringIO(by_type.text)))
        assert header == [
            *BATCH_COLUMNS, "Input.image_url", "Input.caption", "Answer.label", "Answer.tags", "Approve", "Reject"
        ]  # fmt: skip
        by_hit = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
        assert by_hit[layout_hit]["Input.image_url"] == "https://example.com/cat.jpg"
        assert by_hit[layout_hit]["Input.caption"] == "'=cmd|' /C calc'!A0"
        assert by_hit[layout_hit]["Answer.label"] == "cat"
        assert by_hit[hit_id]["Input.image_url"] == by_hit[hit_id]["Approve"] == ""  # made without a layout


def test_another_requester_can_neither_see_nor_act_and_the_admin_sees_all(
    site: ServerProcess, local_aws: LocalAWS, page: Any
) -> None:
    owner, stranger = Requester(site), Requester(site)
    type_id = owner.hit_type(_queue(local_aws), title="Owner's secret task")
    hit_id = owner.hit(type_id)
    assignment_id = _worker(site).do(hit_id)
    wait_for(lambda: bool(_states(site, type_id)), what="a message for the HIT type")
    [[message_id]] = site.sql(
        "SELECT message_id FROM messages WHERE hit_type_ids LIKE :pattern LIMIT 1", pattern=f"%{type_id}%"
    )
    with _session(site, stranger.access_key) as client:
        token = _csrf(client, "/requester")
        for path in (
            f"/requester/hits/{hit_id}",
            f"/requester/hits/{hit_id}/results.csv",
            f"/requester/hit-types/{type_id}/results.csv",
        ):
            assert client.get(path).status_code == 404, path
        review = {"csrf_token": token, "assignment_id": assignment_id, "decision": "approve"}
        assert client.post(f"/requester/hits/{hit_id}/review", data=review).status_code == 404
        test_event = {"csrf_token": token, "event_type": "Ping"}
        assert client.post(f"/requester/hit-types/{type_id}/test-event", data=test_event).status_code == 404
        send = client.post(f"/requester/deliveries/{message_id}/send-again", data={"csrf_token": token})
        assert send.status_code == 404
        for path in ("/requester", "/requester/hits", f"/requester/deliveries?hit_type_id={type_id}"):
            listed = client.get(path)
            assert listed.status_code == 200 and type_id not in listed.text and hit_id not in listed.text, path
    assert owner.mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Submitted"

    page.goto(f"{site.base_url}/requester/login")
    page.get_by_text("Administrator").click()
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/requester$"))
    section = page.locator("section", has_text=type_id)
    owner_id = _customer(site, owner.access_key)
    assert "Owner's secret task" in section.inner_text() and owner_id in section.inner_text()
    check_page(page, "requester-hit-types-admin")
    page.goto(f"{site.base_url}/requester/hits/{hit_id}")
    assert assignment_id in page.locator("main").inner_text() and owner_id in page.locator("main").inner_text()


def _customer(site: ServerProcess, access_key: str) -> str:
    [[customer_id]] = site.sql("SELECT customer_id FROM access_keys WHERE access_key_id = :key", key=access_key)
    return str(customer_id)


def test_decisions_need_the_sessions_csrf_token_and_a_session(site: ServerProcess, local_aws: LocalAWS) -> None:
    requester = Requester(site)
    hit_id = requester.hit(requester.hit_type(_queue(local_aws)))
    assignment_id = _worker(site).do(hit_id)
    review = {"assignment_id": assignment_id, "decision": "approve"}
    with _session(site, requester.access_key) as client, _session(site, Requester(site).access_key) as other:
        foreign_token = _csrf(other, "/requester")
        for data in (review, {**review, "csrf_token": "made-up"}, {**review, "csrf_token": foreign_token}):
            refused = client.post(f"/requester/hits/{hit_id}/review", data=data)
            assert refused.status_code == 403, data
    anonymous = httpx.post(f"{site.base_url}/requester/hits/{hit_id}/review", data=review)
    assert anonymous.status_code == 403
    stranger = httpx.get(f"{site.base_url}/requester/hits/{hit_id}")
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/requester/login?next=")
    assert requester.mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Submitted"


def test_bad_input_is_refused_naming_it(site: ServerProcess, local_aws: LocalAWS) -> None:
    requester = Requester(site)
    type_id = requester.hit_type(_queue(local_aws))
    hit_id = requester.hit(type_id)
    assignment_id = _worker(site).do(hit_id)
    with _session(site, requester.access_key) as client:
        assert client.get("/requester/hits?page=0").status_code == 400
        bad_page = client.get("/requester/hits?page=x")
        assert bad_page.status_code == 400 and "page must be" in bad_page.text
        assert client.get("/requester/deliveries?before=-1").status_code == 400
        token = _csrf(client, f"/requester/hits/{hit_id}")
        odd = {"csrf_token": token, "assignment_id": assignment_id, "decision": "maybe"}
        assert client.post(f"/requester/hits/{hit_id}/review", data=odd).status_code == 400
        long_feedback = {**odd, "decision": "reject", "feedback": "x" * 1025}
        too_long = client.post(f"/requester/hits/{hit_id}/review", data=long_feedback)
        assert too_long.status_code == 400 and "RequesterFeedback must be at most 1024" in too_long.text
        unknown_event = client.post(
            f"/requester/hit-types/{type_id}/test-event", data={"csrf_token": token, "event_type": "Boom"}
        )
        assert unknown_event.status_code == 400
        unsent = next(t for t in ("HITDisposed", "AssignmentAbandoned", "HITExtended") if t not in EVENTS)
        not_sent = client.post(
            f"/requester/hit-types/{type_id}/test-event", data={"csrf_token": token, "event_type": unsent}
        )
        assert not_sent.status_code == 400 and "the types this HIT type sends" in not_sent.text
        silent = requester.hit_type(None, title="No notifications")
        untested = client.post(
            f"/requester/hit-types/{silent}/test-event", data={"csrf_token": token, "event_type": "Ping"}
        )
        assert untested.status_code == 400 and "has no notification specification" in untested.text
        assert (
            requester.mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Submitted"
        )
        # A stale form (the assignment was decided meanwhile) shows the API's error and changes nothing.
        requester.mturk.approve_assignment(AssignmentId=assignment_id)
        stale = client.post(f"/requester/hits/{hit_id}/review", data={**long_feedback, "feedback": "late"})
        assert stale.status_code == 400 and "This operation can be called with a status of: Submitted" in stale.text
    decided = requester.mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert decided["AssignmentStatus"] == "Approved" and "RequesterFeedback" not in decided


def test_hits_and_the_delivery_log_page_newest_first(site: ServerProcess, local_aws: LocalAWS) -> None:
    requester = Requester(site)
    type_id = requester.hit_type(_queue(local_aws))
    created = [requester.hit(type_id) for _ in range(26)]
    with _session(site, requester.access_key) as client:
        first = client.get("/requester/hits").text
        second = client.get("/requester/hits?page=2").text
        on_first, on_second = {h for h in created if h in first}, {h for h in created if h in second}
        # 25 a page, newest first (HITs made in one millisecond may come in either order).
        assert len(on_first) == 25 and len(on_second) == 1 and on_first | on_second == set(created)
        assert created[-1] in on_first
        assert 'href="/requester/hits?page=2"' in first and 'href="/requester/hits?page=1"' in second
        assert 'href="/requester/hits?page=3"' not in second

        wait_for(lambda: len(_states(site, type_id)) >= 2, what="two messages")
        docs = site.sql(
            "SELECT message_id, doc_id FROM messages WHERE hit_type_ids LIKE :pattern ORDER BY message_id DESC",
            pattern=f"%{type_id}%",
        )
        (newest, newest_doc), (_, older_doc) = docs[0], docs[1]
        page = client.get(f"/requester/deliveries?hit_type_id={type_id}&before={newest}").text
        assert newest_doc not in page and older_doc in page and "Newest messages" in page


def test_a_requester_who_logs_out_is_sent_to_the_requester_log_in(site: ServerProcess) -> None:
    requester = Requester(site)
    with _session(site, requester.access_key) as client:
        token = _csrf(client, "/requester")
        out = client.post("/logout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == "/requester/login"
        assert client.get("/requester").status_code == 303  # the session ended
