"""Destination helpers and `openturk destinations` against a real SQS/SNS endpoint (moto's server)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from openturk import cli
from openturk.notify import destinations, policy
from openturk.notify.local_aws import LocalAWS
from tests.support.queues import sns_client, sqs_client

SENDER = policy.DEFAULT_SENDER_ARN
OPEN_TO_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def codes(findings: list[policy.Finding]) -> list[tuple[str, str]]:
    return [(finding.level, finding.code) for finding in findings]


def stored_queue_policy(sqs: Any, queue_url: str) -> tuple[str, dict[str, Any]]:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "Policy"])["Attributes"]
    return attributes["QueueArn"], json.loads(attributes["Policy"])


# --- the helpers ------------------------------------------------------------------------------


def test_create_queue_stores_the_guidance_policy_and_checks_clean(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue_url = destinations.create_queue(sqs, unique("notify"), SENDER)
    queue_arn, stored = stored_queue_policy(sqs, queue_url)
    assert stored == policy.queue_policy(queue_arn, SENDER)
    assert destinations.check_queue(sqs, queue_url, SENDER) == []


def test_a_fifo_queue_deduplicates_by_the_id_openturk_sends(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue_url = destinations.create_queue(sqs, unique("notify") + ".fifo", SENDER, fifo=True)
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert (attributes["FifoQueue"], attributes["ContentBasedDeduplication"]) == ("true", "false")
    assert json.loads(attributes["Policy"]) == policy.queue_policy(attributes["QueueArn"], SENDER)
    assert destinations.check_queue(sqs, queue_url, SENDER) == []


def test_fifo_without_the_suffix_is_refused_before_anything_is_created(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    name = unique("notify")
    with pytest.raises(ValueError, match=r"\.fifo"):
        destinations.create_queue(sqs, name, SENDER, fifo=True)
    assert sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []


def test_creating_again_restores_a_loosened_policy(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    name = unique("notify")
    queue_url = destinations.create_queue(sqs, name, SENDER)
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(OPEN_TO_ALL)})
    assert destinations.create_queue(sqs, name, SENDER) == queue_url
    assert destinations.check_queue(sqs, queue_url, SENDER) == []


def test_create_topic_stores_the_guidance_policy_and_checks_clean(local_aws: LocalAWS) -> None:
    sns = sns_client(local_aws.url)
    for name in (unique("notify"), unique("notify") + ".fifo"):
        topic_arn = destinations.create_topic(sns, name, SENDER)
        attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
        assert json.loads(attributes["Policy"]) == policy.topic_policy(topic_arn, SENDER)
        assert attributes.get("FifoTopic", "false") == ("true" if name.endswith(".fifo") else "false")
        assert destinations.check_topic(sns, topic_arn, SENDER) == []


def test_a_queue_open_to_everyone_is_reported(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue_url = sqs.create_queue(QueueName=unique("open"))["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(OPEN_TO_ALL)})
    findings = destinations.check_queue(sqs, queue_url, SENDER)
    assert ("error", "public-access") in codes(findings)
    assert "sqs:*" in findings[0].message


def test_a_queue_for_someone_else_blocks_a_sender_from_another_account(local_aws: LocalAWS) -> None:
    sqs = sqs_client(local_aws.url)
    queue_url = destinations.create_queue(sqs, unique("mturk"), "arn:aws:iam::755651556756:user/MTurk-SQS")
    findings = destinations.check_queue(sqs, queue_url, "arn:aws:iam::111122223333:user/openturk")
    assert codes(findings) == [("error", "sender-not-allowed"), ("warning", "other-principals")]


def test_the_default_topic_policy_is_too_broad(local_aws: LocalAWS) -> None:
    sns = sns_client(local_aws.url)
    topic_arn = sns.create_topic(Name=unique("plain"))["TopicArn"]
    assert {"other-principals", "extra-actions"} <= {
        code for _, code in codes(destinations.check_topic(sns, topic_arn, SENDER))
    }
    sns.set_topic_attributes(
        TopicArn=topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SNS:Publish", "Resource": topic_arn}
                ],
            }
        ),
    )
    assert codes(destinations.check_topic(sns, topic_arn, SENDER))[0] == ("error", "public-access")


def test_a_missing_queue_or_topic_is_an_error_finding(local_aws: LocalAWS) -> None:
    sqs, sns = sqs_client(local_aws.url), sns_client(local_aws.url)
    queue_url = destinations.create_queue(sqs, unique("gone"), SENDER)
    sqs.delete_queue(QueueUrl=queue_url)
    assert codes(destinations.check_queue(sqs, queue_url, SENDER)) == [("error", "destination-missing")]
    topic_arn = f"arn:aws:sns:us-east-1:123456789012:{unique('never')}"
    assert codes(destinations.check_topic(sns, topic_arn, SENDER)) == [("error", "destination-missing")]


# --- `openturk destinations`, through the same register()/run() the main parser will use -------


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment naming no AWS identity, so the command must fall back to placeholder keys."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))


def openturk(*argv: str) -> int:
    """The real ``openturk`` entry point, in-process so capsys sees its output."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:  # argparse refuses bad input by exiting with 2
        return int(exit_.code or 0)


@pytest.mark.usefixtures("no_aws_credentials")
def test_the_command_creates_and_checks_a_queue(local_aws: LocalAWS, capsys: pytest.CaptureFixture[str]) -> None:
    endpoint = ["--aws-endpoint", local_aws.url]
    assert openturk("destinations", "create-queue", unique("cli"), *endpoint) == 0
    out = capsys.readouterr().out
    queue_url = out.split("QueueUrl", 1)[1].split()[0]
    assert '"aws:SecureTransport": "true"' in out and SENDER in out

    assert openturk("destinations", "check", queue_url, *endpoint) == 0
    assert capsys.readouterr().out.startswith("ok ")

    sqs = sqs_client(local_aws.url)
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(OPEN_TO_ALL)})
    assert openturk("destinations", "check", queue_url, *endpoint) == 1
    assert "public-access" in capsys.readouterr().out

    sqs.delete_queue(QueueUrl=queue_url)
    assert openturk("destinations", "check", queue_url, *endpoint) == 1
    assert "destination-missing" in capsys.readouterr().out


@pytest.mark.usefixtures("no_aws_credentials")
def test_the_command_creates_and_checks_a_topic_for_another_sender(
    local_aws: LocalAWS, capsys: pytest.CaptureFixture[str]
) -> None:
    options = [
        "--aws-endpoint",
        local_aws.url,
        "--region",
        "us-east-1",
        "--sender-arn",
        "arn:aws:iam::111122223333:user/openturk",
    ]
    assert openturk("destinations", "create-topic", unique("cli"), *options) == 0
    topic_arn = capsys.readouterr().out.split("TopicArn", 1)[1].split()[0]
    assert openturk("destinations", "check", topic_arn, *options) == 0
    assert capsys.readouterr().out.startswith("ok ")
    # Checked for identities it was not made for: one in the topic's account may still get through its IAM
    # policy (a warning); one from a third account cannot (an error).
    assert openturk("destinations", "check", topic_arn, "--aws-endpoint", local_aws.url) == 0
    assert "warning sender-allowed-by-iam-only" in capsys.readouterr().out
    assert (
        openturk(
            "destinations",
            "check",
            topic_arn,
            "--aws-endpoint",
            local_aws.url,
            "--sender-arn",
            "arn:aws:iam::999999999999:user/openturk",
        )
        == 1
    )
    assert "error   sender-not-allowed" in capsys.readouterr().out


@pytest.mark.usefixtures("no_aws_credentials")
def test_the_command_warns_without_failing(local_aws: LocalAWS, capsys: pytest.CaptureFixture[str]) -> None:
    queue_url = sqs_client(local_aws.url).create_queue(QueueName=unique("bare"))["QueueUrl"]
    assert openturk("destinations", "check", queue_url, "--aws-endpoint", local_aws.url) == 0
    assert "warning sender-allowed-by-iam-only" in capsys.readouterr().out


@pytest.mark.usefixtures("no_aws_credentials")
@pytest.mark.parametrize(
    "argv",
    [
        ["check", "not-a-destination"],
        ["create-queue", "x", "--sender-arn", "openturk"],
    ],
)
def test_bad_input_exits_2(argv: list[str], local_aws: LocalAWS, capsys: pytest.CaptureFixture[str]) -> None:
    assert openturk("destinations", *argv, "--aws-endpoint", local_aws.url) == 2
    assert capsys.readouterr().out.startswith("error ")


# --- the local AWS reads the policies --------------------------------------------------------


def test_the_local_aws_refuses_a_send_its_destination_denies_and_only_that(local_aws: LocalAWS) -> None:
    from botocore.exceptions import ClientError

    sqs, sns = sqs_client(local_aws.url), sns_client(local_aws.url)
    guided = destinations.create_queue(sqs, unique("guided"), SENDER)  # only the sender, over HTTPS
    sqs.send_message(QueueUrl=guided, MessageBody="allowed")
    denied = sqs.create_queue(QueueName=unique("denied"))["QueueUrl"]
    denied_arn = sqs.get_queue_attributes(QueueUrl=denied, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    statement = {"Effect": "Deny", "Principal": {"AWS": SENDER}, "Action": "sqs:Send*", "Resource": denied_arn}
    sqs.set_queue_attributes(QueueUrl=denied, Attributes={"Policy": json.dumps({"Statement": [statement]})})
    for send in (
        lambda: sqs.send_message(QueueUrl=denied, MessageBody="refused"),
        lambda: sqs.send_message_batch(QueueUrl=denied, Entries=[{"Id": "1", "MessageBody": "refused"}]),
    ):
        with pytest.raises(ClientError) as refused:
            send()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # SNS's own delivery to a subscribed queue is SNS's, not the sender's: not refused.
    topic = sns.create_topic(Name=unique("fan"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=denied_arn)
    sns.publish(TopicArn=topic, Message="through SNS")
    counts = sqs.get_queue_attributes(QueueUrl=denied, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "1"
