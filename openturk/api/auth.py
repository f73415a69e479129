"""Who is calling: AWS Signature Version 4, in two modes.

``open``: any SigV4-shaped request is accepted and its access key id names the requester (created
on first use, like LocalStack's accounts). ``sigv4``: the signature is recomputed with the stored
secret and must match. The body's hash is computed here, never taken from the client (a
``X-Amz-Content-SHA256`` that differs from it, ``UNSIGNED-PAYLOAD`` included, is refused), and
``host``, ``x-amz-date`` and ``x-amz-target`` must be among the signed headers, so neither the body
nor the operation of a captured request can be changed. Clients that hard-code MTurk's hostnames
reach openturk through a redirect or proxy, so the signature is checked against the Host it was
signed for: the received Host, ``X-Forwarded-Host``, or one of MTurk's own endpoint names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from openturk.errors import ProtocolError

AuthMode = Literal["open", "sigv4"]

MTURK_HOSTS = (
    "mturk-requester.us-east-1.amazonaws.com",
    "mturk-requester-sandbox.us-east-1.amazonaws.com",
)
MAX_CLOCK_SKEW_SECONDS = 15 * 60
# Without these signed, a captured request could be replayed to another host or operation.
REQUIRED_SIGNED_HEADERS = ("host", "x-amz-date", "x-amz-target")

_AUTH_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


@dataclass(frozen=True)
class SignedRequest:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(headers: Mapping[str, str]) -> SignedRequest:
    """Read the SigV4 Authorization header; raise the AWS error an SDK expects when it is absent."""
    header = headers.get("authorization")
    if not header:
        raise ProtocolError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    match = _AUTH_HEADER.match(header)
    if not match:
        raise ProtocolError(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' (AWS4-HMAC-SHA256).",
            403,
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise ProtocolError(
            "IncompleteSignatureException", "Credential must be KEY/DATE/REGION/SERVICE/aws4_request.", 403
        )
    return SignedRequest(
        access_key_id=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(match["signed"].lower().split(";")),
        signature=match["signature"],
    )


def verify_signature(
    signed: SignedRequest,
    secret: str,
    method: str,
    path_and_query: str,
    headers: Mapping[str, str],
    body: bytes,
) -> None:
    """Recompute the signature with ``secret`` over ``body`` as received; raise
    ``InvalidSignatureException`` on a mismatch, an unsigned required header or a claimed body hash
    that is not the body's (``IncompleteSignatureException`` when X-Amz-Date is unusable)."""
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ProtocolError("IncompleteSignatureException", "X-Amz-Date header is missing or malformed.", 403) from exc
    skew = abs((datetime.now(UTC) - signed_at).total_seconds())
    if skew > MAX_CLOCK_SKEW_SECONDS:
        raise ProtocolError("InvalidSignatureException", "Signature expired: the request time is too skewed.", 403)
    unsigned = [name for name in REQUIRED_SIGNED_HEADERS if name not in signed.signed_headers]
    if unsigned:
        raise ProtocolError("InvalidSignatureException", f"These headers must be signed: {', '.join(unsigned)}.", 403)
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and claimed.lower() != hashlib.sha256(body).hexdigest():
        raise ProtocolError(
            "InvalidSignatureException",
            "X-Amz-Content-SHA256 is not the SHA-256 of the request body (UNSIGNED-PAYLOAD is not accepted).",
            403,
        )
    candidates = [headers.get("host", ""), headers.get("x-forwarded-host", ""), *MTURK_HOSTS]
    for host in dict.fromkeys(h for h in candidates if h):
        expected = _signature(signed, secret, method, path_and_query, headers, body, host, amz_date)
        if hmac.compare_digest(expected, signed.signature):
            return
    raise ProtocolError(
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
        403,
    )


def _signature(
    signed: SignedRequest,
    secret: str,
    method: str,
    path_and_query: str,
    headers: Mapping[str, str],
    body: bytes,
    host: str,
    amz_date: str,
) -> str:
    signed_values = {name: headers.get(name, "") for name in signed.signed_headers}
    signed_values["host"] = host
    if "x-amz-content-sha256" in signed_values:
        # botocore's signer takes a present X-Amz-Content-SHA256 as the payload hash; only the
        # body's own hash (checked equal to the claimed one above) may stand there.
        signed_values["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    request = AWSRequest(method=method, url=f"http://{host}{path_and_query}", data=body, headers=signed_values)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(signed.access_key_id, secret), signed.service, signed.region)
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))
