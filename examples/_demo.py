"""Demo scaffolding shared by the recipes: the parts a real deployment does not need.

A recipe's handlers use only boto3 and ``openturk.consumer``; copy those. This module gives each
demo a brand-new requester, throwaway queues and topics, simulated workers (``openturk.testing.Worker``
on openturk's worker API), the virtual clock, and a consumer that runs in a background thread until
the demo has seen what it waits for, or its deadline passes.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import httpx

from openturk.consumer import Router
from openturk.consumer.sqs import ConsumerError, SQSConsumer, make_sqs_client
from openturk.testing import Worker

REGION = "us-east-1"
NOTIFICATION_VERSION = "2014-08-15"  # the only Version UpdateNotificationSettings accepts
# Placeholder credentials for a local SQS/SNS endpoint (moto accepts any); real AWS uses your own.
LOCAL_AWS_KEY = "openturk-example"


class DemoFailed(SystemExit):
    """The demo did not see what it expected (or not before its deadline): exit status 1, the reason
    on stderr."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"FAILED: {reason}")


def html_question(form_fields: str) -> str:
    """An HTMLQuestion whose form posts ``form_fields`` (every field comes back as FreeText)."""
    return (
        '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/'
        'HTMLQuestion.xsd"><HTMLContent><![CDATA[<!DOCTYPE html><html><body>'
        "<form name='mturk_form' method='post' action='https://www.mturk.com/mturk/externalSubmit'>"
        f"<input type='hidden' name='assignmentId' value=''>{form_fields}<input type='submit'></form>"
        "</body></html>]]></HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>"
    )


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("OPENTURK_ENDPOINT", "http://127.0.0.1:8443"),
        help="openturk's Requester API (started with `openturk serve --virtual-clock`)",
    )
    parser.add_argument(
        "--aws-endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="the SQS/SNS endpoint openturk delivers to (`openturk serve` prints its local one)",
    )
    parser.add_argument(
        "--access-key-id",
        default=None,
        help="the requester to act as (default: a new one each run, so runs never see each other's HITs)",
    )
    parser.add_argument("--secret-access-key", default="example-secret")
    parser.add_argument("--timeout", type=float, default=45.0, help="give up after this many seconds")
    return parser.parse_args(argv)


class Demo:
    """One run of a recipe: clients, throwaway AWS resources, workers, a deadline."""

    def __init__(self, name: str, args: argparse.Namespace) -> None:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        self.name, self.args = name, args
        self.run_id = uuid.uuid4().hex[:10]
        self.deadline = time.monotonic() + args.timeout
        self.access_key_id = args.access_key_id or f"AKIDEX{self.run_id.upper()}"
        self.mturk: Any = boto3.client(
            "mturk",
            endpoint_url=args.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=args.secret_access_key,
        )
        self.sqs: Any = make_sqs_client(args.aws_endpoint, REGION)
        self.sns: Any = boto3.client("sns", endpoint_url=args.aws_endpoint, region_name=REGION, **self._aws_keys())
        self._tmp = tempfile.TemporaryDirectory(prefix=f"openturk-{name}-")
        self.workdir = Path(self._tmp.name)
        self._queues: list[str] = []
        self._topics: list[str] = []

    def _aws_keys(self) -> dict[str, str]:
        if self.args.aws_endpoint and not os.environ.get("AWS_ACCESS_KEY_ID"):
            return {"aws_access_key_id": LOCAL_AWS_KEY, "aws_secret_access_key": LOCAL_AWS_KEY}
        return {}

    # -- AWS resources ----------------------------------------------------------------------------------------

    def new_queue(self) -> str:
        """A fresh SQS queue (deleted at the end). On real AWS it also needs a policy letting
        mturk-requester.amazonaws.com SendMessage to it."""
        url = str(self.sqs.create_queue(QueueName=f"{self.name}-{self.run_id}")["QueueUrl"])
        self._queues.append(url)
        return url

    def queue_arn(self, queue_url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def new_topic(self) -> str:
        arn = str(self.sns.create_topic(Name=f"{self.name}-{self.run_id}")["TopicArn"])
        self._topics.append(arn)
        return arn

    def notify(self, hit_type_id: str, destination: str, event_types: list[str], transport: str = "SQS") -> None:
        """UpdateNotificationSettings: send these events of the HIT type to ``destination``."""
        self.mturk.update_notification_settings(
            HITTypeId=hit_type_id,
            Notification={
                "Destination": destination,
                "Transport": transport,
                "Version": NOTIFICATION_VERSION,
                "EventTypes": event_types,
            },
            Active=True,
        )

    # -- simulated workers and time ---------------------------------------------------------------------------

    def worker(self) -> Worker:
        return Worker(self.args.endpoint, "A" + uuid.uuid4().hex[:13].upper())

    def advance_clock(self, seconds: float) -> None:
        """Move openturk's virtual clock; expiries and abandonments due in the span fire at once."""
        response = httpx.post(f"{self.args.endpoint}/api/clock/advance", json={"Seconds": seconds}, timeout=60)
        if response.status_code == 404:
            raise DemoFailed("openturk must run with --virtual-clock for this demo")
        response.raise_for_status()

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Poll ``condition`` until it holds; DemoFailed at the demo's deadline."""
        while not condition():
            if time.monotonic() > self.deadline:
                raise DemoFailed(f"timed out waiting for {what}")
            time.sleep(0.05)

    @contextmanager
    def consuming(self, queue_url: str, router: Router) -> Iterator[SQSConsumer]:
        """Run an SQSConsumer on ``queue_url`` in a background thread; stop it gracefully on exit.

        A real deployment runs the consumer in the foreground (``consumer.run()`` or
        ``openturk consume --handler module:router``) for as long as it lives.
        """
        # Short long-polls and a short retry backoff keep the demo brisk; the defaults suit production.
        consumer = SQSConsumer(queue_url, router, sqs_client=self.sqs, wait_seconds=1, failure_backoff_s=1)
        errors: list[ConsumerError] = []

        def run() -> None:
            try:
                consumer.run()
            except ConsumerError as exc:  # the queue cannot be read at all: surfaced in the main thread below
                errors.append(exc)

        thread = threading.Thread(target=run, name=f"{self.name}-consumer", daemon=True)
        thread.start()
        try:
            yield consumer
        finally:
            consumer.stop()
            thread.join(timeout=30)
        if errors:
            raise DemoFailed(f"the consumer stopped: {errors[0]}") from errors[0]

    # -- lifecycle --------------------------------------------------------------------------------------------

    def __enter__(self) -> Demo:
        print(f"[{self.name}] requester {self.access_key_id} on {self.args.endpoint}", flush=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for url in self._queues:
            self.sqs.delete_queue(QueueUrl=url)
        for arn in self._topics:
            self.sns.delete_topic(TopicArn=arn)
        self._tmp.cleanup()


def expect(condition: bool, reason: str) -> None:
    """The demo's own check of its outcome."""
    if not condition:
        raise DemoFailed(reason)
