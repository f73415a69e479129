"""Profiles' codes and the system values a worker's standing computes from profile and record."""

from __future__ import annotations

import pytest

from openturk.domain import profiles, qualifications
from openturk.domain.profiles import WorkerProfile
from openturk.domain.qualifications import AssignmentRecord, WorkerStanding
from openturk.errors import WorkerError


@pytest.mark.parametrize(
    ("country", "subdivision", "expected"),
    [("us", None, ("US", None)), ("US", "wa", ("US", "WA")), ("US", "US-WA", ("US", "WA")), ("GB", " ", ("GB", None))],
)
def test_checked_locale_normalises(country: str, subdivision: str | None, expected: tuple[str, str | None]) -> None:
    assert profiles.checked_locale(country, subdivision) == expected


@pytest.mark.parametrize(
    ("country", "subdivision", "field"),
    [("XX", None, "Country"), ("USA", None, "Country"), ("", None, "Country"), ("US", "WASH", "Subdivision")],
)
def test_checked_locale_names_the_bad_field(country: str, subdivision: str | None, field: str) -> None:
    with pytest.raises(WorkerError) as excinfo:
        profiles.checked_locale(country, subdivision)
    assert excinfo.value.status == 400 and excinfo.value.message.startswith(field)


def test_percentages_hold_the_new_worker_value_until_100_count() -> None:
    few = WorkerStanding(record=AssignmentRecord(approved=10, rejected=89, returned=50))
    assert few.value(qualifications.PERCENT_APPROVED) == 100
    assert few.value(qualifications.PERCENT_REJECTED) == 0
    assert few.value(qualifications.PERCENT_RETURNED) == 33  # 50 of 149 ended: that floor is passed
    many = WorkerStanding(record=AssignmentRecord(approved=75, rejected=25, returned=100, abandoned=100))
    assert many.value(qualifications.PERCENT_APPROVED) == 75
    assert many.value(qualifications.PERCENT_REJECTED) == 25
    assert many.value(qualifications.PERCENT_SUBMITTED) == 33
    assert many.value(qualifications.PERCENT_RETURNED) == 33
    assert many.value(qualifications.PERCENT_ABANDONED) == 33
    assert many.value(qualifications.NUMBER_HITS_APPROVED) == 75


def test_profile_values_and_locale_matching() -> None:
    master = WorkerStanding(profile=WorkerProfile("A1", "DE", "BE", adult=True, masters_granted_at=5))
    assert master.value(qualifications.LOCALE) == "DE-BE"
    assert master.value(qualifications.ADULT) == 1
    assert master.value(qualifications.MASTERS) == master.value(qualifications.MASTERS_SANDBOX) == 1
    assert WorkerStanding().value(qualifications.MASTERS) is None
    assert WorkerStanding().value(qualifications.LOCALE) == "US"

    def meets(comparator: str, *codes: tuple[str, str | None]) -> bool:
        values = [{"Country": c, **({"Subdivision": s} if s else {})} for c, s in codes]
        requirement = {"QualificationTypeId": qualifications.LOCALE, "Comparator": comparator, "LocaleValues": values}
        return qualifications.meets(requirement, master)

    assert meets("EqualTo", ("DE", None)) and meets("EqualTo", ("DE", "BE")) and not meets("EqualTo", ("DE", "BY"))
    assert meets("In", ("FR", None), ("DE", "BE")) and not meets("In", ("FR", None), ("DE", "BY"))
    assert meets("NotIn", ("FR", None), ("DE", "BY")) and not meets("NotIn", ("DE", None))


def test_locale_values_belong_to_the_locale_type_only() -> None:
    requirement = {
        "QualificationTypeId": qualifications.ADULT,
        "Comparator": "EqualTo",
        "LocaleValues": [{"Country": "US"}],
    }
    with pytest.raises(qualifications.InvalidParameterValue, match="Locale"):
        qualifications.validate([requirement])
