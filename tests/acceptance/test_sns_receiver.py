"""The SNS receiver under a real uvicorn server on 127.0.0.1, fed SNS-signed POSTs over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from openturk.consumer import Event, Router
from openturk.consumer.sns import SNSVerifier, sns_receiver
from tests.support.sns import TOPIC_ARN, SNSSigner, notification_document


class UvicornThread:
    """Serve an ASGI app on a free 127.0.0.1 port in a thread; ``url`` once it listens."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Receiver:
    url: str
    signer: SNSSigner
    seen: list[Event] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    def post(self, body: dict[str, Any] | str, message_type: str | None = None) -> httpx.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        headers = {
            "content-type": "text/plain; charset=UTF-8",
            "user-agent": "Amazon Simple Notification Service Agent",
        }
        if isinstance(body, dict):
            headers["x-amz-sns-message-type"] = message_type or body["Type"]
            headers["x-amz-sns-message-id"] = body["MessageId"]
            headers["x-amz-sns-topic-arn"] = body["TopicArn"]
        return httpx.post(self.url + "/sns", content=text.encode(), headers=headers, timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    signer = SNSSigner()
    state = Receiver(url="", signer=signer)
    router = Router()

    @router.default
    def record(event: Event) -> None:
        if event.event_type in state.failing:
            raise RuntimeError(f"cannot handle {event.event_type} now")
        state.seen.append(event)

    verifier = SNSVerifier([TOPIC_ARN], fetch_certificate=signer.fetch)
    app = sns_receiver(router, verifier, confirm=state.confirmed.append, path="/sns")
    with UvicornThread(app) as server:
        state.url = server.url
        yield state


def test_a_notification_is_handled_once_however_often_it_arrives(receiver: Receiver) -> None:
    document = notification_document("doc-once", "AssignmentSubmitted", "HITReviewable")
    first = receiver.signer.notification(document, subject="MTurk", version="2")
    assert receiver.post(first).status_code == 200
    assert receiver.post(first).status_code == 200  # SNS redelivers the same message
    again = receiver.signer.notification(document)  # the same document in a new message (new MessageId)
    response = receiver.post(again)
    assert response.status_code == 200 and response.text == "handled 0, duplicates 2"
    assert [(e.event_type, e.doc_id, e.index) for e in receiver.seen] == [
        ("AssignmentSubmitted", "doc-once", 0),
        ("HITReviewable", "doc-once", 1),
    ]


def test_a_failing_handler_answers_5xx_so_sns_retries_and_the_retry_runs_it(receiver: Receiver) -> None:
    receiver.failing.add("HITReviewable")
    body = receiver.signer.notification(notification_document("doc-fail", "AssignmentSubmitted", "HITReviewable"))
    response = receiver.post(body)
    assert response.status_code == 500
    assert "cannot handle" not in response.text  # handler errors stay in the log, not on the wire
    assert [e.event_type for e in receiver.seen] == ["AssignmentSubmitted"]
    receiver.failing.clear()
    assert receiver.post(body).status_code == 200  # SNS's retry
    assert [e.event_type for e in receiver.seen] == ["AssignmentSubmitted", "HITReviewable"]


def test_a_tampered_or_unsigned_message_is_refused_and_not_handled(receiver: Receiver) -> None:
    body = receiver.signer.notification(notification_document("doc-tampered", "HITReviewable"))
    body["Message"] = json.dumps(notification_document("doc-tampered", "HITExpired"))
    response = receiver.post(body)
    assert response.status_code == 403 and "Signature does not match" in response.text
    foreign = receiver.signer.notification(
        notification_document("doc-foreign", "HITReviewable"), topic_arn="arn:aws:sns:us-east-1:1:not-ours"
    )
    assert receiver.post(foreign).status_code == 403
    assert receiver.post("not json at all").status_code == 400
    assert httpx.get(receiver.url + "/sns").status_code == 405
    assert receiver.seen == []


def test_a_subscription_is_confirmed_only_when_verified(receiver: Receiver) -> None:
    forged = receiver.signer.confirmation()
    forged["SubscribeURL"] += "&forged=1"
    assert receiver.post(forged).status_code == 403
    assert receiver.confirmed == []
    confirmation = receiver.signer.confirmation(version="2")
    response = receiver.post(confirmation)
    assert response.status_code == 200 and response.text == "subscription confirmed"
    assert receiver.confirmed == [confirmation["SubscribeURL"]]
    unsubscribed = receiver.signer.confirmation(message_type="UnsubscribeConfirmation")
    assert receiver.post(unsubscribed).status_code == 200
    assert receiver.confirmed == [confirmation["SubscribeURL"]]
