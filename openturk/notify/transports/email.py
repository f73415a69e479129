"""The legacy Email transport: SMTP, a plain-text body in words, then the JSON document."""

from __future__ import annotations

import contextlib
import json
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from openturk.notify.transports.base import Outgoing, describe

_WORDS = {
    "AssignmentAccepted": "A worker accepted an assignment",
    "AssignmentAbandoned": "An assignment was abandoned: its time ran out",
    "AssignmentReturned": "A worker returned an assignment",
    "AssignmentSubmitted": "A worker submitted an assignment",
    "AssignmentRejected": "An assignment was rejected",
    "AssignmentApproved": "An assignment was approved",
    "HITCreated": "A HIT was created",
    "HITExpired": "A HIT expired",
    "HITReviewable": "A HIT became reviewable",
    "HITExtended": "A HIT was extended",
    "HITDisposed": "A HIT was disposed",
    "Ping": "A test notification (Ping)",
}


@dataclass(frozen=True)
class SMTPTarget:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "openturk@localhost"
    timeout_s: float = 10.0


def plain_text(body: str) -> str:
    document = json.loads(body)
    paragraphs = []
    for event in document["Events"]:
        lines = [
            f"{_WORDS.get(event['EventType'], event['EventType'])} at {event['EventTimestamp']}.",
            f"  Event type:  {event['EventType']}",
            f"  HIT type ID: {event['HITTypeId']}",
            f"  HIT ID:      {event['HITId']}",
        ]
        if "AssignmentId" in event:
            lines.append(f"  Assignment:  {event['AssignmentId']}")
        paragraphs.append("\n".join(lines))
    return (
        "Amazon Mechanical Turk notification (sent by openturk)\n\n"
        + "\n\n".join(paragraphs)
        + f"\n\nEventDocId: {document['EventDocId']}\n\nThe notification document:\n{body}\n"
    )


def new_email(sender: str, recipient: str, subject: str, key: str) -> EmailMessage:
    """An email openturk sends, with the headers RFC 5322 requires (Date) and receivers expect
    (Message-ID: some refuse mail without one). The Message-ID is ``key`` at the sender's domain, the
    same for every retry of one email, so a receiver that got an earlier try can tell it is one."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = recipient
    email["Subject"] = subject
    email["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "openturk.invalid"
    email["Message-ID"] = f"<{key}@{domain}>"
    return email


class EmailTransport:
    def __init__(self, target: SMTPTarget) -> None:
        self.target = target

    def warm(self) -> None:
        """Nothing to prepare: each batch opens its own SMTP session."""

    def send(self, batch: Sequence[Outgoing]) -> list[str | None]:
        try:
            smtp = smtplib.SMTP(self.target.host, self.target.port, timeout=self.target.timeout_s)
        except (OSError, smtplib.SMTPException) as exc:
            return [describe(exc)] * len(batch)
        results: list[str | None] = []
        try:
            for message in batch:
                results.append(self._send_one(smtp, message))
        except (OSError, smtplib.SMTPException) as exc:  # the connection broke: the rest were not sent
            results.extend([describe(exc)] * (len(batch) - len(results)))
        finally:
            # What the server accepted is delivered however the session ends: an error at QUIT (a
            # 421, a dropped connection) must not turn those into failures, to be sent again.
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
            smtp.close()
        return results

    def _send_one(self, smtp: smtplib.SMTP, message: Outgoing) -> str | None:
        subject = f"Mechanical Turk notification: {message.event_types}"
        email = new_email(self.target.sender, message.destination, subject, f"notification.{message.doc_id}")
        email["X-MTurk-EventDocId"] = message.doc_id
        email.set_content(plain_text(message.body))
        try:
            smtp.send_message(email)
            return None
        except smtplib.SMTPException as exc:
            return describe(exc)
