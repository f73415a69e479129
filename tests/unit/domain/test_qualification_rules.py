"""The pure qualification rules: requirement types, custom values and AnswerKey scoring."""

from __future__ import annotations

import pytest

from openturk.domain import answer_keys, qualifications
from openturk.errors import InvalidQualificationTypeState, QualificationTypeDoesNotExist, XMLParseError

KEY = (
    '<AnswerKey xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/AnswerKey.xsd">'
    "<Question><QuestionIdentifier>q</QuestionIdentifier><AnswerOption><SelectionIdentifier>a</SelectionIdentifier>"
    "<AnswerScore>3</AnswerScore></AnswerOption><DefaultScore>1</DefaultScore></Question></AnswerKey>"
)


def test_check_types_accepts_system_and_own_active_types() -> None:
    requirements = [
        {"QualificationTypeId": qualifications.LOCALE, "Comparator": "Exists"},
        {"QualificationTypeId": "3OWN", "Comparator": "Exists"},
    ]
    assert qualifications.custom_type_ids(requirements) == {"3OWN"}
    qualifications.check_types(requirements, {"3OWN": "Active"})
    missing = r"^QualificationType \[3OWN\] does not exist\. QualificationRequirements\[1\]"  # MTurk's, then where
    with pytest.raises(QualificationTypeDoesNotExist, match=missing):
        qualifications.check_types(requirements, {})
    with pytest.raises(InvalidQualificationTypeState):
        qualifications.check_types(requirements, {"3OWN": "Disposing"})


def test_custom_values_meet_requirements() -> None:
    standing = qualifications.WorkerStanding(granted={"3OWN": 7})
    assert qualifications.meets({"QualificationTypeId": "3OWN", "Comparator": "In", "IntegerValues": [1, 7]}, standing)
    assert not qualifications.meets({"QualificationTypeId": "3OTHER", "Comparator": "Exists"}, standing)
    assert qualifications.meets({"QualificationTypeId": "3OTHER", "Comparator": "DoesNotExist"}, standing)


def test_answer_key_scores_and_refuses_bad_documents() -> None:
    key = answer_keys.parse(KEY)
    assert answer_keys.qualification_value(key, {"q": ["a"]}) == 3
    assert answer_keys.qualification_value(key, {"q": ["a", "b"]}) == 1
    assert answer_keys.qualification_value(key, {}) == 1
    for bad in ("<AnswerKey/>", "not xml", KEY.replace("<AnswerScore>3", "<AnswerScore>x")):
        with pytest.raises(XMLParseError):
            answer_keys.parse(bad)


def test_a_hit_uses_masters_when_a_requirement_admits_only_masters() -> None:
    def on(type_id: str, comparator: str) -> list[dict[str, str]]:
        locale = {"QualificationTypeId": qualifications.LOCALE, "Comparator": "Exists"}
        return [locale, {"QualificationTypeId": type_id, "Comparator": comparator}]

    assert qualifications.uses_masters(on(qualifications.MASTERS, "Exists"))
    assert qualifications.uses_masters(on(qualifications.MASTERS_SANDBOX, "EqualTo"))
    assert not qualifications.uses_masters(on(qualifications.MASTERS, "DoesNotExist"))  # keeps Masters out
    assert not qualifications.uses_masters(on(qualifications.ADULT, "Exists"))
    assert not qualifications.uses_masters([])
