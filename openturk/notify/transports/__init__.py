"""Where messages go: SQS, SNS and Email. Each transport sends a batch and reports per message."""

from __future__ import annotations

from openturk.notify.transports.aws import AwsClients, AwsTarget, SNSTransport, SQSTransport
from openturk.notify.transports.base import Transport
from openturk.notify.transports.email import EmailTransport, SMTPTarget
from openturk.settings import Settings


def build(settings: Settings) -> dict[str, Transport]:
    clients = AwsClients(AwsTarget(settings.aws_endpoint, settings.aws_access_key_id, settings.aws_secret_access_key))
    return {
        "SQS": SQSTransport(clients),
        "SNS": SNSTransport(clients),
        "Email": EmailTransport(SMTPTarget(settings.smtp_host, settings.smtp_port, settings.email_sender)),
    }
