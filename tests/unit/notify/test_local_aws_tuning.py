"""The local AWS's speed-ups answer as moto does (openturk/notify/local_aws_tuning.py)."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from openturk.notify import local_aws_tuning
from openturk.notify.local_aws import LocalAWS
from openturk.ports import free_port

ACCOUNT = "000000004243"  # an account no other test uses: moto's backends are process-global
REGION = "us-east-1"
SIGNED_SQS = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"
)


@pytest.fixture
def backend() -> Iterator[Any]:
    from moto.sqs.models import sqs_backends

    local_aws_tuning.apply()
    yield sqs_backends[ACCOUNT][REGION]
    sqs_backends.pop(ACCOUNT, None)


def test_a_message_older_than_the_queues_retention_is_not_received(backend: Any) -> None:
    backend.create_queue("kept", MessageRetentionPeriod="60")
    fresh = backend.send_message("kept", "fresh")
    old = backend.send_message("kept", "old")
    old.sent_timestamp = int((time.time() - 61) * 1000)
    assert backend.is_message_valid_based_on_retention_period("kept", fresh)
    assert not backend.is_message_valid_based_on_retention_period("kept", old)
    received = backend.receive_message("kept", count=10, wait_seconds_timeout=0, visibility_timeout=30)
    assert [m.body for m in received] == ["fresh"]


def test_visibility_and_delay_still_follow_the_wall_clock(backend: Any) -> None:
    backend.create_queue("timed")
    delayed = backend.send_message("timed", "later", delay_seconds=1)
    assert delayed.delayed
    assert backend.receive_message("timed", count=10, wait_seconds_timeout=0, visibility_timeout=30) == []
    delayed.delayed_until = time.time() * 1000 - 1  # as one second later
    [got] = backend.receive_message("timed", count=10, wait_seconds_timeout=0, visibility_timeout=30)
    assert got.body == "later" and not got.visible  # in flight now, for its visibility timeout


def test_the_backend_for_a_host_is_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    local_aws_tuning.apply()
    listings: list[str] = []
    listed = backends.list_of_moto_modules

    def list_of_moto_modules() -> Any:
        listings.append("listed")
        return listed()

    monkeypatch.setattr(backends, "list_of_moto_modules", list_of_moto_modules)
    app = DomainDispatcherApplication(create_backend_app)
    assert app.get_backend_for_host("sqs.ap-south-2.amazonaws.com") == "sqs"
    assert app.get_backend_for_host("sns.ap-south-2.amazonaws.com") == "sns"
    looked_up = len(listings)
    assert looked_up > 0
    assert app.get_backend_for_host("sqs.ap-south-2.amazonaws.com") == "sqs"
    assert len(listings) == looked_up  # the kept answer: moto's module directories are not listed again


def test_a_response_class_is_walked_once_and_request_ids_keep_motos_form(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect
    import re

    import moto.core.responses
    from moto.core import utils
    from moto.sqs.responses import SQSResponse

    local_aws_tuning.apply()
    walks: list[object] = []
    getmembers = inspect.getmembers

    def counted(clazz: object, predicate: Any = None) -> Any:
        walks.append(clazz)
        return getmembers(clazz, predicate)

    monkeypatch.setattr(inspect, "getmembers", counted)

    class Fresh(SQSResponse):  # a class nobody asked about yet
        pass

    names = moto.core.responses.method_names_from_class(Fresh)
    assert "send_message" in names and names == utils.method_names_from_class(Fresh)
    walks.clear()
    assert moto.core.responses.method_names_from_class(Fresh) == names
    assert walks == []  # kept, not walked again
    headers: dict[str, str] = {}
    request_id = moto.core.responses.gen_amzn_requestid_long(headers)
    assert re.fullmatch(r"[A-Za-z0-9]{52}", request_id) and headers == {"x-amzn-requestid": request_id}
    assert moto.core.responses.gen_amzn_requestid_long() != request_id


def test_one_connection_carries_many_requests() -> None:
    aws = LocalAWS(free_port()).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
        for name in ("kept-alive-1", "kept-alive-2", "kept-alive-3"):
            connection.request(
                "POST",
                "/",
                body=f"Action=CreateQueue&QueueName={name}&Version=2012-11-05",
                headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": SIGNED_SQS},
            )
            answer = connection.getresponse()
            assert answer.status == 200, answer.read()
            assert answer.getheader("Connection") != "close"
            assert name in answer.read().decode()
            assert connection.sock is not None  # not closed by the server: the next request reuses it
        connection.close()
    finally:
        aws.stop()


def _sqs_json(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": "POST",
        "json": body,
        "headers": {
            "X-Amz-Target": f"AmazonSQS.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": SIGNED_SQS,
        },
    }


def test_sqs_json_calls_go_straight_to_moto_sqs_and_the_rest_take_motos_way() -> None:
    from werkzeug.test import Client

    taken_motos_way: list[str] = []

    def motos_way(environ: dict[str, Any], start_response: Any) -> Any:
        taken_motos_way.append(environ["PATH_INFO"])
        start_response("204 No Content", [])
        return [b""]

    client = Client(local_aws_tuning.route_sqs_json(motos_way))
    created = client.open("/", **_sqs_json("CreateQueue", {"QueueName": "straight"}))
    assert created.status_code == 200, created.text
    assert json.loads(created.text)["QueueUrl"].endswith("/straight")
    missing = client.open("/", **_sqs_json("GetQueueUrl", {"QueueName": "no-such-queue"}))
    assert missing.status_code == 400
    assert "NonExistentQueue" in missing.text or "QueueDoesNotExist" in missing.text
    refused = client.open("/", **_sqs_json("CreateQueue", {"QueueName": "bad name!"}))
    assert refused.status_code == 400 and "alphanumeric" in refused.text
    assert taken_motos_way == []
    client.post("/", data="Action=ListQueues&Version=2012-11-05", headers={"Authorization": SIGNED_SQS})
    client.open("/", method="POST", headers={"X-Amz-Target": "AmazonSNS.ListTopics"})
    assert taken_motos_way == ["/", "/"]


def test_a_stop_with_a_long_poll_waiting_prints_no_error(capfd: pytest.CaptureFixture[str]) -> None:
    import threading

    import boto3

    aws = LocalAWS(free_port()).start()
    sqs = boto3.client(
        "sqs", endpoint_url=aws.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    queue_url = sqs.create_queue(QueueName="polled-at-stop")["QueueUrl"]

    def poll() -> None:
        with contextlib.suppress(Exception):  # the stop cuts it off; what matters is what the server printed
            sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=20)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    time.sleep(0.5)  # the long poll is waiting in the server (nothing to wait for: it never answers first)
    started = time.monotonic()
    aws.stop()
    assert time.monotonic() - started < 5
    assert "ERROR" not in capfd.readouterr().err


def test_a_delete_finds_its_message_by_any_of_its_handles_as_moto_does(backend: Any) -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    backend.create_queue("deleting", VisibilityTimeout="0")
    for body in ("first", "second", "third"):
        backend.send_message("deleting", body)
    [first] = backend.receive_message("deleting", 1, 0, 0)
    [again] = backend.receive_message("deleting", 1, 0, 0)  # visible again at once: received a second time
    assert again.body == "first" and again.receipt_handle != first.receipt_handle
    queue = backend.get_queue("deleting")
    backend.delete_message("deleting", first.receipt_handle)  # its older handle still names it
    assert [m.body for m in queue._messages] == ["second", "third"]
    assert not queue.pending_messages
    backend.delete_message("deleting", again.receipt_handle)  # deleted already: succeeds
    with pytest.raises(ReceiptHandleIsInvalid):
        backend.delete_message("deleting", "no-such-handle")
    assert [m.body for m in queue._messages] == ["second", "third"]


def test_receipt_handles_and_attribute_names_keep_motos_form(backend: Any) -> None:
    backend.create_queue("named", VisibilityTimeout="45")
    backend.send_message("named", "m")
    [got] = backend.receive_message("named", 1, 0, 30)
    assert len(got.receipt_handle) == 185 and got.receipt_handle.isalpha() and got.receipt_handle.islower()
    attributes = backend.get_queue("named").attributes
    assert attributes["VisibilityTimeout"] == 45 and attributes["ApproximateNumberOfMessagesNotVisible"] == 1
