"""SNS signature verification, with messages signed here by a key and certificate the test makes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from openturk.consumer import Event, Router
from openturk.consumer.sns import (
    MAX_BODY_BYTES,
    CertificateUnavailable,
    InvalidSNSMessage,
    SNSReceiver,
    SNSVerifier,
    UntrustedSNSMessage,
    sns_receiver,
)
from tests.support.sns import CERT_URL, TOPIC_ARN, SNSSigner, notification_document, sns_time

OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:other"
DOC = notification_document("doc-1", "AssignmentSubmitted", "HITReviewable")


@pytest.fixture(scope="module")
def signer() -> SNSSigner:
    return SNSSigner()


def verifier_for(signer: SNSSigner, **kwargs: Any) -> SNSVerifier:
    kwargs.setdefault("topic_arns", [TOPIC_ARN, OTHER_TOPIC])
    return SNSVerifier(fetch_certificate=signer.fetch, **kwargs)


@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_notifications_verify_in_both_signature_versions(signer: SNSSigner, version: str) -> None:
    for subject in (None, "MTurk event"):
        body = signer.notification(DOC, subject=subject, version=version)
        message = verifier_for(signer).verify(json.dumps(body))
        assert (message.type, message.topic_arn, message.subject) == ("Notification", TOPIC_ARN, subject)
        assert json.loads(message.message) == DOC
        assert message.message_id == body["MessageId"]
        assert message.timestamp.tzinfo is not None


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("message_type", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_signed_confirmations_verify(signer: SNSSigner, version: str, message_type: str) -> None:
    body = signer.confirmation(message_type=message_type, version=version)
    message = verifier_for(signer).verify(body)
    assert message.type == message_type
    assert message.subscribe_url == body["SubscribeURL"] and message.token == body["Token"]


def _set(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.__setitem__(name, value)


TAMPERINGS: dict[str, Callable[[dict[str, Any]], None]] = {
    "Message": _set("Message", json.dumps(notification_document("doc-1", "HITExpired"))),
    "Subject changed": _set("Subject", "something else"),
    "Subject removed": lambda body: body.pop("Subject"),
    "TopicArn": _set("TopicArn", OTHER_TOPIC),  # allowed, so only the signature can catch it
    "Timestamp": _set("Timestamp", sns_time(datetime.now(UTC) - timedelta(seconds=7))),
    "MessageId": _set("MessageId", "another-id"),
    "SignatureVersion": _set("SignatureVersion", "2"),  # signed with SHA1, claimed as SHA256
}


@pytest.mark.parametrize("tampering", TAMPERINGS, ids=list(TAMPERINGS))
def test_a_tampered_notification_is_rejected(signer: SNSSigner, tampering: str) -> None:
    body = signer.notification(DOC, subject="MTurk event")
    TAMPERINGS[tampering](body)
    with pytest.raises(UntrustedSNSMessage, match="Signature does not match the Notification") as caught:
        verifier_for(signer).verify(body)
    assert caught.value.status == 403


def test_adding_a_subject_to_a_message_signed_without_one_is_rejected(signer: SNSSigner) -> None:
    body = signer.notification(DOC, version="2")
    body["Subject"] = "injected"
    with pytest.raises(UntrustedSNSMessage, match="Signature does not match"):
        verifier_for(signer).verify(body)


def test_a_tampered_confirmation_is_rejected(signer: SNSSigner) -> None:
    body = signer.confirmation()
    body["Token"] = "0" * 32
    with pytest.raises(UntrustedSNSMessage, match="Signature does not match the SubscriptionConfirmation"):
        verifier_for(signer).verify(body)


def test_a_signature_by_another_key_is_rejected(signer: SNSSigner) -> None:
    impostor = SNSSigner(key_size=1024)
    body = impostor.notification(DOC)  # same certificate URL, but the real certificate is served
    with pytest.raises(UntrustedSNSMessage, match="Signature does not match"):
        verifier_for(signer).verify(body)


@pytest.mark.parametrize(
    "cert_url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-x.pem",
        "https://s3.amazonaws.com/SimpleNotificationService-x.pem",
        "https://127.0.0.1/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com:99999/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com:abc/SimpleNotificationService-x.pem",
        "https://[sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
    ],
)
def test_a_certificate_off_the_sns_hosts_is_never_fetched(cert_url: str) -> None:
    signer = SNSSigner(cert_url, key_size=1024)
    with pytest.raises(UntrustedSNSMessage, match="SigningCertURL"):
        verifier_for(signer).verify(signer.notification(DOC))
    assert signer.fetched == []


def test_china_regions_and_a_custom_host_pattern_are_allowed() -> None:
    china = SNSSigner("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem", key_size=1024)
    assert verifier_for(china).verify(china.notification(DOC)).type == "Notification"
    local = SNSSigner("https://sns.test.internal/cert.pem", key_size=1024)
    with pytest.raises(UntrustedSNSMessage, match="not an allowed SNS host"):
        verifier_for(local).verify(local.notification(DOC))
    assert verifier_for(local, cert_host_pattern=r"sns\.test\.internal").verify(local.notification(DOC))


def test_a_subscribe_url_off_the_sns_hosts_is_rejected(signer: SNSSigner) -> None:
    body = signer.confirmation(subscribe_url="https://evil.example/?Action=ConfirmSubscription")
    with pytest.raises(UntrustedSNSMessage, match="SubscribeURL host"):
        verifier_for(signer).verify(body)


def test_a_topic_outside_the_allow_list_is_rejected(signer: SNSSigner) -> None:
    body = signer.notification(DOC, topic_arn="arn:aws:sns:us-east-1:999999999999:someone-else")
    with pytest.raises(UntrustedSNSMessage, match="not in the allow-list"):
        verifier_for(signer).verify(body)
    with pytest.raises(UntrustedSNSMessage, match="not in the allow-list"):
        verifier_for(signer).verify(signer.confirmation(topic_arn="arn:aws:sns:us-east-1:999999999999:x"))
    assert verifier_for(signer, topic_arns=None).verify(body).topic_arn.endswith(":someone-else")


def test_an_old_or_future_message_is_rejected(signer: SNSSigner) -> None:
    now = datetime.now(UTC)
    with pytest.raises(UntrustedSNSMessage, match="older than 1:00:00"):
        verifier_for(signer).verify(signer.notification(DOC, timestamp=now - timedelta(hours=1, seconds=5)))
    with pytest.raises(UntrustedSNSMessage, match="in the future"):
        verifier_for(signer).verify(signer.notification(DOC, timestamp=now + timedelta(hours=1)))
    ten_minutes_old = signer.notification(DOC, timestamp=now - timedelta(minutes=10))
    assert verifier_for(signer).verify(ten_minutes_old)
    with pytest.raises(UntrustedSNSMessage, match="older than"):
        verifier_for(signer, max_age_s=300).verify(ten_minutes_old)
    later = lambda: now + timedelta(hours=2)  # the injected clock is the only "now"
    with pytest.raises(UntrustedSNSMessage, match="older than"):
        verifier_for(signer, now=later).verify(signer.notification(DOC, timestamp=now))


def test_a_certificate_outside_its_validity_is_rejected(signer: SNSSigner) -> None:
    much_later = datetime.now(UTC) + timedelta(days=60)
    body = signer.notification(DOC, timestamp=much_later)
    with pytest.raises(UntrustedSNSMessage, match="is not valid now"):
        verifier_for(signer, now=lambda: much_later).verify(body)


def test_unsupported_signature_version_and_bad_base64_are_rejected(signer: SNSSigner) -> None:
    body = signer.notification(DOC)
    with pytest.raises(UntrustedSNSMessage, match="SignatureVersion '3' is not supported"):
        verifier_for(signer).verify(dict(body, SignatureVersion="3"))
    with pytest.raises(UntrustedSNSMessage, match="not base64"):
        verifier_for(signer).verify(dict(body, Signature="not base64!"))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"Type": "Surprise"}).encode(), "Type 'Surprise' is not an SNS message type"),
        (json.dumps({"Type": "Notification", "Message": "m"}).encode(), "MessageId is missing"),
        (json.dumps({"Type": "Notification", "Message": 1}).encode(), "Message must be a string"),
    ],
)
def test_a_malformed_message_is_a_400_naming_the_field(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidSNSMessage, match=reason) as caught:
        SNSVerifier().verify(body)
    assert type(caught.value) is InvalidSNSMessage and caught.value.status == 400


def test_a_missing_timestamp_or_signature_field_is_malformed(signer: SNSSigner) -> None:
    body = signer.notification(DOC)
    for name in ("Signature", "SigningCertURL", "SignatureVersion"):
        with pytest.raises(InvalidSNSMessage, match=f"{name} is missing"):
            verifier_for(signer).verify({k: v for k, v in body.items() if k != name})
    with pytest.raises(InvalidSNSMessage, match="not an ISO 8601 time"):
        verifier_for(signer).verify(dict(body, Timestamp="yesterday"))


def test_certificates_are_fetched_once_and_failures_are_retryable(signer: SNSSigner) -> None:
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return signer.pem

    verifier = SNSVerifier([TOPIC_ARN], fetch_certificate=fetch)
    for _ in range(3):
        verifier.verify(signer.notification(DOC))
    assert fetched == [CERT_URL]

    def unreachable(url: str) -> bytes:
        raise OSError("connection refused")

    with pytest.raises(CertificateUnavailable, match="connection refused") as caught:
        SNSVerifier([TOPIC_ARN], fetch_certificate=unreachable).verify(signer.notification(DOC))
    assert caught.value.status == 503
    with pytest.raises(UntrustedSNSMessage, match="did not return a PEM certificate"):
        SNSVerifier([TOPIC_ARN], fetch_certificate=lambda url: b"<html>").verify(signer.notification(DOC))


# The receiver's logic without HTTP (tests/acceptance/test_sns_receiver.py drives it over HTTP).


def receiver_for(signer: SNSSigner, confirm: Callable[[str], object] | None = None) -> tuple[SNSReceiver, list[Event]]:
    router, seen = Router(), list[Event]()
    router.default(seen.append)
    return SNSReceiver(router, verifier_for(signer), confirm or (lambda url: None)), seen


def test_receiver_answers_by_outcome(signer: SNSSigner) -> None:
    receiver, seen = receiver_for(signer)
    body = json.dumps(signer.notification(DOC)).encode()
    assert receiver.handle(body, "Notification").status == 200
    assert receiver.handle(body, None).text == "handled 0, duplicates 2"
    assert [event.event_type for event in seen] == ["AssignmentSubmitted", "HITReviewable"]
    mismatch = receiver.handle(json.dumps(signer.notification(DOC)).encode(), "SubscriptionConfirmation")
    assert mismatch.status == 400 and "does not match Type 'Notification'" in mismatch.text
    not_a_document = receiver.handle(json.dumps(signer.notification("hello")).encode(), "Notification")
    assert not_a_document.status == 400 and not_a_document.text.startswith("MalformedNotification")
    assert receiver.handle(b"{}", None).status == 400
    unsubscribed = signer.confirmation(message_type="UnsubscribeConfirmation")
    assert receiver.handle(json.dumps(unsubscribed).encode(), "UnsubscribeConfirmation").status == 200


def test_receiver_confirms_only_verified_subscriptions(signer: SNSSigner) -> None:
    confirmed: list[str] = []
    receiver, _ = receiver_for(signer, confirmed.append)
    good = signer.confirmation()
    forged = dict(signer.confirmation(), SubscribeURL="https://sns.us-east-1.amazonaws.com/?Action=Other")
    assert receiver.handle(json.dumps(forged).encode(), "SubscriptionConfirmation").status == 403
    assert receiver.handle(json.dumps(good).encode(), "SubscriptionConfirmation").status == 200
    assert confirmed == [good["SubscribeURL"]]

    def down(url: str) -> None:
        raise OSError("network down")

    failing, _ = receiver_for(signer, down)
    assert failing.handle(json.dumps(good).encode(), "SubscriptionConfirmation").status == 502


def test_receiver_refuses_another_customers_document_without_handling_it(signer: SNSSigner) -> None:
    router, seen = Router(customer_id="A2SOMEONEELSE"), list[Event]()
    router.default(seen.append)
    receiver = SNSReceiver(router, verifier_for(signer), lambda url: None)
    reply = receiver.handle(json.dumps(signer.notification(DOC)).encode(), "Notification")
    assert reply.status == 403 and reply.text.startswith("ForeignCustomer: document doc-1: CustomerId 'A1REQUESTER'")
    assert seen == []


def test_a_body_nested_too_deeply_is_an_invalid_message_not_a_crash(signer: SNSSigner) -> None:
    with pytest.raises(InvalidSNSMessage, match="nests too deeply"):
        verifier_for(signer).verify("[" * 100_000 + "]" * 100_000)


def test_a_subscribe_url_that_is_not_a_url_is_rejected_not_a_crash(signer: SNSSigner) -> None:
    body = signer.confirmation(subscribe_url="https://sns.us-east-1.amazonaws.com:70000/?Action=ConfirmSubscription")
    with pytest.raises(UntrustedSNSMessage, match=r"SubscribeURL .* is not a URL"):
        verifier_for(signer).verify(body)


def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(signer: SNSSigner) -> None:
    router = Router()
    router.default(lambda event: None)
    app = sns_receiver(router, verifier_for(signer))
    received, answered = [], []

    async def receive() -> dict[str, Any]:  # 64 MiB offered in 1 MiB chunks, no Content-Length
        received.append(1)
        return {"type": "http.request", "body": b" " * (1024 * 1024), "more_body": len(received) < 64}

    async def send(message: dict[str, Any]) -> None:
        answered.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    assert answered[0]["status"] == 413
    assert len(received) <= 2  # reading stopped just past the 1 MiB limit

    client = TestClient(app)
    declared = client.post("/", content=b"{}", headers={"content-length": str(MAX_BODY_BYTES + 1)})
    assert declared.status_code == 413
    body = json.dumps(signer.notification(DOC)).encode()
    assert client.post("/", content=body, headers={"x-amz-sns-message-type": "Notification"}).status_code == 200
