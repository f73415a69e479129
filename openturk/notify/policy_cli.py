"""``openturk destinations``: make a queue or topic the way MTurk's guidance says, or check one.

The main parser calls ``register(sub)`` and sends ``args.command == "destinations"`` to ``run(args)``.
Exit status: 0 done (warnings included), 1 a check found an error or AWS refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape

from openturk.notify import destinations, policy

if TYPE_CHECKING:
    from openturk.notify.transports.aws import AwsClients

# Not imported from transports.aws: registering the command must not load boto3 (cli.py keeps start-up light).
DEFAULT_REGION = "us-east-1"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``destinations create-queue|create-topic|check`` to the main parser's subcommands."""
    destinations = subparsers.add_parser(
        "destinations", help="create or check the SQS queues and SNS topics notifications are sent to"
    )
    actions = destinations.add_subparsers(dest="action", required=True)
    create_queue = actions.add_parser("create-queue", help="create a queue only the sender may SendMessage to")
    create_queue.add_argument("name", help="queue name; ending it in .fifo makes a FIFO queue")
    create_topic = actions.add_parser("create-topic", help="create a topic only the sender may Publish to")
    create_topic.add_argument("name", help="topic name; ending it in .fifo makes a FIFO topic")
    check = actions.add_parser("check", help="report a destination policy that is too open or blocks the sender")
    check.add_argument("destination", help="queue URL or topic ARN")
    # On each subcommand, not on `destinations`: argparse lets a subparser's defaults overwrite its parent's.
    for parser in (create_queue, create_topic, check):
        parser.add_argument(
            "--aws-endpoint",
            default=None,
            metavar="URL",
            help="SQS/SNS endpoint (default: real AWS with the usual credential chain)",
        )
        parser.add_argument("--region", default=DEFAULT_REGION, help=f"default {DEFAULT_REGION}")
        parser.add_argument(
            "--sender-arn",
            default=policy.DEFAULT_SENDER_ARN,
            metavar="ARN",
            help="the identity openturk sends as (default: the embedded local endpoint's, "
            f"{policy.DEFAULT_SENDER_ARN})",
        )


def run(args: argparse.Namespace) -> int:
    """Carry out one ``destinations`` subcommand; return the exit status."""
    console = Console(soft_wrap=True)
    try:
        if args.action == "create-queue":
            return _create_queue(console, args)
        if args.action == "create-topic":
            return _create_topic(console, args)
        return _check(console, args)
    except ValueError as exc:
        console.print(f"[red]error[/red] {escape(str(exc))}")
        return 2
    except (ClientError, BotoCoreError) as exc:
        console.print(f"[red]AWS refused[/red] {escape(str(exc))}")
        return 1


def _clients(args: argparse.Namespace) -> AwsClients:
    from openturk.notify.local_aws import LOCAL_ACCESS_KEY, LOCAL_SECRET, real_credentials_configured
    from openturk.notify.transports.aws import AwsClients, AwsTarget

    if args.aws_endpoint and not real_credentials_configured():
        # An explicit local endpoint (moto, LocalStack) with no identity configured: any keys do.
        return AwsClients(AwsTarget(args.aws_endpoint, LOCAL_ACCESS_KEY, LOCAL_SECRET))
    return AwsClients(AwsTarget(args.aws_endpoint))


def _create_queue(console: Console, args: argparse.Namespace) -> int:
    sqs = _clients(args).client("sqs", args.region)
    queue_url = destinations.create_queue(sqs, args.name, args.sender_arn)
    console.print(f"QueueUrl  {escape(queue_url)}")
    _print_policy(console, sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"])
    return 0


def _create_topic(console: Console, args: argparse.Namespace) -> int:
    sns = _clients(args).client("sns", args.region)
    topic_arn = destinations.create_topic(sns, args.name, args.sender_arn)
    console.print(f"TopicArn  {escape(topic_arn)}")
    _print_policy(console, sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"])
    return 0


def _print_policy(console: Console, attributes: dict[str, str]) -> None:
    console.print("Policy")
    console.print_json(json.dumps(json.loads(attributes["Policy"])))


def _check(console: Console, args: argparse.Namespace) -> int:
    from openturk.notify.transports.aws import sqs_region

    destination: str = args.destination
    clients = _clients(args)
    if destination.startswith("arn:") and destination.split(":")[2:3] == ["sns"]:
        # The topic's region is in its ARN, and SNS answers only in that region.
        region = destination.split(":")[3] or args.region
        findings = destinations.check_topic(clients.client("sns", region), destination, args.sender_arn)
    elif destination.startswith(("http://", "https://")):
        region = sqs_region(destination) if ".amazonaws.com" in destination else args.region
        findings = destinations.check_queue(clients.client("sqs", region), destination, args.sender_arn)
    else:
        raise ValueError(f"{destination!r} is neither a queue URL nor an SNS topic ARN")
    if not findings:
        console.print(
            f"[green]ok[/green] only {escape(args.sender_arn)} may send to {escape(destination)}, and only over HTTPS"
        )
    for finding in findings:
        colour = "red" if finding.level == "error" else "yellow"
        console.print(f"[{colour}]{finding.level:<7}[/{colour}] {finding.code}: {escape(finding.message)}")
    return 1 if policy.has_errors(findings) else 0
