"""The dispatcher's own SendMessageBatch request: what boto3 would send, answered and failing as boto3's would."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from openturk.notify.local_aws import LocalAWS
from openturk.notify.message import EventRecord, document
from openturk.notify.transports.aws import AwsClients, AwsTarget, SQSTransport
from openturk.notify.transports.base import Outgoing, describe
from openturk.notify.transports.sqs_direct import DirectSQS
from tests.support.queues import sqs_client


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    local = LocalAWS().start()
    try:
        yield local
    finally:
        local.stop()


def _outgoing(message_id: int, queue_url: str, hit_id: str) -> Outgoing:
    body = document(f"doc{message_id:029d}", "2014-08-15", "C1", [EventRecord(1, "HITCreated", 0, "T1", hit_id, None)])
    return Outgoing(message_id, f"doc{message_id:029d}", "SQS", queue_url, body, "HITCreated", "T1")


def test_the_transport_sends_without_boto3s_call_and_the_queue_gets_what_boto3_would_have_sent(
    aws: LocalAWS, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = sqs_client(aws.url)
    plain = sqs.create_queue(QueueName="direct-plain")["QueueUrl"]
    fifo = sqs.create_queue(QueueName="direct.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    transport = SQSTransport(AwsClients(AwsTarget(aws.url, "k", "s")))
    client = transport.clients.client("sqs", "us-east-1")

    def refuse(**_: Any) -> None:
        raise AssertionError("boto3's send_message_batch was called")

    monkeypatch.setattr(client, "send_message_batch", refuse)
    batch = [_outgoing(1, plain, "H1"), _outgoing(2, plain, "H2"), _outgoing(3, fifo, "H3")]
    assert transport.send(batch) == [None, None, None]

    got = sqs.receive_message(QueueUrl=plain, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in got) == sorted([batch[0].body, batch[1].body])
    assert json.loads(got[0]["MessageAttributes"]["EventTypes"]["StringValue"]) == ["HITCreated"]
    assert got[0]["MessageAttributes"]["HITTypeId"]["DataType"] == "String.Array"
    [in_order] = sqs.receive_message(QueueUrl=fifo, AttributeNames=["All"])["Messages"]
    assert in_order["Body"] == batch[2].body
    assert in_order["Attributes"]["MessageGroupId"] == "H3"
    assert in_order["Attributes"]["MessageDeduplicationId"] == batch[2].doc_id


def test_an_error_answer_reads_as_boto3s_in_the_attempt_log(aws: LocalAWS) -> None:
    missing = f"{aws.url}/123456789012/no-such-queue"
    with pytest.raises(ClientError) as by_boto3:
        sqs_client(aws.url).send_message_batch(QueueUrl=missing, Entries=[{"Id": "0", "MessageBody": "x"}])
    clients = AwsClients(AwsTarget(aws.url, "k", "s"))
    with pytest.raises(ClientError) as direct:
        DirectSQS(clients.session).send_message_batch(aws.url, "us-east-1", missing, [{"Id": "0", "MessageBody": "x"}])
    assert describe(direct.value) == describe(by_boto3.value)
    transport = SQSTransport(clients)
    assert transport.send([_outgoing(1, missing, "H1")]) == [describe(by_boto3.value)]


def test_an_endpoint_that_is_not_there_fails_the_send_without_raising() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{placeholder.getsockname()[1]}"  # bound, never listening: refused
        transport = SQSTransport(AwsClients(AwsTarget(url, "k", "s")))
        [error] = transport.send([_outgoing(1, f"{url}/123456789012/q", "H1")])
    assert error is not None and "Connection refused" in error


class _ClosesIdleConnections:
    """An HTTP endpoint that answers each request well, then closes the connection without saying so."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        for _ in range(10):  # bounded: the test makes a few requests
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += connection.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(
                    next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
                )
                while len(body) < length:
                    body += connection.recv(65536)
                answer = json.dumps({"Successful": [{"Id": "0"}], "Failed": []}).encode()
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                    + f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )

    def close(self) -> None:
        self.listener.close()


def test_a_kept_alive_connection_the_endpoint_closed_is_replaced_and_the_send_goes_through() -> None:
    endpoint = _ClosesIdleConnections()
    try:
        direct = DirectSQS(AwsClients(AwsTarget(endpoint.url, "k", "s")).session)
        for _ in range(3):
            answer = direct.send_message_batch(endpoint.url, "us-east-1", f"{endpoint.url}/1/q", [{"Id": "0"}])
            assert answer["Successful"] == [{"Id": "0"}]
        assert endpoint.connections == 3
    finally:
        endpoint.close()


def test_a_proxy_for_the_endpoint_leaves_the_send_to_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    session = AwsClients(AwsTarget(None, "k", "s")).session
    assert DirectSQS(session).usable("https://sqs.eu-west-1.amazonaws.com")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert not DirectSQS(session).usable("https://sqs.eu-west-1.amazonaws.com")
    monkeypatch.setenv("NO_PROXY", "sqs.eu-west-1.amazonaws.com")
    assert DirectSQS(session).usable("https://sqs.eu-west-1.amazonaws.com")


def test_certificates_are_checked_against_the_ca_bundle_botocore_would_use(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    loaded: list[Any] = []
    real = ssl.create_default_context

    def recording(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        loaded.append(kwargs.get("cafile"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", recording)
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    monkeypatch.setenv("AWS_CA_BUNDLE", bundle)
    DirectSQS(AwsClients(AwsTarget(None, "k", "s")).session)._tls_context()
    monkeypatch.delenv("AWS_CA_BUNDLE")
    from botocore.httpsession import get_cert_path

    DirectSQS(AwsClients(AwsTarget(None, "k", "s")).session)._tls_context()
    assert loaded == [bundle, get_cert_path(True)]
