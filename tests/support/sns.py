"""Sign SNS messages the way SNS does, with a key and self-signed certificate made here.

The canonical string is written out independently of ``openturk.consumer.sns`` (from AWS's
"Verifying the signatures of Amazon SNS messages"), so a bug there cannot hide behind the same bug
here. No key material is committed: every ``SNSSigner`` makes its own.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:mturk-events"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
SUBSCRIBE_URL = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}&Token={token}"

_NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def sns_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class SNSSigner:
    """One signing identity: ``sign`` adds Signature/SignatureVersion/SigningCertURL to a message."""

    def __init__(self, cert_url: str = CERT_URL, *, key_size: int = 2048) -> None:
        self.cert_url = cert_url
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self.fetched: list[str] = []

    def fetch(self, url: str) -> bytes:
        """A ``fetch_certificate`` that serves only this signer's certificate URL."""
        self.fetched.append(url)
        if url != self.cert_url:
            raise LookupError(f"no certificate at {url}")
        return self.pem

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        signed = dict(message, SignatureVersion=version)
        signed.setdefault("SigningCertURL", self.cert_url)
        names = _NOTIFICATION if signed["Type"] == "Notification" else _CONFIRMATION
        canonical = "".join(f"{name}\n{signed[name]}\n" for name in names if signed.get(name) is not None)
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(canonical.encode("utf-8"), padding.PKCS1v15(), digest)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed

    def notification(
        self,
        message: str | dict[str, Any],
        *,
        topic_arn: str = TOPIC_ARN,
        subject: str | None = None,
        timestamp: datetime | None = None,
        version: str = "1",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic_arn,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": sns_time(timestamp or datetime.now(UTC)),
            "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:x",
        }
        if subject is not None:
            body["Subject"] = subject
        return self.sign(body, version)

    def confirmation(
        self,
        *,
        message_type: str = "SubscriptionConfirmation",
        topic_arn: str = TOPIC_ARN,
        subscribe_url: str | None = None,
        timestamp: datetime | None = None,
        version: str = "1",
    ) -> dict[str, Any]:
        token = uuid.uuid4().hex
        body = {
            "Type": message_type,
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic_arn,
            "Message": f"You have chosen to subscribe to the topic {topic_arn}.",
            "SubscribeURL": subscribe_url or SUBSCRIBE_URL.format(topic=topic_arn, token=token),
            "Timestamp": sns_time(timestamp or datetime.now(UTC)),
        }
        return self.sign(body, version)


def notification_document(doc_id: str, *event_types: str, hit_id: str = "HIT1") -> dict[str, Any]:
    """An MTurk notification document with one event per type."""
    return {
        "EventDocVersion": "2014-08-15",
        "EventDocId": doc_id,
        "CustomerId": "A1REQUESTER",
        "Events": [
            {
                "EventType": event_type,
                "EventTimestamp": "2026-01-02T03:04:05Z",
                "HITTypeId": "TYPE1",
                "HITId": hit_id,
                **({"AssignmentId": f"ASG{index}"} if event_type.startswith("Assignment") else {}),
            }
            for index, event_type in enumerate(event_types)
        ],
    }
