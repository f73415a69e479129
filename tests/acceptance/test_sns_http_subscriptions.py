"""The local AWS confirms HTTP(S) SNS subscriptions as SNS does: a SubscriptionConfirmation POST,
PendingConfirmation until ConfirmSubscription with its token (or a GET of SubscribeURL), and no
notification before that."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from openturk.notify.local_aws import LocalAWS
from tests.support.listener import Listener


def _sns(local_aws: LocalAWS) -> Any:
    return boto3.client(
        "sns", endpoint_url=local_aws.url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _pending(sns: Any, arn: str) -> str:
    return str(sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"])


@pytest.mark.parametrize("confirm_by", ["api", "subscribe_url"])
def test_an_http_subscription_is_pending_until_confirmed_with_its_token(local_aws: LocalAWS, confirm_by: str) -> None:
    sns = _sns(local_aws)
    topic = sns.create_topic(Name=f"confirm-{uuid.uuid4().hex[:8]}")["TopicArn"]
    with Listener() as listener:
        arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=listener.url, ReturnSubscriptionArn=True)[
            "SubscriptionArn"
        ]
        [confirmation] = listener.wait_for(1)
        assert confirmation.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
        body = json.loads(confirmation.body)
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
