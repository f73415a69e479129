"""The seeds' SNS -> Lambda handler, rewritten on the toolkit.

The seed loops over ``event['Records']``, ``json.loads(record['Sns']['Message'])``, and on each
HITReviewable lists the HIT's assignments and reads their FreeText answers. This is the same handler
in a few lines, plus what the seed leaves out:
- every notification shape is parsed (SNS records here; SQS records too if the trigger becomes a
  queue, then with ``batchItemFailures``), and a malformed message raises, saying what is wrong;
- duplicates are skipped by EventDocId and event index: SNS delivers at least once and Lambda retries
  a failed invocation. Across containers this needs a shared store: set DEDUP_URL to a PostgreSQL URL
  (the default, a SQLite file in /tmp, lasts as long as one warm container);
- ``parse_answers`` reads every answer type (selections as lists, uploaded files), not only FreeText,
  and ``context.assignments_for`` reads every page of ListAssignmentsForHIT;
- a handler that fails makes the invocation fail, so Lambda retries it and at last sends it to the
  function's on-failure destination: never a silent success.

Deploy: the function's handler is ``sns_lambda_handler.handler``; its role needs
AmazonMechanicalTurkFullAccess; the topic is the HIT type's notification destination (Transport SNS).

The demo (``main``) subscribes an SQS queue to an SNS topic, lets openturk publish a real HITReviewable
to the topic, and turns each message the queue receives into the event Lambda would pass.

    python examples/sns_lambda_handler.py --endpoint URL --aws-endpoint URL
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from _demo import Demo, expect, html_question, parse_args

from openturk.consumer import DedupStore, Event, MalformedNotification, Router, context, lambda_handler, open_dedup
from openturk.consumer.answers import Value
from openturk.consumer.lambda_adapter import LambdaHandler

SaveAnswers = Callable[[str, str, Mapping[str, Value]], None]


def print_answers(hit_id: str, worker_id: str, answers: Mapping[str, Value]) -> None:
    """The seed's "Do something with the answers"."""
    print(f"HIT {hit_id}: {worker_id} answered {dict(answers)}", flush=True)


def make_router(mturk: Any, dedup: DedupStore, save: SaveAnswers) -> Router:
    router = Router(dedup=dedup)

    @router.on("HITReviewable")
    def on_reviewable(event: Event) -> None:
        assert event.hit_id is not None
        for assignment in context.assignments_for(mturk, event):
            save(event.hit_id, assignment.worker_id, assignment.answers)

    return router


_handler: LambdaHandler | None = None


def handler(event: Mapping[str, Any], lambda_context: Any) -> Any:
    """The Lambda entry point. Built on the first invocation and kept while the container is warm,
    so importing this module has no side effects."""
    global _handler
    if _handler is None:
        mturk = boto3.client("mturk", region_name="us-east-1")
        dedup = open_dedup(os.environ.get("DEDUP_URL", "/tmp/openturk-seen.db"))
        _handler = lambda_handler(make_router(mturk, dedup, print_answers))
    return _handler(event, lambda_context)


# -- the demo ------------------------------------------------------------------------------------------------


def lambda_event(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The event Lambda passes a function subscribed to the topic, for one SNS message.

    An SQS queue subscribed to the topic receives the same envelope as its body; Lambda's record
    renames two fields (SigningCertURL, UnsubscribeURL).
    """
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{envelope['TopicArn']}:example-subscription",
                "Sns": {
                    "Type": envelope["Type"],
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope["TopicArn"],
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope["Timestamp"],
                    "SignatureVersion": envelope.get("SignatureVersion", "1"),
                    "Signature": envelope.get("Signature", ""),
                    "SigningCertUrl": envelope.get("SigningCertURL", ""),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args("The seeds' SNS->Lambda handler on the toolkit, fed real SNS messages.", argv)
    with Demo("sns-lambda", args) as demo:
        mturk = demo.mturk
        topic_arn, queue_url = demo.new_topic(), demo.new_queue()
        demo.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=demo.queue_arn(queue_url))
        hit_type_id = mturk.create_hit_type(
            Title="Rate a headline",
            Description="How clear is this headline, 1 to 5?",
            Reward="0.04",
            AssignmentDurationInSeconds=300,
            AutoApprovalDelayInSeconds=86400,
        )["HITTypeId"]
        demo.notify(hit_type_id, topic_arn, ["HITReviewable"], transport="SNS")
        hit_id = mturk.create_hit_with_hit_type(
            HITTypeId=hit_type_id,
            MaxAssignments=2,
            LifetimeInSeconds=3600,
            Question=html_question("<input name='clarity'><input name='comment'>"),
        )["HIT"]["HITId"]
        demo.worker().do(hit_id, {"clarity": "4", "comment": "a bit long"})
        demo.worker().do(hit_id, {"clarity": "5", "comment": ""})

        # The function as deployed, but with the demo's clients and a record of what it saved.
        saved: list[tuple[str, str, Mapping[str, Value]]] = []

        def save(hit: str, worker: str, answers: Mapping[str, Value]) -> None:
            print_answers(hit, worker, answers)
            saved.append((hit, worker, answers))

        function = lambda_handler(make_router(mturk, open_dedup(str(demo.workdir / "seen.db")), save))

        # What SNS would push to Lambda: here, what it delivered to the subscribed queue.
        events: list[dict[str, Any]] = []

        def receive() -> bool:
            response = demo.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in response.get("Messages", []):
                events.append(lambda_event(json.loads(message["Body"])))
                demo.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            return bool(events)

        demo.wait_for(receive, "the HITReviewable message from SNS")
        for event in events:
            function(event, None)
        expect(len(saved) == 2, f"expected two workers' answers, saved {saved}")
        print(f"invoked with {len(events)} SNS record(s): {len(saved)} answers saved", flush=True)

        # SNS delivers at least once, and Lambda retries failed invocations: the same message again.
        function(events[0], None)
        expect(len(saved) == 2, "the redelivered message was handled twice")
        print("redelivered the same SNS message: skipped (same EventDocId)", flush=True)

        # The seed's console test event, with no EventDocId, works as it is.
        seed_message = json.dumps({"Events": [{"EventType": "HITReviewable", "HITId": hit_id}]})
        function({"Records": [{"Sns": {"Message": seed_message}}]}, None)
        expect(len(saved) == 4, "the seed's test event was not handled")
        print("the seed's test event: handled", flush=True)

        try:
            function({"Records": [{"Sns": {"Message": "not a notification"}}]}, None)
        except MalformedNotification as exc:
            print(f"a malformed message fails the invocation: {exc}", flush=True)
        else:
            expect(False, "a malformed message was accepted")
        expect(sorted(str(answers["clarity"]) for _, _, answers in saved[:2]) == ["4", "5"], f"answers {saved}")
        print("OK: the toolkit handler ran the seed's flow on real SNS messages, once per event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
