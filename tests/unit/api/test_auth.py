"""SigV4 verification: the signature covers the body as received and the operation it names."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from openturk.api import auth
from openturk.errors import ProtocolError

SECRET = "s3cr3t"
CREDENTIALS = Credentials("AKIDUNITTEST", SECRET)
HOST = "127.0.0.1:8443"
TARGET = "MTurkRequesterServiceV20170117.GetAccountBalance"


def signed_by_botocore(body: bytes, **headers: str) -> dict[str, str]:
    """Headers of a request signed by botocore's own signer, lower-cased as the server sees them."""
    request = AWSRequest(
        "POST",
        f"http://{HOST}/",
        data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1", **headers},
    )
    SigV4Auth(CREDENTIALS, "mturk-requester", "us-east-1").add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()} | {"host": HOST}


def verify(headers: dict[str, str], body: bytes) -> None:
    signed = auth.parse_authorization(headers)
    auth.verify_signature(signed, SECRET, "POST", "/", headers, body)


def refusal(headers: dict[str, str], body: bytes) -> str:
    with pytest.raises(ProtocolError) as excinfo:
        verify(headers, body)
    assert excinfo.value.status == 403
    return excinfo.value.wire_type


def test_botocore_signature_verifies_and_another_body_does_not() -> None:
    headers = signed_by_botocore(b"{}")
    verify(headers, b"{}")
    assert refusal(headers, b'{"MaxResults": 1}') == "InvalidSignatureException"


def test_a_signed_content_hash_cannot_stand_for_another_body() -> None:
    """The old verifier let the signed X-Amz-Content-SHA256 stand for the body: any body replayed."""
    body = b"{}"
    headers = signed_by_botocore(body, **{"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    verify(headers, body)  # the JS SDK sends the true hash, signed: still accepted
    assert refusal(headers, b'{"Reward": "9999.00"}') == "InvalidSignatureException"


def test_unsigned_payload_is_refused() -> None:
    body = b"{}"
    headers = signed_by_botocore(body, **{"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert refusal(headers, body) == "InvalidSignatureException"


@pytest.mark.parametrize("header", ["host", "x-amz-date", "x-amz-target"])
def test_required_headers_must_be_signed(header: str) -> None:
    """A signature that leaves X-Amz-Target out would let a captured request run another operation."""
    amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    names = [name for name in ("host", "x-amz-date", "x-amz-target") if name != header]
    signer = SigV4Auth(CREDENTIALS, "mturk-requester", "us-east-1")
    values = {"host": HOST, "x-amz-date": amz_date, "x-amz-target": TARGET}
    only = AWSRequest("POST", f"http://{HOST}/", data=b"{}", headers={n: values[n] for n in names})
    only.context["timestamp"] = amz_date
    signature = signer.signature(signer.string_to_sign(only, signer.canonical_request(only)), only)
    scope = f"{amz_date[:8]}/us-east-1/mturk-requester/aws4_request"
    headers = {
        **values,
        "authorization": f"AWS4-HMAC-SHA256 Credential=AKIDUNITTEST/{scope}, "
        f"SignedHeaders={';'.join(sorted(names))}, Signature={signature}",
    }
    with pytest.raises(ProtocolError) as excinfo:
        verify(headers, b"{}")
    assert excinfo.value.wire_type == "InvalidSignatureException"
    assert header in excinfo.value.message


def test_hand_rolled_signature_verifies() -> None:
    """SigV4 written out by hand, as AWS's documentation example (and oTree-era scripts) do it."""

    def sign(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    body = b'{"MaxResults": 10}'
    now = datetime.now(UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    signed_names = "content-type;host;x-amz-date;x-amz-target"
    canonical_headers = (
        f"content-type:application/x-amz-json-1.1\nhost:{HOST}\nx-amz-date:{amz_date}\nx-amz-target:{TARGET}\n"
    )
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical = f"POST\n/\n\n{canonical_headers}\n{signed_names}\n{payload_hash}"
    scope = f"{day}/us-east-1/mturk-requester/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = sign(sign(sign(sign(f"AWS4{SECRET}".encode(), day), "us-east-1"), "mturk-requester"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "host": HOST,
        "x-amz-date": amz_date,
        "x-amz-target": TARGET,
        "authorization": f"AWS4-HMAC-SHA256 Credential=AKIDUNITTEST/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature}",
    }
    verify(headers, body)
    assert refusal(headers, b'{"MaxResults": 100}') == "InvalidSignatureException"
