"""Qualification types, workers' qualifications and requirements: the pure rules.

Requirements: validation of their shape, and whether a worker meets them. A requirement names a
system type (MTurk's documented ids) or one of the caller's own Active types (``check_types``).
System qualifications are computed, never stored (``WorkerStanding``): Locale, Adult and Masters
from the worker's profile (``openturk.domain.profiles``), the statistics from their assignments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openturk.api import enums
from openturk.domain import answer_keys, questions
from openturk.domain.profiles import COUNTRIES, SUBDIVISION, WorkerProfile
from openturk.errors import (
    InvalidParameterValue,
    InvalidQualificationTypeState,
    ParameterOutOfRange,
    QualificationTypeDoesNotExist,
)

MASTERS = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"
MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
NUMBER_HITS_APPROVED = "00000000000000000040"
LOCALE = "00000000000000000071"
ADULT = "00000000000000000060"
PERCENT_APPROVED = "000000000000000000L0"
# Older system types MTurk still answered to (cloudyr/MTurkR ``R/ListQualificationTypes.R``).
PERCENT_SUBMITTED = "00000000000000000000"
PERCENT_ABANDONED = "00000000000000000070"
PERCENT_RETURNED = "000000000000000000E0"
PERCENT_REJECTED = "000000000000000000S0"
MASTERS_TYPES = frozenset({MASTERS, MASTERS_SANDBOX})
SYSTEM_TYPES = frozenset(
    {
        *MASTERS_TYPES,
        NUMBER_HITS_APPROVED,
        LOCALE,
        ADULT,
        PERCENT_APPROVED,
        PERCENT_SUBMITTED,
        PERCENT_ABANDONED,
        PERCENT_RETURNED,
        PERCENT_REJECTED,
    }
)
# Names and descriptions of the system types, as GetQualificationType shows them.
SYSTEM_TYPE_TEXTS: Mapping[str, tuple[str, str]] = {
    MASTERS: ("Masters", "Workers who have demonstrated excellence across a wide range of tasks."),
    MASTERS_SANDBOX: ("Masters (sandbox)", "Masters in the sandbox."),
    NUMBER_HITS_APPROVED: ("Worker_NumberHITsApproved", "The number of HITs a Worker has had approved."),
    LOCALE: ("Worker_Locale", "The location of the Worker, as a country and subdivision."),
    ADULT: ("Worker_Adult", "The Worker has agreed to see adult content (1) or not (0)."),
    PERCENT_APPROVED: (
        "Worker_PercentAssignmentsApproved",
        "The percentage of the Worker's decided assignments that were approved.",
    ),
    PERCENT_REJECTED: (
        "Worker_PercentAssignmentsRejected",
        "The percentage of the Worker's decided assignments that were rejected.",
    ),
    PERCENT_SUBMITTED: (
        "Worker_PercentAssignmentsSubmitted",
        "The percentage of the Worker's accepted assignments that were submitted.",
    ),
    PERCENT_RETURNED: (
        "Worker_PercentAssignmentsReturned",
        "The percentage of the Worker's accepted assignments that were returned.",
    ),
    PERCENT_ABANDONED: (
        "Worker_PercentAssignmentsAbandoned",
        "The percentage of the Worker's accepted assignments that were abandoned.",
    ),
}
# A percentage is the new worker's value until this many assignments count in it (MTurk: "100 until
# 100 submitted" for PercentAssignmentsApproved; DECISION: the same for the others).
PERCENT_FLOOR = 100
MAX_REQUIREMENTS = 10

_NUMERIC = {"LessThan", "LessThanOrEqualTo", "GreaterThan", "GreaterThanOrEqualTo"}
_PRESENCE = {"Exists", "DoesNotExist"}


def validate(requirements: Sequence[Mapping[str, Any]], field: str = "QualificationRequirements") -> None:
    if len(requirements) > MAX_REQUIREMENTS:
        raise ParameterOutOfRange(f"{field} may hold at most {MAX_REQUIREMENTS} requirements.")
    for i, req in enumerate(requirements):
        name = f"{field}[{i}]"
        if req.get("RequiredToPreview") is not None and req.get("ActionsGuarded") is not None:
            # MTurk's refusal (InvalidParameterCombinationError); the model: "should not be used in combination".
            raise InvalidParameterValue(
                f"The combination of parameters supplied to the request is invalid: ActionsGuarded, RequiredToPreview."
                f" ({name})"
            )
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
        if locales and type_id != LOCALE:
            raise InvalidParameterValue(f"{name}: only the Locale qualification ({LOCALE}) compares LocaleValues.")
        if type_id == LOCALE and not locales:
            raise InvalidParameterValue(f"{name}: the Locale qualification compares LocaleValues.")
        if locales and comparator not in ("EqualTo", "NotEqualTo", "In", "NotIn"):
            raise InvalidParameterValue(f"{name}: LocaleValues work only with EqualTo, NotEqualTo, In or NotIn.")
        for index, locale in enumerate(locales or []):
            _check_locale(f"{name}.LocaleValues[{index}]", locale)
        values = integers or locales or []
        if comparator in ("In", "NotIn"):
            limit = 30 if locales else 15
            if len(values) > limit:
                raise ParameterOutOfRange(f"{name}: {comparator} takes at most {limit} values.")
        elif len(values) != 1:
            raise InvalidParameterValue(f"{name}: comparator {comparator} takes exactly one value.")


def _check_locale(name: str, locale: Mapping[str, Any]) -> None:
    """ "Must be a valid ISO 3166 country code" (upper case, as MTurk wrote them); a Subdivision an
    ISO 3166-2 code's part after the country's (WA of US-WA). DECISION: the subdivision's form is
    checked, not that the country has it (openturk carries no ISO 3166-2 list)."""
    country, subdivision = locale.get("Country"), locale.get("Subdivision")
    if country not in COUNTRIES:
        raise InvalidParameterValue(f"{name}.Country {country!r} is not an ISO 3166-1 alpha-2 country code (e.g. US).")
    if subdivision is not None and not SUBDIVISION.match(subdivision):
        raise InvalidParameterValue(
            f"{name}.Subdivision {subdivision!r} is not an ISO 3166-2 subdivision code of {country} (e.g. WA)."
        )


def custom_type_ids(requirements: Sequence[Mapping[str, Any]]) -> set[str]:
    return {req["QualificationTypeId"] for req in requirements} - SYSTEM_TYPES


def uses_masters(requirements: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a HIT with these requirements uses the Masters qualification (and pays its fee): a
    requirement on a Masters type other than one that keeps Masters out (``DoesNotExist``)."""
    return any(
        req["QualificationTypeId"] in MASTERS_TYPES and req.get("Comparator") != "DoesNotExist" for req in requirements
    )


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
            # MTurk's sentence (human-nature-lab/breadboard#204), then where the id was given.
            raise QualificationTypeDoesNotExist(f"QualificationType [{type_id}] does not exist. {field}[{i}] names it.")
        if status != "Active":
            raise InvalidQualificationTypeState(
                f"Qualification type {type_id} in {field}[{i}] is {status}; only an Active type can be required."
            )


@dataclass(frozen=True)
class AssignmentRecord:
    """How many of a worker's assignments, across requesters, ended each way."""

    submitted: int = 0  # submitted, not yet approved or rejected
    approved: int = 0
    rejected: int = 0
    returned: int = 0
    abandoned: int = 0

    @property
    def decided(self) -> int:
        return self.approved + self.rejected

    @property
    def ended(self) -> int:
        return self.submitted + self.decided + self.returned + self.abandoned


def _percent(part: int, whole: int, new_worker: int) -> int:
    return new_worker if whole < PERCENT_FLOOR else (100 * part) // whole


@dataclass(frozen=True)
class WorkerStanding:
    """A worker's values for the requirements of one action: system values and requester grants."""

    record: AssignmentRecord = field(default_factory=AssignmentRecord)
    profile: WorkerProfile = field(default_factory=lambda: WorkerProfile(""))
    # The IntegerValue of each requester-owned type the worker holds Granted.
    granted: Mapping[str, int] = field(default_factory=dict)

    def value(self, type_id: str) -> int | str | None:
        """The worker's value of the type: an int, a locale (``US``/``US-WA``), or None when not held."""
        record = self.record
        system: dict[str, int | str | None] = {
            NUMBER_HITS_APPROVED: record.approved,
            PERCENT_APPROVED: _percent(record.approved, record.decided, 100),
            PERCENT_REJECTED: _percent(record.rejected, record.decided, 0),
            PERCENT_SUBMITTED: _percent(record.submitted + record.decided, record.ended, 100),
            PERCENT_RETURNED: _percent(record.returned, record.ended, 0),
            PERCENT_ABANDONED: _percent(record.abandoned, record.ended, 0),
            ADULT: 1 if self.profile.adult else 0,
            LOCALE: self.profile.locale,
            # Masters is held or not (Exists); both ids answer, sandbox and live.
            MASTERS: 1 if self.profile.is_master else None,
            MASTERS_SANDBOX: 1 if self.profile.is_master else None,
        }
        if type_id in system:
            return system[type_id]
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
    if isinstance(value, str):
        # A Country alone matches every subdivision of it; Country and Subdivision match exactly.
        matches = [isinstance(w, str) and (value == w or ("-" not in w and value.split("-")[0] == w)) for w in wanted]
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
    for name, document in (("Test", test), ("AnswerKey", answer_key)):
        if document is not None and len(document.encode("utf-8")) > questions.MAX_QUESTION_BYTES:
            raise ParameterOutOfRange(f"Value for {name} must be at most {questions.MAX_QUESTION_BYTES} bytes.")
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
            raise ParameterOutOfRange(f"Value for {label} must be at most {limit} characters.")
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


def test_time_problem(
    qualification_type: QualificationType, started_at: int | None, now: int
) -> tuple[str, str] | None:
    """Why answers to the type's Test are not taken now: (error name, message), or None.

    The worker must have started the Test, and answer within TestDurationInSeconds of the start."""
    if qualification_type.test is None:
        return None
    type_id = qualification_type.qualification_type_id
    if started_at is None:
        return "TestNotStarted", f"Start the Test of QualificationType {type_id} before sending its answers."
    duration_s = qualification_type.test_duration_s or 0
    if now > started_at + duration_s * 1000:
        return (
            "TestTimeExpired",
            f"The {duration_s} seconds allowed for the Test of QualificationType {type_id} have passed: "
            "your answers were not taken. Start the Test again to retake it.",
        )
    return None
