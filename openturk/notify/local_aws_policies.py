"""Destination policies on the local AWS: a send a queue's or topic's policy denies is refused, as
SQS and SNS refuse it.

moto stores a queue's ``Policy`` and a topic's and never reads them, so against the local AWS a
policy that blocks openturk's sender let every notification through, SendTestEventNotification
succeeded, and the mistake showed only once the queue moved to AWS. After ``install``, every
SendMessage, SendMessageBatch, Publish and PublishBatch call is read against its destination's
policy by ``openturk.notify.policy.check_policy``, as sent by the local account's sender
(``policy.DEFAULT_SENDER_ARN``, the one ``openturk destinations`` checks for) over HTTPS; one that an
explicit Deny applies to (``sender-denied``) is refused with SQS's ``AccessDenied`` or SNS's
``AuthorizationError``, and nothing is sent. Every caller of the local AWS is that account's
(moto's one account), so no Allow is needed: the account's own IAM would decide, and the local AWS
has none. Conditions only AWS can decide (``aws:SourceIp``...) do not refuse.

Not checked: SNS's own deliveries to a subscribed queue (their principal is SNS, the topic their
source, which a policy allowing only openturk's sender must still let in) and every other call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from openturk.notify.policy import DEFAULT_SENDER_ARN, Kind, check_policy


def install() -> None:
    """Patch moto's SQS and SNS request handlers in this process."""
    from moto.sns.responses import SNSResponse
    from moto.sqs.responses import SQSResponse

    def sqs_checked(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def checked(self: Any) -> Any:
            queue = _queue(self)
            if queue is not None:
                _refuse_if_denied(queue.policy, queue.queue_arn, "SQS")
            return handler(self)

        return checked

    def sns_checked(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def checked(self: Any) -> Any:
            arn = self._get_param("TopicArn") or self._get_param("TargetArn")
            topic = self.backend.topics.get(arn) if arn else None
            if topic is not None:
                _refuse_if_denied(topic.policy, topic.arn, "SNS")
            return handler(self)

        return checked

    SQSResponse.send_message = sqs_checked(SQSResponse.send_message)  # type: ignore[method-assign,assignment]
    SQSResponse.send_message_batch = sqs_checked(SQSResponse.send_message_batch)  # type: ignore[method-assign,assignment]
    SNSResponse.publish = sns_checked(SNSResponse.publish)  # type: ignore[method-assign,assignment]
    SNSResponse.publish_batch = sns_checked(SNSResponse.publish_batch)  # type: ignore[method-assign,assignment]


def _queue(response: Any) -> Any:
    """The queue a request names, or None (moto's own handler then answers that it does not exist)."""
    from moto.sqs.exceptions import QueueDoesNotExist

    try:
        return response.sqs_backend.get_queue(response._get_queue_name())
    except QueueDoesNotExist:
        return None


def _refuse_if_denied(policy_text: str | None, resource_arn: str, kind: Kind) -> None:
    if not policy_text:
        return
    try:
        policy = json.loads(policy_text)
    except ValueError:
        return  # SQS and SNS refuse such a policy when it is set; moto kept it: it decides nothing
    denied = [f for f in check_policy(policy, resource_arn, DEFAULT_SENDER_ARN, kind) if f.code == "sender-denied"]
    if denied:
        raise _denied(kind, resource_arn, denied[0].message)


def _denied(kind: Kind, resource_arn: str, reason: str) -> Exception:
    action = "sqs:SendMessage" if kind == "SQS" else "SNS:Publish"
    return _refusal(kind)(
        f"User: {DEFAULT_SENDER_ARN} is not authorized to perform: {action} on resource: {resource_arn} "
        f"with an explicit deny in a resource-based policy ({reason})"
    )


@cache
def _refusal(kind: Kind) -> type[Exception]:
    """The error SQS (``AccessDenied``) or SNS (``AuthorizationError``) answers; moto takes its HTTP
    status from the service's model (SNS's shape says 403; SQS's model has none, so 400)."""
    from moto.core.exceptions import ServiceException

    class Refused(ServiceException):
        code = "AccessDenied" if kind == "SQS" else "AuthorizationError"

    return Refused
