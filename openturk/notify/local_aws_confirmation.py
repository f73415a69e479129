"""SNS's HTTP(S) endpoints on the local AWS: the subscription handshake, which moto's server skips,
and notifications POSTed as SNS posts them, which moto's are not.

moto marks an http/https subscription confirmed the moment it is made and never sends a
``SubscriptionConfirmation``; its ``ConfirmSubscription`` ignores the token. Programs written for
SNS (Dallinger) subscribe, wait for the confirmation POST, call ``ConfirmSubscription`` with its
token, and poll ``GetSubscriptionAttributes`` until ``PendingConfirmation`` is ``"false"``. After
``install``, as SNS does:

- a new http/https subscription is ``PendingConfirmation: true``; a ``SubscriptionConfirmation``
  (``Token``, ``TopicArn``, ``SubscribeURL``) is POSTed to it from another thread, after the
  ``Subscribe`` answer, so a subscriber that confirms at once reaches an endpoint that is free;
- ``ConfirmSubscription`` (API call, or a GET of ``SubscribeURL``: ``route_subscribe_urls``) with
  that token confirms it and answers its ARN; another token is refused (``InvalidParameter``);
- notifications reach only confirmed subscriptions, after the ``Publish`` answer (one sending
  thread, in publishing order), with SNS's headers (``x-amz-sns-message-type``,
  ``-message-id``, ``-topic-arn``, ``-subscription-arn``); their ``UnsubscribeURL`` names the
  subscription and a GET of it on this endpoint unsubscribes, their ``MessageAttributes`` are the
  published ones, and their ``SigningCertURL`` is the certificate they were signed with (moto's
  key; Subject signed too, as SNS signs it), served by this endpoint (http, so verifiers that insist
  on an SNS host over https, as ``openturk.consumer.sns`` does, refuse them: only SNS can sign for
  SNS); a subscription with ``RawMessageDelivery`` gets the bare message, ``x-amz-sns-rawdelivery: true``;
- subscribing again while still pending sends the confirmation again; ``Subscribe`` answers
  ``pending confirmation`` for a pending subscription unless ``ReturnSubscriptionArn`` is true.

The confirmation itself is not signed.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

log = logging.getLogger("openturk.local_aws")

HTTP_PROTOCOLS = ("http", "https")
TOKEN_ATTRIBUTE = "_openturk_confirmation_token"
POST_TIMEOUT_S = 15.0
# Notifications to HTTP(S) subscribers leave here, one at a time in publishing order, after the
# Publish that made them answered (SNS's Publish does not wait for its subscribers either).
_NOTIFYING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sns-http")
_CERTIFICATE_PATH = re.compile(r"^/SimpleNotificationService-[^/]+\.pem\Z")
# What moto's server reads to route a request to SNS; a SubscribeURL carries no signature of its own.
SNS_SCOPE = (
    "AWS4-HMAC-SHA256 Credential=subscriber/20200101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0"
)


def install(base_url: str) -> None:
    """Patch moto's SNS in this process; ``base_url`` is where this endpoint answers (for SubscribeURL)."""
    from moto.sns import models, responses

    original_subscribe = models.SNSBackend.subscribe
    original_publish = models.Subscription.publish
    original_subscribe_answer = responses.SNSResponse.subscribe

    def subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
        known = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = original_subscribe(self, topic_arn, endpoint, protocol)
        if protocol not in HTTP_PROTOCOLS:
            return subscription
        if known is None:
            setattr(subscription, TOKEN_ATTRIBUTE, secrets.token_hex(64))
            subscription.attributes["PendingConfirmation"] = True
            subscription.attributes["ConfirmationWasAuthenticated"] = False
        elif not subscription.attributes.get("PendingConfirmation"):
            return subscription
        # New, or subscribed again while still pending (SNS's "request confirmation"): the confirmation
        # is (re)sent, so one lost while the endpoint was down can still be had.
        message = confirmation_message(base_url, topic_arn, getattr(subscription, TOKEN_ATTRIBUTE))
        threading.Thread(target=_post, args=(endpoint, message), name="sns-confirmation", daemon=True).start()
        return subscription

    def subscribe_answer(self: Any) -> Any:
        """SNS answers "pending confirmation" for a subscription still pending, unless asked for
        its ARN (ReturnSubscriptionArn)."""
        from moto.core.responses import ActionResult

        answer = original_subscribe_answer(self)
        result: Any = answer.result
        wanted = str(self._get_param("ReturnSubscriptionArn", "false")).lower() == "true"
        pending = any(
            s.arn == result["SubscriptionArn"] and s.attributes.get("PendingConfirmation")
            for s in self.backend.subscriptions.values()
        )
        if pending and not wanted:
            return ActionResult({"SubscriptionArn": "pending confirmation"})
        return answer

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol not in HTTP_PROTOCOLS:
            original_publish(
                self, message, message_id, subject, message_attributes, group_id, deduplication_id, message_structure
            )
            return
        if self.attributes.get("PendingConfirmation"):
            return  # SNS delivers nothing to an endpoint that has not confirmed
        # What moto's own HTTP branch does before its bare POST: the filter policy, the per-protocol message.
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        if str(self.attributes.get("RawMessageDelivery", "false")).lower() == "true":
            raw = {"Type": "Notification", "MessageId": message_id, "TopicArn": self.topic.arn, "Message": message}
            _NOTIFYING.submit(_post, self.endpoint, raw, self.arn, raw=True)
            return
        notification = self.get_post_data(message, message_id, subject, message_attributes=message_attributes)
        notification["UnsubscribeURL"] = unsubscribe_url(base_url, self.arn)
        notification["SigningCertURL"] = base_url.rstrip("/") + urlsplit(notification["SigningCertURL"]).path
        # moto signs without the Subject it then sends; SNS signs it when there is one.
        notification["Signature"] = _signature(self.private_key(), notification)
        _NOTIFYING.submit(_post, self.endpoint, notification, self.arn)

    def confirm_subscription(self: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.sns.exceptions import SNSInvalidParameter, SNSNotFoundError

        topic_arn, token = self._get_param("TopicArn"), self._get_param("Token")
        if topic_arn not in self.backend.topics:
            raise SNSNotFoundError("Topic does not exist")
        for subscription in self.backend.subscriptions.values():
            if subscription.topic.arn == topic_arn and getattr(subscription, TOKEN_ATTRIBUTE, None) == token:
                subscription.attributes["PendingConfirmation"] = False
                return ActionResult({"SubscriptionArn": subscription.arn})
        raise SNSInvalidParameter("Invalid parameter: Token")

    models.SNSBackend.subscribe = subscribe  # type: ignore[method-assign]
    responses.SNSResponse.subscribe = subscribe_answer  # type: ignore[method-assign]
    models.Subscription.publish = publish  # type: ignore[method-assign]
    responses.SNSResponse.confirm_subscription = confirm_subscription  # type: ignore[method-assign]


def route_subscribe_urls(app: Any) -> Any:
    """WSGI wrapper: an unsigned GET of a SubscribeURL, an UnsubscribeURL or a SigningCertURL reaches
    moto's SNS (which moto's server would not know to route: it picks the service from the request's
    signature)."""

    def routed(environ: dict[str, Any], start_response: Any) -> Any:
        query = environ.get("QUERY_STRING", "")
        if environ.get("REQUEST_METHOD") == "GET" and (
            "Action=ConfirmSubscription" in query
            or "Action=Unsubscribe" in query
            or _CERTIFICATE_PATH.match(environ.get("PATH_INFO", ""))
        ):
            environ.setdefault("HTTP_AUTHORIZATION", SNS_SCOPE)
        return app(environ, start_response)

    return routed


def confirmation_message(base_url: str, topic_arn: str, token: str) -> dict[str, str]:
    """The body SNS POSTs to a new HTTP(S) subscriber (AWS's documented fields, unsigned)."""
    query = urlencode({"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": token})
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": token,
        "TopicArn": topic_arn,
        "Message": f"You have chosen to subscribe to the topic {topic_arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": f"{base_url.rstrip('/')}/?{query}",
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": "1",
    }


def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    query = urlencode({"Action": "Unsubscribe", "SubscriptionArn": subscription_arn}, safe=":")  # as SNS writes it
    return f"{base_url.rstrip('/')}/?{query}"


def _signature(key: Any, notification: dict[str, Any]) -> str:
    """SNS's SignatureVersion 2 (SHA256 with RSA) over the notification's signed fields."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from openturk.consumer.sns import canonical_string

    signed = key.sign(canonical_string(notification).encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signed).decode()


def _post(endpoint: str, message: dict[str, Any], subscription_arn: str | None = None, *, raw: bool = False) -> None:
    """POST ``message`` as SNS does: its JSON as text/plain, its type, id and topic (and, for a
    notification, the subscription) in headers; with ``raw`` (RawMessageDelivery) the bare Message
    and ``x-amz-sns-rawdelivery: true``."""
    import requests

    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": message["Type"],
        "x-amz-sns-message-id": message["MessageId"],
        "x-amz-sns-topic-arn": message["TopicArn"],
    }
    if subscription_arn is not None:
        headers["x-amz-sns-subscription-arn"] = subscription_arn
    if raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    body = message["Message"].encode() if raw else json.dumps(message)
    try:
        requests.post(endpoint, data=body, headers=headers, timeout=POST_TIMEOUT_S)
    except requests.RequestException as exc:  # a confirmation not received leaves the subscription pending
        log.warning("%s to %s failed: %s", message["Type"], endpoint, exc)
