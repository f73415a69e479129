"""Pure rules of worker blocks and NotifyWorkers (no I/O).

Limits are MTurk's: a requester blocks at most 100,000 workers and a block's Reason is required (its
100,000 characters are openturk's bound: MTurk's is unknown); NotifyWorkers takes 1–100 WorkerIds,
a Subject ≤200 and a MessageText ≤4,096 characters, and reaches only workers who did work for the
caller. Every other named worker comes back as a failure status, and the call succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openturk.errors import InvalidParameterValue, ParameterOutOfRange

MAX_BLOCKS = 100_000  # "You can block up to 100,000 Workers" (CreateWorkerBlock's documentation)
MAX_REASON = 100_000
MAX_SUBJECT = 200
MAX_MESSAGE_TEXT = 4_096
MAX_WORKER_IDS = 100
NOT_WORKED = "HardFailure"


def check_reason(reason: str, required: bool) -> None:
    if required and not reason.strip():
        raise InvalidParameterValue("Value for Reason must not be empty.")
    if len(reason) > MAX_REASON:
        raise ParameterOutOfRange(f"Value for Reason must have at most {MAX_REASON} characters.")


def check_room_for_block(blocked: int) -> None:
    """Before blocking one more worker, with ``blocked`` already blocked by the requester."""
    if blocked >= MAX_BLOCKS:
        raise InvalidParameterValue(
            f"You can block up to {MAX_BLOCKS:,} Workers. Remove a block (DeleteWorkerBlock) before adding another."
        )


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str
    worker_ids: tuple[str, ...]  # distinct, in the order given


def notice(subject: str, text: str, worker_ids: Sequence[str]) -> Notice:
    """The validated message; raises a RequestError naming the field."""
    if not subject.strip():
        raise InvalidParameterValue("Value for Subject must not be empty.")
    if len(subject) > MAX_SUBJECT:
        raise ParameterOutOfRange(f"Value for Subject must have at most {MAX_SUBJECT} characters.")
    if not text.strip():
        raise InvalidParameterValue("Value for MessageText must not be empty.")
    if len(text) > MAX_MESSAGE_TEXT:
        raise ParameterOutOfRange(f"Value for MessageText must have at most {MAX_MESSAGE_TEXT} characters.")
    if not 1 <= len(worker_ids) <= MAX_WORKER_IDS:
        raise ParameterOutOfRange(f"Value for WorkerIds must have between 1 and {MAX_WORKER_IDS} members.")
    return Notice(subject, text, tuple(dict.fromkeys(worker_ids)))


def failure(worker_id: str) -> dict[str, str]:
    """The failure status of a worker who has done no work for the caller."""
    return {
        "NotifyWorkersFailureCode": NOT_WORKED,
        # MTurk's own words (a real answer quoted in cloudyr/MTurkR#29).
        "NotifyWorkersFailureMessage": "Cannot send a notification to a worker who has not done any work for you",
        "WorkerId": worker_id,
    }


# -- qualification notices: what a worker is told when a requester decides about a qualification --
def qualification_granted(type_name: str, value: int) -> tuple[str, str]:
    """(Subject, MessageText) of AssociateQualificationWithWorker with SendNotification."""
    return (
        f"Qualification granted: {type_name}",
        f'You have been granted the Qualification "{type_name}" with the value {value}.',
    )


def qualification_request_decided(
    type_name: str, approved: bool, value: int | None, reason: str | None
) -> tuple[str, str]:
    """(Subject, MessageText) of AcceptQualificationRequest / RejectQualificationRequest."""
    if approved:
        return (
            f"Qualification request approved: {type_name}",
            f'Your request for the Qualification "{type_name}" was approved with the value {value}.',
        )
    text = f'Your request for the Qualification "{type_name}" was rejected.'
    return f"Qualification request rejected: {type_name}", text + (f"\n\nReason: {reason}" if reason else "")


def qualification_revoked(type_name: str, reason: str | None) -> tuple[str, str]:
    """(Subject, MessageText) of DisassociateQualificationFromWorker: its Reason is shown to the worker [M]."""
    text = f'Your Qualification "{type_name}" has been revoked.'
    return f"Qualification revoked: {type_name}", text + (f"\n\nReason: {reason}" if reason else "")
