"""Receive MTurk notifications from SNS over HTTP(S), trusting only messages SNS really signed.

    verifier = SNSVerifier(topic_arns=["arn:aws:sns:us-east-1:123456789012:mturk"])
    app = sns_receiver(router, verifier)          # an ASGI app: uvicorn module:app

``SNSVerifier.verify`` checks what AWS documents for HTTP(S) subscribers: the SignatureVersion is
"1" (SHA1withRSA) or "2" (SHA256withRSA) over the canonical string of the message's type; the
SigningCertURL is https on an SNS host; the TopicArn is allowed; the Timestamp is recent. It
returns an ``SNSMessage`` or raises ``InvalidSNSMessage`` (400, malformed) or its subclass
``UntrustedSNSMessage`` (403, not provably from SNS), the message naming the reason, or
``CertificateUnavailable`` (503) when the certificate cannot be fetched now.

``sns_receiver`` answers SNS's POSTs: it confirms a subscription (GET SubscribeURL) only after the
confirmation verified, runs the router on a Notification and answers 200 when every event was
handled or was a duplicate, 500 when a handler failed so SNS retries the delivery.

DECISION: the Timestamp is when the message was published, not when this attempt was made, so a
delivery policy that retries for longer than ``max_age_s`` (default one hour) needs a larger value.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from openturk.consumer.events import MalformedNotification, documents_from
from openturk.consumer.router import ForeignCustomer, HandlerFailed, Outcome, Router

log = logging.getLogger("openturk.consumer.sns")

DEFAULT_CERT_HOST_PATTERN = r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
MAX_BODY_BYTES = 1024 * 1024  # an SNS message is at most 256 KiB; its envelope adds little

# The fields AWS signs, in AWS's order; Subject only when the message has one.
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}

CertificateFetcher = Callable[[str], bytes]
Confirmer = Callable[[str], object]


class SNSError(Exception):
    status = 500


class InvalidSNSMessage(SNSError):
    """The body is not a well-formed SNS message; the message names the field."""

    status = 400


class UntrustedSNSMessage(InvalidSNSMessage):
    """The message cannot be proved to come from SNS (signature, certificate, topic or age)."""

    status = 403


class CertificateUnavailable(SNSError):
    """The signing certificate could not be fetched now; the sender should retry."""

    status = 503


@dataclass(frozen=True)
class SNSMessage:
    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    subject: str | None = None
    subscribe_url: str | None = None
    token: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


def fetch_certificate_https(url: str, timeout_s: float = 5.0) -> bytes:
    """GET the PEM certificate (TLS-verified, no redirects): the default ``fetch_certificate``."""
    response = httpx.get(url, timeout=timeout_s, follow_redirects=False)
    response.raise_for_status()
    return response.content


def confirm_subscription_https(subscribe_url: str, timeout_s: float = 10.0) -> None:
    """GET SubscribeURL (TLS-verified, no redirects): the default ``confirm``."""
    httpx.get(subscribe_url, timeout=timeout_s, follow_redirects=False).raise_for_status()


def _parse(body: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSNSMessage(f"the body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidSNSMessage("the body nests too deeply to be an SNS message") from exc
    if not isinstance(raw, Mapping):
        raise InvalidSNSMessage("the body must be a JSON object")
    return raw


def _optional(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidSNSMessage(f"{name} must be a string")
    return value


def _required(raw: Mapping[str, Any], name: str) -> str:
    value = _optional(raw, name)
    if value is None:
        raise InvalidSNSMessage(f"{name} is missing")
    return value


def canonical_string(raw: Mapping[str, Any]) -> str:
    """What SNS signs: ``name\\nvalue\\n`` for each signed field of the message's type, in order."""
    names = _SIGNED_FIELDS.get(str(raw.get("Type")))
    if names is None:
        raise InvalidSNSMessage(f"Type {raw.get('Type')!r} is not an SNS message type")
    parts = []
    for name in names:
        value = _optional(raw, name) if name == "Subject" else _required(raw, name)
        if value is not None:
            parts.append(f"{name}\n{value}\n")
    return "".join(parts)


class SNSVerifier:
    """Verify SNS HTTP(S) messages. Thread-safe; certificates are cached in memory by URL.

    ``topic_arns`` None accepts any topic (the signature still has to verify): pass the list of
    topics you subscribed, or anyone can subscribe your endpoint to their own topic.
    ``fetch_certificate(url) -> PEM bytes`` and ``now() -> aware datetime`` are injectable.
    """

    def __init__(
        self,
        topic_arns: Iterable[str] | None = None,
        *,
        cert_host_pattern: str = DEFAULT_CERT_HOST_PATTERN,
        max_age_s: float = 3600.0,
        max_future_s: float = 300.0,
        fetch_certificate: CertificateFetcher = fetch_certificate_https,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_size: int = 64,
    ) -> None:
        self.topic_arns = frozenset(topic_arns) if topic_arns is not None else None
        self.cert_host = re.compile(cert_host_pattern)
        self.max_age = timedelta(seconds=max_age_s)
        self.max_future = timedelta(seconds=max_future_s)
        self.fetch_certificate = fetch_certificate
        self.now = now
        self.cache_size = cache_size
        self._certificates: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def verify(self, body: str | bytes | Mapping[str, Any]) -> SNSMessage:
        raw = _parse(body)
        canonical = canonical_string(raw)  # also checks Type and the signed fields
        version = _required(raw, "SignatureVersion")
        signature_b64 = _required(raw, "Signature")
        cert_url = _required(raw, "SigningCertURL")
        message = SNSMessage(
            type=_required(raw, "Type"),
            message_id=_required(raw, "MessageId"),
            topic_arn=_required(raw, "TopicArn"),
            message=_required(raw, "Message"),
            timestamp=self._timestamp(_required(raw, "Timestamp")),
            subject=_optional(raw, "Subject"),
            subscribe_url=_optional(raw, "SubscribeURL"),
            token=_optional(raw, "Token"),
            raw=raw,
        )
        if version not in _HASHES:
            raise UntrustedSNSMessage(f"SignatureVersion {version!r} is not supported (only '1' and '2')")
        if self.topic_arns is not None and message.topic_arn not in self.topic_arns:
            raise UntrustedSNSMessage(f"TopicArn {message.topic_arn!r} is not in the allow-list")
        self._check_sns_url(cert_url, "SigningCertURL")
        if message.subscribe_url is not None:
            self._check_sns_url(message.subscribe_url, "SubscribeURL")
        now = self.now()
        if message.timestamp < now - self.max_age:
            raise UntrustedSNSMessage(f"Timestamp {message.timestamp.isoformat()} is older than {self.max_age}")
        if message.timestamp > now + self.max_future:
            raise UntrustedSNSMessage(f"Timestamp {message.timestamp.isoformat()} is in the future")
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except binascii.Error as exc:
            raise UntrustedSNSMessage("Signature is not base64") from exc
        key = self._public_key(cert_url, now)
        try:
            key.verify(signature, canonical.encode("utf-8"), padding.PKCS1v15(), _HASHES[version]())
        except InvalidSignature as exc:
            raise UntrustedSNSMessage(
                f"the Signature does not match the {message.type} (altered, or not signed by {cert_url})"
            ) from exc
        return message

    def _timestamp(self, value: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidSNSMessage(f"Timestamp {value!r} is not an ISO 8601 time") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _check_sns_url(self, url: str, name: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port  # raises for a port out of range or not a number
        except ValueError as exc:
            raise UntrustedSNSMessage(f"{name} {url[:200]!r} is not a URL: {exc}") from exc
        if parts.scheme != "https":
            raise UntrustedSNSMessage(f"{name} {url!r} is not https")
        host = parts.hostname or ""
        if parts.username is not None or port not in (None, 443) or not self.cert_host.fullmatch(host):
            raise UntrustedSNSMessage(f"{name} host {parts.netloc!r} is not an allowed SNS host")

    def _public_key(self, url: str, now: datetime) -> rsa.RSAPublicKey:
        with self._lock:
            certificate = self._certificates.get(url)
        if certificate is None:
            try:
                pem = self.fetch_certificate(url)
            except Exception as exc:  # any transport failure is retryable, not the sender's fault
                raise CertificateUnavailable(f"could not fetch {url}: {exc}") from exc
            try:
                certificate = x509.load_pem_x509_certificate(pem)
            except ValueError as exc:
                raise UntrustedSNSMessage(f"SigningCertURL {url!r} did not return a PEM certificate") from exc
            with self._lock:
                if len(self._certificates) >= self.cache_size:
                    self._certificates.pop(next(iter(self._certificates)))
                self._certificates[url] = certificate
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise UntrustedSNSMessage(f"the certificate at {url!r} is not valid now")
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise UntrustedSNSMessage(f"the certificate at {url!r} does not hold an RSA key")
        return key


@dataclass(frozen=True)
class Reply:
    status: int
    text: str


class SNSReceiver:
    """The receiver's logic, apart from HTTP: ``handle(body, message_type_header) -> Reply``.

    Blocking (certificate fetch, confirmation, handlers): the ASGI endpoint runs it in a thread.
    """

    def __init__(self, router: Router, verifier: SNSVerifier, confirm: Confirmer = confirm_subscription_https) -> None:
        self.router, self.verifier, self.confirm = router, verifier, confirm

    def handle(self, body: bytes, message_type: str | None) -> Reply:
        try:
            message = self.verifier.verify(body)
        except SNSError as exc:
            log.warning("rejected an SNS message: %s", exc)
            return Reply(exc.status, f"{type(exc).__name__}: {exc}")
        if message_type is not None and message_type != message.type:
            return Reply(400, f"x-amz-sns-message-type {message_type!r} does not match Type {message.type!r}")
        if message.type == "SubscriptionConfirmation":
            return self._confirm(message)
        if message.type == "UnsubscribeConfirmation":
            log.info("unsubscribed from %s", message.topic_arn)
            return Reply(200, "unsubscribed")
        return self._notify(message)

    def _confirm(self, message: SNSMessage) -> Reply:
        try:
            self.confirm(_required(message.raw, "SubscribeURL"))
        except Exception as exc:  # noqa: BLE001 - the confirmation GET failed: SNS may send it again
            log.error("could not confirm the subscription to %s: %s", message.topic_arn, exc)
            return Reply(502, "could not confirm the subscription")
        log.info("confirmed the subscription to %s", message.topic_arn)
        return Reply(200, "subscription confirmed")

    def _notify(self, message: SNSMessage) -> Reply:
        try:
            documents = documents_from(message.message)
        except MalformedNotification as exc:
            # Authentic but not a notification document: retrying cannot help.
            log.error("SNS message %s is not a notification document: %s", message.message_id, exc)
            return Reply(400, f"MalformedNotification: {exc}")
        total, failures = Outcome(), list[str]()
        for document in documents:
            try:
                outcome = self.router.handle_document(document)
            except ForeignCustomer as exc:
                # Another requester's document: not ours to handle, and a retry cannot change that.
                return Reply(403, f"ForeignCustomer: {exc}")
            except HandlerFailed as exc:
                failures.append(str(exc))
                continue
            total.handled += outcome.handled
            total.skipped += outcome.skipped
            total.unrouted += outcome.unrouted
        if failures:
            log.error("SNS message %s failed: %s", message.message_id, "; ".join(failures))
            return Reply(500, "a handler failed; deliver again")
        return Reply(200, f"handled {len(total.handled)}, duplicates {len(total.skipped)}")

    async def endpoint(self, request: Request) -> Response:
        body = await _body_at_most(request, MAX_BODY_BYTES)
        if body is None:
            return PlainTextResponse("the message is too large", status_code=413)
        reply = await run_in_threadpool(self.handle, body, request.headers.get("x-amz-sns-message-type"))
        return PlainTextResponse(reply.text, status_code=reply.status)


async def _body_at_most(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it is known to exceed ``limit`` bytes: from its
    Content-Length before reading, else while it streams in (never more than ``limit`` held)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def sns_receiver(
    router: Router,
    verifier: SNSVerifier,
    *,
    confirm: Confirmer = confirm_subscription_https,
    path: str = "/",
) -> Starlette:
    """An ASGI app answering SNS HTTP(S) POSTs at ``path`` (mount it in your own app if you like).

    Any content type is accepted (SNS sends ``text/plain``); the body is the JSON message.
    """
    receiver = SNSReceiver(router, verifier, confirm)
    return Starlette(routes=[Route(path, receiver.endpoint, methods=["POST"])])


__all__ = [
    "CertificateUnavailable",
    "InvalidSNSMessage",
    "SNSMessage",
    "SNSReceiver",
    "SNSVerifier",
    "UntrustedSNSMessage",
    "canonical_string",
    "sns_receiver",
]
