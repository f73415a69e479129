"""One tree of errors; each class knows its wire shape and HTTP status.

MTurk answers client mistakes with the modeled ``RequestError`` (HTTP 400) and real server faults
with ``ServiceFault`` (HTTP 500), both carrying ``Message`` and ``TurkErrorCode``. Problems found
before an operation is known (bad JSON, unknown target, bad signature) use the generic AWS error
names that every SDK understands. Messages end with `` (<epoch-ms>)`` as MTurk's did.
"""

from __future__ import annotations

import time


def _stamp(message: str) -> str:
    return f"{message} ({int(time.time() * 1000)})"


class OpenTurkError(Exception):
    """Base of every error openturk turns into a wire response."""

    status: int = 400
    wire_type: str = "RequestError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        return {"__type": self.wire_type, "Message": self.message}


class RequestError(OpenTurkError):
    """The modeled MTurk client error: HTTP 400 with a ``TurkErrorCode``."""

    turk_error_code = "AWS.MechanicalTurk.InvalidParameterValue"

    def __init__(self, message: str, turk_error_code: str | None = None) -> None:
        super().__init__(_stamp(message))
        if turk_error_code is not None:
            self.turk_error_code = turk_error_code

    def body(self) -> dict[str, str]:
        return {**super().body(), "TurkErrorCode": self.turk_error_code}


def _code(name: str) -> str:
    return f"AWS.MechanicalTurk.{name}"


class InvalidParameterValue(RequestError):
    turk_error_code = _code("InvalidParameterValue")


class ParameterOutOfRange(RequestError):
    turk_error_code = "AWS.ParameterOutOfRange"


class MissingParameter(RequestError):
    turk_error_code = "AWS.MissingParameter"


class XMLParseError(RequestError):
    turk_error_code = _code("XMLParseError")


class HITDoesNotExist(RequestError):
    turk_error_code = _code("HITDoesNotExist")


class HITTypeDoesNotExist(RequestError):
    turk_error_code = _code("HITTypeDoesNotExist")


class AssignmentDoesNotExist(RequestError):
    turk_error_code = _code("AssignmentDoesNotExist")


class InvalidHITState(RequestError):
    turk_error_code = _code("InvalidHITState")


class InvalidAssignmentState(RequestError):
    turk_error_code = _code("InvalidAssignmentState")


class InvalidMaximumAssignmentsIncrease(RequestError):
    turk_error_code = _code("InvalidMaximumAssignmentsIncrease")


class HitAlreadyExists(RequestError):
    turk_error_code = _code("HitAlreadyExists")


class DuplicateRequest(RequestError):
    turk_error_code = _code("DuplicateRequest")


class InsufficientFunds(RequestError):
    """Raised by ``openturk.ledger`` after it wrote the movement's journal row and escrow: only a
    rollback undoes them. Let it end the transaction, or catch it around a savepoint
    (``conn.begin_nested()``, as ``review_runs`` does), never inside a transaction that goes on."""

    turk_error_code = _code("InsufficientFunds")


class QualificationTypeDoesNotExist(RequestError):
    turk_error_code = _code("QualificationTypeDoesNotExist")


class InvalidQualificationTypeState(RequestError):
    turk_error_code = _code("InvalidQualificationTypeState")


class QualificationTypeAlreadyExists(RequestError):
    turk_error_code = _code("QualificationTypeAlreadyExists")


class QualificationDoesNotExist(RequestError):
    turk_error_code = _code("QualificationDoesNotExist")


class QualificationRequestDoesNotExist(RequestError):
    turk_error_code = _code("QualificationRequestDoesNotExist")


class InvalidQualificationState(RequestError):
    turk_error_code = _code("InvalidQualificationState")


class InvalidQualificationRequestState(RequestError):
    turk_error_code = _code("InvalidQualificationRequestState")


class PermissionDenied(RequestError):
    turk_error_code = _code("PermissionDenied")


class ServiceFault(OpenTurkError):
    """A real server fault (HTTP 500): SDKs retry these, so use it only for transient trouble."""

    status = 500
    wire_type = "ServiceFault"

    def __init__(self, message: str = "Try your call again") -> None:
        super().__init__(_stamp(message))

    def body(self) -> dict[str, str]:
        return {**super().body(), "TurkErrorCode": "AWS.ServiceUnavailable"}


class ProtocolError(OpenTurkError):
    """An AWS generic error raised before an operation is parsed (no TurkErrorCode)."""

    def __init__(self, wire_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.wire_type = wire_type
        self.status = status


class WorkerError(Exception):
    """An error of the worker-facing JSON API (not part of the MTurk wire)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"Error": self.code, "Message": self.message}


class StoreError(Exception):
    """A database failure wrapped where it enters openturk."""
