"""The local AWS confirms HTTP(S) SNS subscriptions as SNS does: a SubscriptionConfirmation POST,
PendingConfirmation until ConfirmSubscription with its token (or a GET of SubscribeURL), and no
notification before that."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openturk.notify.local_aws import LocalAWS
from tests.support.listener import Listener


def _sns(local_aws: LocalAWS) -> Any:
    return boto3.client(
        "sns", endpoint_url=local_aws.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _subscribe(sns: Any, topic: str, listener: Listener) -> tuple[str, dict[str, Any]]:
    """Subscribe ``listener`` over http: the subscription's ARN and the SubscriptionConfirmation it received."""
    arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=listener.url, ReturnSubscriptionArn=True)[
        "SubscriptionArn"
    ]
    [confirmation] = listener.wait_for(1)
    assert confirmation.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    return arn, json.loads(confirmation.body)


def _pending(sns: Any, arn: str) -> str:
    return str(sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"])


@pytest.mark.parametrize("confirm_by", ["api", "subscribe_url"])
def test_an_http_subscription_is_pending_until_confirmed_with_its_token(local_aws: LocalAWS, confirm_by: str) -> None:
    sns = _sns(local_aws)
    topic = sns.create_topic(Name=f"confirm-{uuid.uuid4().hex[:8]}")["TopicArn"]
    with Listener() as listener:
        arn, body = _subscribe(sns, topic, listener)
        assert body["Type"] == "SubscriptionConfirmation" and body["TopicArn"] == topic
        assert _pending(sns, arn) == "true"

        sns.publish(TopicArn=topic, Message="before confirmation")
        with pytest.raises(ClientError) as refused:
            sns.confirm_subscription(TopicArn=topic, Token="not-the-token")
        assert refused.value.response["Error"]["Code"] == "InvalidParameter"
        assert _pending(sns, arn) == "true"

        if confirm_by == "api":
            assert sns.confirm_subscription(TopicArn=topic, Token=body["Token"])["SubscriptionArn"] == arn
        else:
            assert httpx.get(body["SubscribeURL"], timeout=10).status_code == 200
        assert _pending(sns, arn) == "false"

        sns.publish(TopicArn=topic, Message="after confirmation")
        messages = [json.loads(request.body) for request in listener.wait_for(2)]
        assert [m.get("Message") for m in messages[1:]] == ["after confirmation"]


def test_a_notification_is_posted_as_sns_posts_it_and_its_unsubscribe_url_unsubscribes(local_aws: LocalAWS) -> None:
    sns = _sns(local_aws)
    topic = sns.create_topic(Name=f"notify-{uuid.uuid4().hex[:8]}")["TopicArn"]
    with Listener() as listener:
        arn, confirmation = _subscribe(sns, topic, listener)
        sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
        message_id = sns.publish(TopicArn=topic, Message="hello", Subject="greeting")["MessageId"]
        notification = listener.wait_for(2)[1]
        assert notification.headers["x-amz-sns-message-type"] == "Notification"
        assert notification.headers["x-amz-sns-message-id"] == message_id
        assert notification.headers["x-amz-sns-topic-arn"] == topic
        assert notification.headers["x-amz-sns-subscription-arn"] == arn
        body = json.loads(notification.body)
        assert (body["Type"], body["MessageId"], body["Message"], body["Subject"]) == (
            "Notification",
            message_id,
            "hello",
            "greeting",
        )
        certificate = httpx.get(body["SigningCertURL"], timeout=10)
        assert body["SigningCertURL"].startswith(local_aws.url) and b"BEGIN CERTIFICATE" in certificate.content
        # Signed as SNS signs (Subject included: moto left it out), by the certificate it names.
        key = x509.load_pem_x509_certificate(certificate.content).public_key()
        assert isinstance(key, rsa.RSAPublicKey) and body["SignatureVersion"] == "2"
        # SNS's documented string to sign for a Notification, written out here (not the code under test's).
        signed = "".join(
            f"{name}\n{body[name]}\n" for name in ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        )
        key.verify(base64.b64decode(body["Signature"]), signed.encode(), padding.PKCS1v15(), hashes.SHA256())

        assert arn in body["UnsubscribeURL"] and body["UnsubscribeURL"].startswith(local_aws.url)
        assert httpx.get(body["UnsubscribeURL"], timeout=10).status_code == 200
        listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert arn not in [subscription["SubscriptionArn"] for subscription in listed]
        # Another subscriber, confirmed: notifications leave one at a time in publishing order, so once it
        # has the next message, the unsubscribed endpoint would have had it too.
        with Listener() as other:
            sns.confirm_subscription(TopicArn=topic, Token=_subscribe(sns, topic, other)[1]["Token"])
            sns.publish(TopicArn=topic, Message="after unsubscribing")
            assert json.loads(other.wait_for(2)[1].body)["Message"] == "after unsubscribing"
        assert len(listener.received) == 2


def test_subscribing_again_while_pending_sends_the_confirmation_again(local_aws: LocalAWS) -> None:
    """A confirmation lost while the endpoint was down is not the end: SNS's "request confirmation"."""
    sns = _sns(local_aws)
    topic = sns.create_topic(Name=f"again-{uuid.uuid4().hex[:8]}")["TopicArn"]
    with Listener() as listener:
        arn, first = _subscribe(sns, topic, listener)
        # Without ReturnSubscriptionArn, SNS answers this for a subscription still pending.
        again = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=listener.url)["SubscriptionArn"]
        assert again == "pending confirmation"
        second = json.loads(listener.wait_for(2)[1].body)
        assert second["Type"] == "SubscriptionConfirmation" and second["Token"] == first["Token"]
        assert sns.confirm_subscription(TopicArn=topic, Token=second["Token"])["SubscriptionArn"] == arn
        confirmed = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=listener.url)["SubscriptionArn"]
        assert confirmed == arn  # confirmed: its ARN, and no third confirmation
        sns.publish(TopicArn=topic, Message="after")
        assert [json.loads(r.body)["Type"] for r in listener.wait_for(3)] == [
            "SubscriptionConfirmation",
            "SubscriptionConfirmation",
            "Notification",
        ]


def test_message_attributes_are_posted_and_raw_delivery_posts_the_bare_message(local_aws: LocalAWS) -> None:
    sns = _sns(local_aws)
    topic = sns.create_topic(Name=f"raw-{uuid.uuid4().hex[:8]}")["TopicArn"]
    attributes = {"EventTypes": {"DataType": "String.Array", "StringValue": '["HITExtended"]'}}
    with Listener() as enveloped, Listener() as raw:
        sns.confirm_subscription(TopicArn=topic, Token=_subscribe(sns, topic, enveloped)[1]["Token"])
        arn, confirmation = _subscribe(sns, topic, raw)
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue="true")
        sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"])
        sns.publish(TopicArn=topic, Message='{"Events": []}', MessageAttributes=attributes)
        body = json.loads(enveloped.wait_for(2)[1].body)
        assert body["MessageAttributes"] == {"EventTypes": {"Type": "String.Array", "Value": '["HITExtended"]'}}
        bare = raw.wait_for(2)[1]
        assert bare.body == b'{"Events": []}' and bare.headers["x-amz-sns-rawdelivery"] == "true"
        assert bare.headers["x-amz-sns-message-type"] == "Notification"
