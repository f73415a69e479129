"""QualificationRequirements: validation of their shape, and whether a worker meets them.

System qualification types are MTurk's documented ids. DECISION: until workers carry real
qualification records, a worker's system values are derived: Locale US, Adult 0, no Masters,
NumberHITsApproved and PercentAssignmentsApproved from their assignments (100 % until 100 decided).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openturk.errors import InvalidParameterValue, QualificationTypeDoesNotExist

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
        if type_id not in SYSTEM_TYPES:
            raise QualificationTypeDoesNotExist(f"Qualification type {type_id} in {name} does not exist.")
        integers, locales = req.get("IntegerValues"), req.get("LocaleValues")
        if comparator in _PRESENCE:
            if integers or locales:
                raise InvalidParameterValue(f"{name}: comparator {comparator} takes no values.")
            continue
        if integers and locales:
            raise InvalidParameterValue(f"{name}: give IntegerValues or LocaleValues, not both.")
        if not integers and not locales:
            raise InvalidParameterValue(f"{name}: comparator {comparator} needs IntegerValues or LocaleValues.")
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


@dataclass(frozen=True)
class WorkerStanding:
    approved: int = 0
    decided: int = 0
    country: str = "US"

    def value(self, type_id: str) -> int | str | None:
        if type_id == NUMBER_HITS_APPROVED:
            return self.approved
        if type_id == PERCENT_APPROVED:
            return 100 if self.decided < 100 else (100 * self.approved) // self.decided
        if type_id == ADULT:
            return 0
        if type_id == LOCALE:
            return self.country
        return None


def guards(requirement: Mapping[str, Any], action: str) -> bool:
    """Whether ``requirement`` guards ``action`` (Accept, Preview or Discover)."""
    guarded = requirement.get("ActionsGuarded") or (
        "PreviewAndAccept" if requirement.get("RequiredToPreview") else "Accept"
    )
    order = {"Accept": 0, "PreviewAndAccept": 1, "DiscoverPreviewAndAccept": 2}
    needed = {"Accept": 0, "Preview": 1, "Discover": 2}[action]
    return order[guarded] >= needed


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
