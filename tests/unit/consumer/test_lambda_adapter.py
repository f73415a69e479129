"""The Lambda adapter on SNS and SQS Lambda events, as AWS shapes them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openturk.consumer import Event, HandlerFailed, MalformedNotification, MemoryDedup, Router, parse_answers
from openturk.consumer.dedup import Verdict
from openturk.consumer.lambda_adapter import SQSBatchFailed, lambda_handler
from tests.support.sns import TOPIC_ARN, notification_document


def sns_record(message: str | dict[str, Any]) -> dict[str, Any]:
    text = message if isinstance(message, str) else json.dumps(message)
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{TOPIC_ARN}:5a8f7d6e",
        "Sns": {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": TOPIC_ARN,
            "Subject": None,
            "Message": text,
            "Timestamp": "2026-01-02T03:04:06.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {},
        },
    }


def sqs_record(message_id: str, body: str | dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SenderId": "AIDAIXO4EZE6RHVSXIN4E"},
        "messageAttributes": {},
        "md5OfBody": "-",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mturk",
        "awsRegion": "us-east-1",
    }


class Recorder:
    def __init__(self) -> None:
        self.router = Router()
        self.seen: list[tuple[str, str, int]] = []
        self.failing: set[str] = set()
        self.router.default(self.record)

    def record(self, event: Event) -> None:
        if event.hit_id in self.failing:
            raise RuntimeError(f"{event.hit_id} cannot be handled now")
        self.seen.append((event.event_type, event.doc_id, event.index))


def test_sns_events_run_the_router_and_a_retry_skips_what_was_done() -> None:
    recorder = Recorder()
    handler = lambda_handler(recorder.router)
    event = {"Records": [sns_record(notification_document("d1", "AssignmentSubmitted", "HITReviewable"))]}
    assert handler(event, None) is None
    assert handler(event, None) is None  # Lambda's at-least-once invocation
    assert recorder.seen == [("AssignmentSubmitted", "d1", 0), ("HITReviewable", "d1", 1)]


def test_an_sns_failure_raises_so_lambda_retries_and_the_retry_runs_only_the_failed_event() -> None:
    recorder = Recorder()
    handler = lambda_handler(recorder.router)
    good = notification_document("d-good", "HITReviewable", hit_id="H-good")
    bad = notification_document("d-bad", "AssignmentSubmitted", "HITReviewable", hit_id="H-bad")
    event = {"Records": [sns_record(bad), sns_record(good)]}
    recorder.failing.add("H-bad")
    with pytest.raises(HandlerFailed, match="H-bad cannot be handled now") as caught:
        handler(event, None)
    assert [(e.doc_id, e.index) for e, _ in caught.value.failures] == [("d-bad", 0), ("d-bad", 1)]
    assert recorder.seen == [("HITReviewable", "d-good", 0)]
    recorder.failing.clear()
    handler(event, None)
    assert recorder.seen == [
        ("HITReviewable", "d-good", 0),
        ("AssignmentSubmitted", "d-bad", 0),
        ("HITReviewable", "d-bad", 1),
    ]


def test_a_malformed_sns_message_raises_after_the_good_ones_are_handled() -> None:
    recorder = Recorder()
    event = {"Records": [sns_record('{"no": "events"}'), sns_record(notification_document("d2", "HITExpired"))]}
    with pytest.raises(MalformedNotification, match=r"Records\[0\]\.Sns\.Message: .*Events"):
        lambda_handler(recorder.router)(event, None)
    assert recorder.seen == [("HITExpired", "d2", 0)]


def test_sqs_partial_failures_report_exactly_the_failed_message_ids() -> None:
    recorder = Recorder()
    handler = lambda_handler(recorder.router)
    envelope = {
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": TOPIC_ARN,
        "Message": json.dumps(notification_document("d-env", "HITReviewable", hit_id="H-env")),
    }
    records = [
        sqs_record("m-ok", notification_document("d-ok", "AssignmentSubmitted", hit_id="H-ok")),
        sqs_record("m-fail", notification_document("d-fail", "HITReviewable", hit_id="H-fail")),
        sqs_record("m-malformed", "{not json"),
        sqs_record("m-envelope", envelope),
        sqs_record("m-dup", notification_document("d-ok", "AssignmentSubmitted", hit_id="H-ok")),
        sqs_record("m-no-events", {"EventDocId": "x"}),
    ]
    recorder.failing.add("H-fail")
    response = handler({"Records": records}, None)
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": "m-fail"},
            {"itemIdentifier": "m-malformed"},
            {"itemIdentifier": "m-no-events"},
        ]
    }
    assert recorder.seen == [("AssignmentSubmitted", "d-ok", 0), ("HITReviewable", "d-env", 0)]
    recorder.failing.clear()
    assert handler({"Records": [records[1]]}, None) == {"batchItemFailures": []}  # the redelivery
    assert recorder.seen[-1] == ("HITReviewable", "d-fail", 0)


def test_sqs_without_batch_item_failure_reporting_raises_for_the_whole_batch() -> None:
    recorder = Recorder()
    recorder.failing.add("H2")
    handler = lambda_handler(recorder.router, report_batch_item_failures=False)
    records = [
        sqs_record("m1", notification_document("d1", "HITReviewable", hit_id="H1")),
        sqs_record("m2", notification_document("d2", "HITReviewable", hit_id="H2")),
    ]
    with pytest.raises(SQSBatchFailed, match="1 of 2 SQS messages failed: m2") as caught:
        handler({"Records": records}, None)
    assert caught.value.message_ids == ["m2"]
    assert handler({"Records": records[:1]}, None) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "no Records list"),
        ({"Records": "x"}, "no Records list"),
        ({"Records": [1]}, "no Records list"),
        ({"Records": [{"eventSource": "aws:s3"}]}, "neither all SNS nor all SQS"),
        ({"Records": [sns_record("{}"), sqs_record("m", "{}")]}, "neither all SNS nor all SQS"),
        ({"Records": [{"body": "{}"}]}, "no messageId"),
    ],
)
def test_an_event_that_is_not_sns_or_sqs_is_rejected(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedNotification, match=reason):
        lambda_handler(Router())(event, None)


# The seed's SNS → Lambda handler, rewritten on the toolkit: the seed's own test event, the answers
# fetched with ListAssignmentsForHIT on HITReviewable and parsed from QuestionFormAnswers.

SEED_TEST_EVENT = {
    "Records": [{"Sns": {"Message": '{"Events":[{"EventType":"HITReviewable","HITId":"31ANT7FQN71LA48IQEXAMPLE"}]}'}}]
}
ANSWER_XML = (
    '<QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/'
    'QuestionFormAnswers.xsd"><Answer><QuestionIdentifier>label</QuestionIdentifier><FreeText>cat</FreeText>'
    "</Answer></QuestionFormAnswers>"
)


class StubMTurk:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def list_assignments_for_hit(self, HITId: str) -> dict[str, Any]:  # boto3's keyword spelling
        self.calls.append(HITId)
        return {"Assignments": [{"WorkerId": "AWORKER1", "HITId": HITId, "Answer": ANSWER_XML}]}


def test_the_seed_sns_lambda_flow_on_the_toolkit() -> None:
    mturk = StubMTurk()
    results: list[dict[str, Any]] = []
    router = Router()

    @router.on("HITReviewable")
    def collect_answers(event: Event) -> None:
        assert event.hit_id is not None
        for assignment in mturk.list_assignments_for_hit(HITId=event.hit_id)["Assignments"]:
            results.append({"WorkerId": assignment["WorkerId"], "Answer": parse_answers(assignment)})

    handler = lambda_handler(router)
    assert handler(SEED_TEST_EVENT, None) is None
    assert handler(SEED_TEST_EVENT, None) is None  # the same test event again: handled once
    assert mturk.calls == ["31ANT7FQN71LA48IQEXAMPLE"]
    assert results == [{"WorkerId": "AWORKER1", "Answer": {"label": "cat"}}]


def test_another_customers_document_is_a_failed_record_and_runs_nothing() -> None:
    recorder = Recorder()
    recorder.router.customer_id = "A2SOMEONEELSE"
    handler = lambda_handler(recorder.router)
    sqs_event = {"Records": [sqs_record("m-1", notification_document("doc-f", "HITReviewable"))]}
    assert handler(sqs_event, None) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    with pytest.raises(MalformedNotification, match="CustomerId 'A1REQUESTER' is not the expected 'A2SOMEONEELSE'"):
        handler({"Records": [sns_record(notification_document("doc-g", "HITReviewable"))]}, None)
    assert recorder.seen == []


class FailingDedup(MemoryDedup):
    """A store that raises (as a database that went away does) when asked about one document."""

    def __init__(self, broken_doc_id: str) -> None:
        super().__init__()
        self.broken_doc_id = broken_doc_id

    def claim(self, key: tuple[str, int], owner: str) -> Verdict:
        if key[0] == self.broken_doc_id:
            raise RuntimeError("the dedup store is unreachable")
        return super().claim(key, owner)


def test_an_unexpected_error_fails_only_its_sqs_record_and_is_logged_with_its_message_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    recorder.router.dedup = FailingDedup("d-store")
    records = [
        sqs_record("m-first", notification_document("d-first", "HITReviewable", hit_id="H1")),
        sqs_record("m-deep", "[" * 100_000 + "]" * 100_000),  # RecursionError in the JSON parser
        sqs_record("m-store", notification_document("d-store", "HITCreated", hit_id="H2")),  # keyed by delivery
        sqs_record("m-last", notification_document("d-last", "HITExpired", hit_id="H3")),
    ]
    response = lambda_handler(recorder.router)({"Records": records}, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-deep"}, {"itemIdentifier": "m-store"}]}
    assert recorder.seen == [("HITReviewable", "d-first", 0), ("HITExpired", "d-last", 0)]
    logged = [r.getMessage() for r in caplog.records if r.name == "openturk.consumer.lambda"]
    assert any("m-deep" in line for line in logged) and any("m-store" in line for line in logged)


def fifo_record(message_id: str, group: str, body: str | dict[str, Any]) -> dict[str, Any]:
    record = sqs_record(message_id, body)
    record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:mturk.fifo"
    record["attributes"] = {**record["attributes"], "MessageGroupId": group, "SequenceNumber": "1"}
    return record


def test_a_fifo_batch_stops_at_its_first_failed_record_and_reports_every_later_one() -> None:
    recorder = Recorder()
    recorder.failing.add("H-b")
    records = [
        fifo_record("m1", "g-a", notification_document("d1", "HITReviewable", hit_id="H-a")),
        fifo_record("m2", "g-b", notification_document("d2", "HITReviewable", hit_id="H-b")),  # fails
        fifo_record("m3", "g-b", notification_document("d3", "HITExpired", hit_id="H-b2")),  # same group
        fifo_record("m4", "g-c", notification_document("d4", "HITExpired", hit_id="H-c")),  # another group
        fifo_record("m5", "g-c", "{not json"),
    ]
    response = lambda_handler(recorder.router)({"Records": records}, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": m} for m in ("m2", "m3", "m4", "m5")]}
    assert recorder.seen == [("HITReviewable", "d1", 0)], "nothing after the first failure was handled"
    # The same records from a standard queue go on after a failure.
    standard = [sqs_record(r["messageId"], r["body"]) for r in records]
    assert lambda_handler(recorder.router)({"Records": standard}, None) == {
        "batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m5"}]
    }
    assert recorder.seen[1:] == [("HITExpired", "d3", 0), ("HITExpired", "d4", 0)]
