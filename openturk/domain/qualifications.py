"""Qualification types, workers' qualifications and requirements: the pure rules.

Requirements: validation of their shape, and whether a worker meets them. A requirement names a
system type (MTurk's documented ids) or one of the caller's own Active types (``check_types``).
System qualification types are MTurk's documented ids. DECISION: until workers carry real
qualification records, a worker's system values are derived: Locale US, Adult 0, no Masters,
NumberHITsApproved and PercentAssignmentsApproved from their assignments (100 % until 100 decided).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openturk.api import enums
from openturk.domain import answer_keys, questions
from openturk.errors import (
    InvalidParameterValue,
    InvalidQualificationTypeState,
    QualificationTypeDoesNotExist,
)

MASTERS = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"
MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
NUMBER_HITS_APPROVED = "00000000000000000040"
LOCALE = "00000000000000000071"
ADULT = "00000000000000000060"
PERCENT_APPROVED = "000000000000000000L0"
SYSTEM_TYPES = {MASTERS, MASTERS_SANDBOX, NUMBER_HITS_APPROVED, LOCALE, ADULT, PERCENT_APPROVED}
MAX_REQUIREMENTS = 10

_NUMERIC = {"LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo"}
_PRESENCE = {"Exists", "DoesNotExist"}


def validate(requirements: Sequence[Mapping[str, Any]], field: str = "QualificationRequirements") -> None:
    if len(requirements) > MAX_REQUIREMENTS:
        raise InvalidParameterValue(f"{field} may hold at most {MAX_REQUIREMENTS} requirements.")
    for i, req in enumerate(requirements):
        name = f"{field}[{i}]"
        type_id, comparator = req["QualificationTypeId"], req["Comparator"]
        integers, locales = req.get("IntegerValues"), req.get("LocaleValues")
        if comparator in _PRESENCE:
            if integers or locales:
                raise InvalidParameterValue(f"{name}: comparator {comparator} takes no values.")
            continue
        if integers and locales:
            raise InvalidParameterValue(f"{name}: give IntegerValues or LocaleValues, not both.")
        if not integers and not locales:
            raise InvalidParameterValue(f"{name}: comparator {comparator} needs IntegerValues or LocaleValues.")
        if locales and type_id not in SYSTEM_TYPES:
            raise InvalidParameterValue(f"{name}: a requester's qualification type compares IntegerValues.")
        if type_id == LOCALE and not locales:
            raise InvalidParameterValue(f"{name}: the Locale qualification compares LocaleValues.")
        if locales and comparator not in ("EqualTo", "NotEqualTo", "In", "NotIn"):
            raise InvalidParameterValue(f"{name}: LocaleValues work only with EqualTo, NotEqualTo, In or NotIn.")
        values = integers or locales or []
        if comparator in ("In", "NotIn"):
            limit = 30 if locales else 15
            if len(values) > limit:
                raise InvalidParameterValue(f"{name}: {comparator} takes at most {limit} values.")
        elif len(values) != 1:
            raise InvalidParameterValue(f"{name}: comparator {comparator} takes exactly one value.")


def custom_type_ids(requirements: Sequence[Mapping[str, Any]]) -> set[str]:
    return {req["QualificationTypeId"] for req in requirements} - SYSTEM_TYPES


def check_types(
    requirements: Sequence[Mapping[str, Any]],
    statuses: Mapping[str, str],
    field: str = "QualificationRequirements",
) -> None:
    """Every type named is a system type or one of the caller's own Active types.

    ``statuses`` maps the caller's own types among those named to their status; another
    requester's type answers like a missing one (DECISION).
    """
    for i, req in enumerate(requirements):
        type_id = req["QualificationTypeId"]
        if type_id in SYSTEM_TYPES:
            continue
        status = statuses.get(type_id)
        if status is None:
            raise QualificationTypeDoesNotExist(f"Qualification type {type_id} in {field}[{i}] does not exist.")
        if status != "Active":
            raise InvalidQualificationTypeState(
                f"Qualification type {type_id} in {field}[{i}] is {status}; only an Active type can be required."
            )


@dataclass(frozen=True)
class WorkerStanding:
    approved: int = 0
    decided: int = 0
    country: str = "US"
    # The IntegerValue of each requester-owned type the worker holds Granted.
    granted: Mapping[str, int] = field(default_factory=dict)

    def value(self, type_id: str) -> int | str | None:
        if type_id == NUMBER_HITS_APPROVED:
            return self.approved
        if type_id == PERCENT_APPROVED:
            return 100 if self.decided < 100 else (100 * self.approved) // self.decided
        if type_id == ADULT:
            return 0
        if type_id == LOCALE:
            return self.country
        return self.granted.get(type_id)


def guards(requirement: Mapping[str, Any], action: str) -> bool:
    """Whether ``requirement`` guards ``action`` (Accept, Preview or Discover)."""
    guarded = requirement.get("ActionsGuarded") or (
        "PreviewAndAccept" if requirement.get("RequiredToPreview") else "Accept"
    )
    needed = {"Accept": 0, "Preview": 1, "Discover": 2}[action]
    return enums.HIT_ACCESS_ACTIONS.index(guarded) >= needed


def meets(requirement: Mapping[str, Any], standing: WorkerStanding) -> bool:
    value = standing.value(requirement["QualificationTypeId"])
    comparator = requirement["Comparator"]
    if comparator == "Exists":
        return value is not None
    if comparator == "DoesNotExist":
        return value is None
    if value is None:
        return False
    wanted: list[Any] = requirement.get("IntegerValues") or [
        locale["Country"] + (f"-{locale['Subdivision']}" if locale.get("Subdivision") else "")
        for locale in requirement.get("LocaleValues") or []
    ]
    if isinstance(value, str) and wanted and isinstance(wanted[0], str):
        matches = [value == w or (("-" in w) is False and value.split("-")[0] == w) for w in wanted]
    else:
        matches = [value == w for w in wanted]
    if comparator == "EqualTo" or comparator == "In":
        return any(matches)
    if comparator == "NotEqualTo" or comparator == "NotIn":
        return not any(matches)
    if not isinstance(value, int):
        return False
    target = int(wanted[0])
    return {
        "LessThan": value < target,
        "LessThanOrEqualTo": value <= target,
        "GreaterThan": value > target,
        "GreaterThanOrEqualTo": value >= target,
    }[comparator]


# -- requesters' qualification types -------------------------------------------------------------
@dataclass(frozen=True)
class QualificationType:
    qualification_type_id: str
    customer_id: str
    name: str
    description: str
    keywords: str | None
    status: str  # Active | Inactive | Disposing
    creation_time: int
    retry_delay_s: int | None = None
    test: str | None = None
    answer_key: str | None = None
    test_duration_s: int | None = None
    auto_granted: bool = False
    auto_granted_value: int | None = None

    @property
    def is_live(self) -> bool:
        return self.status != "Disposing"

    def matches(self, query: str | None) -> bool:
        """ListQualificationTypes' Query: a case-insensitive substring of name, description or keywords."""
        if not query:
            return True
        needle = query.casefold()
        return any(needle in (text or "").casefold() for text in (self.name, self.description, self.keywords))


@dataclass(frozen=True)
class Qualification:
    qualification_type_id: str
    worker_id: str
    integer_value: int
    status: str  # Granted | Revoked
    grant_time: int
    reason: str | None = None


@dataclass(frozen=True)
class QualificationRequest:
    qualification_request_id: str
    qualification_type_id: str
    customer_id: str
    worker_id: str
    status: str  # Pending | Approved | Rejected
    submit_time: int
    test: str | None = None
    answer: str | None = None
    reason: str | None = None


TYPE_STATUSES = enums.QUALIFICATION_TYPE_STATUSES
MAX_NAME, MAX_DESCRIPTION, MAX_KEYWORDS = 255, 2000, 1000


def check_test(
    test: str | None,
    answer_key: str | None,
    test_duration_s: int | None,
    auto_granted: bool,
) -> None:
    """CreateQualificationType's and UpdateQualificationType's rules for Test, AnswerKey and AutoGranted.

    Raises ``InvalidParameterValue`` naming the field; a Test that is not a QuestionForm, or an
    AnswerKey that is not MTurk's AnswerKey document, raises ``XMLParseError``.
    """
    if test is not None:
        if test_duration_s is None:
            raise InvalidParameterValue("TestDurationInSeconds is required when a Test is given.")
        if auto_granted:
            raise InvalidParameterValue("A QualificationType with a Test cannot be AutoGranted.")
        if questions.parse_question(test).kind != "QuestionForm":
            raise InvalidParameterValue("Test must be a QuestionForm document.")
    elif answer_key is not None:
        raise InvalidParameterValue("AnswerKey needs a Test.")
    if answer_key is not None:
        answer_keys.parse(answer_key)


def check_text(name: str | None, description: str | None, keywords: str | None) -> None:
    for label, value, limit in (
        ("Name", name, MAX_NAME),
        ("Description", description, MAX_DESCRIPTION),
        ("Keywords", keywords, MAX_KEYWORDS),
    ):
        if value is not None and len(value) > limit:
            raise InvalidParameterValue(f"Value for {label} must be at most {limit} characters.")
    for label, value in (("Name", name), ("Description", description)):
        if value is not None and not value.strip():
            raise InvalidParameterValue(f"Value for {label} must not be empty.")


def granted_value(qualification_type: QualificationType, integer_value: int | None) -> int:
    """AcceptQualificationRequest's value: as given, else AutoGrantedValue, else 1 (DECISION)."""
    if integer_value is not None:
        return integer_value
    if qualification_type.auto_granted_value is not None:
        return qualification_type.auto_granted_value
    return 1


def retake_problem(
    qualification_type: QualificationType, last_request_time: int | None, now: int
) -> tuple[str, str] | None:
    """Why a worker may not request the type again: (TurkErrorCode name, message), or None."""
    if last_request_time is None:
        return None
    if qualification_type.retry_delay_s is None:
        return (
            "QualificationTypeDoesNotAllowRetake",
            f"QualificationType {qualification_type.qualification_type_id} does not allow a second request.",
        )
    if now < last_request_time + qualification_type.retry_delay_s * 1000:
        return (
            "QualificationTypeRetryDelayNotElapsed",
            f"The retry delay of QualificationType {qualification_type.qualification_type_id} has not elapsed.",
        )
    return None
