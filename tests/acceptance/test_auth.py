"""SigV4 verification, requester and worker credentials, and what a server without flags exposes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from openturk.testing import ServerProcess, Worker
from tests.conftest import cli_keys, hit_params


@pytest.fixture(scope="module")
def sigv4_server(aws_args: list[str]) -> Iterator[ServerProcess]:
    with ServerProcess(auth="sigv4", virtual_clock=False, extra_args=aws_args) as running:
        yield running


@pytest.fixture(scope="module")
def keys(sigv4_server: ServerProcess) -> dict[str, str]:
    return cli_keys(sigv4_server.db_url, "requesters", "create", "lab-one")


def test_signed_requests_with_the_right_secret_pass(sigv4_server: ServerProcess, keys: dict[str, str]) -> None:
    client = sigv4_server.client(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])
    assert client.get_account_balance()["AvailableBalance"] == "10000.00"
    assert keys["CustomerId"].startswith("A")


def test_wrong_secret_and_unknown_key_are_refused(sigv4_server: ServerProcess, keys: dict[str, str]) -> None:
    bad = sigv4_server.client(keys["AWS_ACCESS_KEY_ID"], "not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        bad.get_account_balance()
    assert excinfo.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = sigv4_server.client("AKIAUNKNOWNKEY000000", "whatever")
    with pytest.raises(ClientError) as excinfo:
        unknown.get_account_balance()
    assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
    unsigned = httpx.post(
        sigv4_server.base_url + "/",
        content=b"{}",
        headers={
            "X-Amz-Target": "MTurkRequesterServiceV20170117.GetAccountBalance",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


def test_signature_made_for_mturks_hostname_is_accepted(sigv4_server: ServerProcess, keys: dict[str, str]) -> None:
    """A client hard-coded to MTurk's endpoint reaches us through a proxy with its Host rewritten."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = "https://mturk-requester-sandbox.us-east-1.amazonaws.com/"
    request = AWSRequest(
        "POST",
        url,
        data=b"{}",
        headers={
            "X-Amz-Target": "MTurkRequesterServiceV20170117.GetAccountBalance",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert botocore.session.get_session()  # the signer below is botocore's own
    SigV4Auth(
        Credentials(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"]), "mturk-requester", "us-east-1"
    ).add_auth(request)
    headers = dict(request.headers.items())
    response = httpx.post(sigv4_server.base_url + "/", content=b"{}", headers=headers)
    assert response.status_code == 200, response.text
    tampered = httpx.post(sigv4_server.base_url + "/", content=b'{"x": 1}', headers=headers)
    assert tampered.status_code == 403


def test_requesters_are_isolated_in_sigv4_mode(sigv4_server: ServerProcess, keys: dict[str, str]) -> None:
    other = cli_keys(sigv4_server.db_url, "requesters", "create", "lab-two")
    mine = sigv4_server.client(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])
    theirs = sigv4_server.client(other["AWS_ACCESS_KEY_ID"], other["AWS_SECRET_ACCESS_KEY"])
    hit = mine.create_hit(**hit_params())["HIT"]
    assert theirs.list_hits()["HITs"] == []
    with pytest.raises(theirs.exceptions.RequestError):
        theirs.get_hit(HITId=hit["HITId"])


def test_worker_api_needs_a_worker_token_in_sigv4_mode(sigv4_server: ServerProcess, keys: dict[str, str]) -> None:
    mine = sigv4_server.client(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])
    hit = mine.create_hit(**hit_params())["HIT"]
    anonymous = Worker(sigv4_server.base_url, "AANYBODY000001")
    assert anonymous.accept(hit["HITId"]).status_code == 401
    forged = Worker(sigv4_server.base_url, "AANYBODY000001", token="forged")
    assert forged.accept(hit["HITId"]).status_code == 401
    created = cli_keys(sigv4_server.db_url, "workers", "create", "alice")
    alice = Worker(sigv4_server.base_url, created["WorkerId"], token=created["Token"])
    impostor = Worker(sigv4_server.base_url, "AIMPOSTOR00001", token=created["Token"])
    assert impostor.accept(hit["HITId"]).status_code == 403
    assignment_id = alice.do(hit["HITId"])
    assert mine.get_assignment(AssignmentId=assignment_id)["Assignment"]["WorkerId"] == created["WorkerId"]


def test_clock_endpoint_exists_only_with_virtual_clock(sigv4_server: ServerProcess, server: ServerProcess) -> None:
    refused = httpx.post(sigv4_server.base_url + "/api/clock/advance", json={"Seconds": 5})
    assert refused.status_code == 404 and refused.json()["Error"] == "NotFound"
    assert httpx.post(server.base_url + "/api/clock/advance", json={"Seconds": -1}).status_code == 400
    assert httpx.post(server.base_url + "/api/clock/advance", json={"Seconds": "x"}).status_code == 400
    before = httpx.get(server.base_url + "/api/clock").json()["Now"]
    after = server.advance(10)["Now"]
    assert after - before >= 10


def test_health(server: ServerProcess) -> None:
    assert httpx.get(server.base_url + "/health").json()["status"] == "ok"


def test_protocol_errors_use_aws_generic_shapes(server: ServerProcess, mturk: Any) -> None:
    signed_headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDPROTOCOL/20261123/us-east-1/"
        "mturk-requester/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "Content-Type": "application/x-amz-json-1.1",
    }
    unknown = httpx.post(
        server.base_url + "/",
        content=b"{}",
        headers={**signed_headers, "X-Amz-Target": "MTurkRequesterServiceV20170117.NoSuchOp"},
    )
    assert unknown.status_code == 400 and unknown.json()["__type"] == "UnknownOperationException"
    malformed = httpx.post(
        server.base_url + "/",
        content=b"{not json",
        headers={**signed_headers, "X-Amz-Target": "MTurkRequesterServiceV20170117.ListHITs"},
    )
    assert malformed.status_code == 400 and malformed.json()["__type"] == "SerializationException"
    wrong_type = httpx.post(
        server.base_url + "/",
        content=b'{"MaxResults": "ten"}',
        headers={**signed_headers, "X-Amz-Target": "MTurkRequesterServiceV20170117.ListHITs"},
    )
    body = wrong_type.json()
    assert wrong_type.status_code == 400 and body["__type"] == "RequestError"
    assert "MaxResults" in body["Message"] and body["TurkErrorCode"]
    assert wrong_type.headers["x-amzn-RequestId"]
