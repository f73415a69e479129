"""check_policy across good, too-open and blocking destination policies, without AWS."""

from __future__ import annotations

from typing import Any

import pytest

from openturk.notify import policy
from openturk.notify.policy import Finding

SENDER = "arn:aws:iam::111122223333:user/openturk"  # another account than the queue's: no IAM fallback
QUEUE = "arn:aws:sqs:us-east-1:444455556666:notifications"
TOPIC = "arn:aws:sns:us-east-1:444455556666:notifications"
TLS = {"Bool": {"aws:SecureTransport": "true"}}


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(finding.level, finding.code) for finding in findings]


def allow(**fields: Any) -> dict[str, Any]:
    """The helper's one statement, with ``fields`` replaced (a None value removes the field)."""
    statement = {**policy.queue_policy(QUEUE, SENDER)["Statement"][0], **fields}
    return {key: value for key, value in statement.items() if value is not None}


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def check(*statements: dict[str, Any], sender: str = SENDER) -> list[Finding]:
    return policy.check_policy(document(*statements), QUEUE, sender, "SQS")


# --- what the helpers write -------------------------------------------------------------------


def test_queue_policy_allows_exactly_the_sender_to_send_over_tls() -> None:
    written = policy.queue_policy(QUEUE, SENDER)
    assert written["Statement"] == [
        {
            "Sid": "OpenturkOnlyPolicy",
            "Effect": "Allow",
            "Principal": {"AWS": SENDER},
            "Action": "SQS:SendMessage",
            "Resource": QUEUE,
            "Condition": TLS,
        }
    ]
    assert policy.check_policy(written, QUEUE, SENDER, "SQS") == []


def test_topic_policy_allows_exactly_the_sender_to_publish_over_tls() -> None:
    written = policy.topic_policy(TOPIC, SENDER)
    [statement] = written["Statement"]
    assert (statement["Principal"], statement["Action"], statement["Resource"], statement["Condition"]) == (
        {"AWS": SENDER},
        "SNS:Publish",
        TOPIC,
        TLS,
    )
    assert policy.check_policy(written, TOPIC, SENDER, "SNS") == []


def test_a_queue_policy_does_not_let_the_sender_publish_to_a_topic() -> None:
    findings = policy.check_policy(policy.queue_policy(TOPIC, SENDER), TOPIC, SENDER, "SNS")
    assert codes(findings) == [("error", "sender-not-allowed")]


@pytest.mark.parametrize("bad", ["openturk", "arn:aws:iam::123:user/x", "arn:aws:s3:::bucket"])
def test_a_sender_that_is_not_a_principal_arn_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="sender ARN"):
        policy.queue_policy(QUEUE, bad)
    with pytest.raises(ValueError, match="sender ARN"):
        policy.check_policy(None, QUEUE, bad, "SQS")


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="SQS or SNS"):
        policy.check_policy(None, QUEUE, SENDER, "Email")  # type: ignore[arg-type]


# --- good policies written differently --------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        allow(Sid=None, Action="sqs:sendmessage"),
        allow(Action=["SQS:SendMessage"], Principal={"AWS": [SENDER]}, Resource=[QUEUE]),
        allow(Resource="arn:aws:sqs:us-east-1:444455556666:notif*"),
        allow(Resource=None),
        allow(Condition={"Bool": {"aws:SecureTransport": True}}),
        allow(
            Condition={
                "BoolIfExists": {"aws:SecureTransport": "true"},
                "StringEquals": {"aws:PrincipalArn": SENDER, "aws:PrincipalAccount": "111122223333"},
            }
        ),
        allow(Condition={**TLS, "Null": {"aws:SourceArn": "true"}}),
    ],
    ids=["no-sid", "lists", "resource-wildcard", "no-resource", "bool-json", "more-conditions", "null"],
)
def test_equivalent_spellings_of_the_guidance_check_clean(statement: dict[str, Any]) -> None:
    assert check(statement) == []


def test_a_single_statement_object_is_read_like_a_list() -> None:
    assert policy.check_policy({"Statement": allow()}, QUEUE, SENDER, "SQS") == []


def test_tls_may_be_required_by_a_deny_instead_of_a_condition() -> None:
    deny_plain_http = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "*",
        "Resource": QUEUE,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert check(allow(Condition=None), deny_plain_http) == []


def test_a_role_session_matches_a_policy_naming_its_role() -> None:
    session = "arn:aws:sts::111122223333:assumed-role/openturk-sender/i-0abc"
    assert check(allow(Principal={"AWS": "arn:aws:iam::111122223333:role/openturk-sender"}), sender=session) == []


# --- too open ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grant",
    [
        {"Principal": "*"},
        {"Principal": {"AWS": "*"}},
        {"Principal": {"AWS": ["*", SENDER]}},
        {"Principal": {"AWS": "arn:aws:iam::*:root"}},
        {"Principal": None, "NotPrincipal": {"AWS": "arn:aws:iam::999999999999:root"}},
    ],
    ids=["star", "aws-star", "star-among-others", "account-wildcard", "not-principal"],
)
def test_anyone_without_a_narrowing_condition_is_public_access(grant: dict[str, Any]) -> None:
    findings = check(allow(**grant))
    assert codes(findings) == [("error", "public-access")]
    assert "anyone" in findings[0].message


def test_a_tls_condition_does_not_narrow_who_may_send() -> None:
    assert codes(check(allow(Principal="*", Condition=TLS))) == [("error", "public-access")]


def test_everything_for_everyone_is_public_access_naming_the_actions() -> None:
    findings = check(allow(Principal="*", Action="sqs:*", Condition=None))
    assert ("error", "public-access") in codes(findings)
    assert "sqs:*" in findings[0].message


def test_anyone_narrowed_to_a_topic_is_another_principal_not_public() -> None:
    subscription = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
        "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC}},
    }
    findings = check(allow(), subscription)
    assert codes(findings) == [("warning", "other-principals")]
    assert "SenderId" in findings[0].message


@pytest.mark.parametrize(
    "grantee",
    [
        {"AWS": "arn:aws:iam::999999999999:user/someone"},
        {"AWS": "999999999999"},
        {"Service": "sns.amazonaws.com"},
    ],
)
def test_granting_someone_else_is_a_warning(grantee: dict[str, str]) -> None:
    findings = check(allow(), allow(Sid="Other", Principal=grantee))
    assert codes(findings) == [("warning", "other-principals")]
    assert "'Other'" in findings[0].message


def test_the_senders_whole_account_is_other_principals() -> None:
    findings = check(allow(Principal={"AWS": "arn:aws:iam::111122223333:root"}))
    assert codes(findings) == [("warning", "other-principals")]
    assert "every identity of that account" in findings[0].message


@pytest.mark.parametrize("actions", ["sqs:*", "*", ["sqs:SendMessage", "sqs:ReceiveMessage"], "SQS:Send*"])
def test_actions_beyond_send_message_are_reported(actions: Any) -> None:
    findings = check(allow(Action=actions))
    assert codes(findings) == [("warning", "extra-actions")]
    assert "beyond SQS:SendMessage" in findings[0].message


def test_not_action_grants_everything_else() -> None:
    findings = check(allow(Action=None, NotAction="sqs:DeleteQueue"))
    assert codes(findings) == [("warning", "extra-actions")]
    assert "every action except sqs:DeleteQueue" in findings[0].message


def test_actions_of_another_service_are_not_counted() -> None:
    assert check(allow(Action=["sqs:SendMessage", "sns:Publish"])) == []


@pytest.mark.parametrize("condition", [None, {"StringEquals": {"aws:PrincipalArn": SENDER}}])
def test_missing_secure_transport_is_reported(condition: dict[str, Any] | None) -> None:
    findings = check(allow(Condition=condition))
    assert codes(findings) == [("warning", "insecure-transport-allowed")]
    assert 'aws:SecureTransport "true"' in findings[0].message


def test_the_sns_default_policy_is_too_broad_but_lets_the_owner_publish() -> None:
    owner = "arn:aws:iam::444455556666:user/openturk"
    default = {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Effect": "Allow",
                "Sid": "__default_statement_ID",
                "Principal": {"AWS": "*"},
                "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe", "SNS:Publish"],
                "Resource": TOPIC,
                "Condition": {"StringEquals": {"AWS:SourceOwner": "444455556666"}},
            }
        ],
    }
    assert codes(policy.check_policy(default, TOPIC, owner, "SNS")) == [
        ("warning", "insecure-transport-allowed"),
        ("warning", "other-principals"),
        ("warning", "extra-actions"),
    ]
    assert ("error", "sender-not-allowed") in codes(policy.check_policy(default, TOPIC, SENDER, "SNS"))


# --- blocking the sender ----------------------------------------------------------------------


def test_no_policy_blocks_a_sender_from_another_account() -> None:
    findings = policy.check_policy(None, QUEUE, SENDER, "SQS")
    assert codes(findings) == [("error", "sender-not-allowed")]
    assert "no policy" in findings[0].message


def test_no_policy_leaves_a_same_account_sender_to_its_iam_policy() -> None:
    findings = policy.check_policy(None, QUEUE, "arn:aws:iam::444455556666:user/openturk", "SQS")
    assert codes(findings) == [("warning", "sender-allowed-by-iam-only")]


def test_a_policy_for_someone_else_blocks_the_sender() -> None:
    findings = check(allow(Principal={"AWS": "arn:aws:iam::755651556756:user/MTurk-SQS"}))
    assert codes(findings) == [("error", "sender-not-allowed"), ("warning", "other-principals")]


def test_a_resource_naming_another_queue_is_named_as_the_cause() -> None:
    # The seed's pitfall: a policy copied from another queue without updating Resource.
    findings = check(allow(Resource="arn:aws:sqs:us-east-1:444455556666:other"))
    assert codes(findings) == [("error", "sender-not-allowed")]
    assert f"Resource of statement 'OpenturkOnlyPolicy' does not cover {QUEUE}" in findings[0].message


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnEquals": {"aws:SourceArn": TOPIC}},
        {"Bool": {"aws:SecureTransport": "false"}},
        {"StringEquals": {"aws:PrincipalAccount": "999999999999"}},
        {"StringNotEquals": {"aws:PrincipalArn": SENDER}},
        {"Null": {"aws:SecureTransport": "true"}},
    ],
    ids=["source-arn", "plain-http-only", "other-account", "not-the-sender", "null"],
)
def test_a_condition_the_sender_cannot_meet_blocks_it(condition: dict[str, Any]) -> None:
    findings = check(allow(Condition=condition))
    assert codes(findings) == [("error", "sender-not-allowed")]
    assert "cannot hold" in findings[0].message


@pytest.mark.parametrize(
    "principal", ["*", {"AWS": SENDER}, {"AWS": "111122223333"}, {"AWS": "arn:aws:iam::111122223333:root"}]
)
def test_an_explicit_deny_matching_the_sender_blocks_it(principal: Any) -> None:
    deny = {"Sid": "NoSend", "Effect": "Deny", "Principal": principal, "Action": "sqs:Send*", "Resource": "*"}
    findings = check(allow(), deny)
    assert codes(findings) == [("error", "sender-denied")]
    assert "'NoSend'" in findings[0].message


def test_a_deny_for_everyone_but_the_sender_does_not_block_it() -> None:
    deny = {"Effect": "Deny", "NotPrincipal": {"AWS": SENDER}, "Action": "sqs:SendMessage", "Resource": QUEUE}
    assert check(allow(), deny) == []


def test_a_deny_for_everyone_else_by_condition_does_not_block_it() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": QUEUE,
        "Condition": {"StringNotEquals": {"aws:PrincipalArn": SENDER}},
    }
    assert check(allow(), deny) == []


def test_conditions_only_aws_can_evaluate_are_warnings() -> None:
    only_from = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    assert codes(check(allow(Condition={**TLS, **only_from}))) == [("warning", "sender-maybe-allowed")]
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "*",
        "Resource": QUEUE,
        "Condition": {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    }
    assert codes(check(allow(), deny)) == [("warning", "sender-maybe-denied")]


def test_errors_come_before_warnings() -> None:
    findings = check(
        allow(Principal="*", Action="sqs:*", Condition=None),
        {"Effect": "Deny", "Principal": {"AWS": SENDER}, "Action": "sqs:SendMessage"},
    )
    assert codes(findings) == [("error", "sender-denied"), ("error", "public-access")]


# --- not a policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"Statement": "Allow"},
        {"Statement": ["x"]},
        document(allow(Effect="Maybe")),
        document(allow(Principal=None)),
        document(allow(NotAction="sqs:ReceiveMessage")),
    ],
    ids=["empty", "statement-string", "statement-not-object", "effect", "no-principal", "action-and-notaction"],
)
def test_a_malformed_policy_is_one_error(bad: dict[str, Any]) -> None:
    assert codes(policy.check_policy(bad, QUEUE, SENDER, "SQS")) == [("error", "policy-invalid")]


def test_has_errors() -> None:
    assert policy.has_errors([Finding("warning", "extra-actions", ""), Finding("error", "public-access", "")])
    assert not policy.has_errors([Finding("warning", "extra-actions", "")])
