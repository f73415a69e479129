"""The pure qualification rules: requirement types, custom values and AnswerKey scoring."""

from __future__ import annotations

import pytest

from openturk.domain import answer_keys, qualifications
from openturk.errors import (
    InvalidParameterValue,
    InvalidQualificationTypeState,
    ParameterOutOfRange,
    QualificationTypeDoesNotExist,
    XMLParseError,
)

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


def _scaled(multiplier: str, score: str = "50", default: str = "0") -> str:
    return (
        KEY.replace("<AnswerScore>3", f"<AnswerScore>{score}")
        .replace("<DefaultScore>1", f"<DefaultScore>{default}")
        .replace(
            "</AnswerKey>",
            "<QualificationValueMapping><ScaleMapping><SummedScoreMultiplier>"
            f"{multiplier}</SummedScoreMultiplier></ScaleMapping></QualificationValueMapping></AnswerKey>",
        )
    )


def test_scale_mapping_multiplies_exactly_and_rounds_down() -> None:
    assert answer_keys.qualification_value(answer_keys.parse(_scaled("0.58")), {"q": ["a"]}) == 29  # not 28.999…
    assert answer_keys.qualification_value(answer_keys.parse(_scaled("2.3")), {"q": ["a"]}) == 115
    negative = answer_keys.parse(_scaled("0.5", score="-1"))
    assert answer_keys.qualification_value(negative, {"q": ["a"]}) == -1  # down, not towards zero


@pytest.mark.parametrize(
    "bad",
    [
        _scaled("inf"),
        _scaled("nan"),
        _scaled("1e30"),  # 50 · 10³⁰ is no qualification value
        _scaled(""),
        _scaled("3000000000"),
        _scaled("100000000"),  # 50 · 10⁸ > 2³¹ − 1
        KEY.replace("<AnswerScore>3", "<AnswerScore>2147483648"),
        KEY.replace("<AnswerScore>3", "<AnswerScore>٣"),
        KEY.replace("<DefaultScore>1", "<DefaultScore>" + "9" * 5000),
        # Each score fits; their sum does not.
        KEY.replace(
            "</AnswerKey>",
            "<Question><QuestionIdentifier>r</QuestionIdentifier><AnswerOption><SelectionIdentifier>a"
            "</SelectionIdentifier><AnswerScore>2147483647</AnswerScore></AnswerOption></Question></AnswerKey>",
        ),
    ],
)
def test_answer_keys_that_could_score_beyond_32_bits_are_refused(bad: str) -> None:
    with pytest.raises(XMLParseError, match="AnswerKey"):
        answer_keys.parse(bad)


def test_answer_key_extremes_within_32_bits_are_taken() -> None:
    assert answer_keys.qualification_value(answer_keys.parse(_scaled("-1", score="2147483647")), {"q": ["a"]}) == (
        -2147483647
    )
    low = KEY.replace("<AnswerScore>3", "<AnswerScore>-2147483648").replace("<DefaultScore>1", "<DefaultScore>0")
    assert answer_keys.qualification_value(answer_keys.parse(low), {"q": ["a"]}) == -(2**31)


def test_test_and_answer_key_are_at_most_65535_bytes() -> None:
    padded = KEY.replace("</AnswerKey>", "<!--" + "x" * 65535 + "--></AnswerKey>")
    with pytest.raises(ParameterOutOfRange, match="AnswerKey"):
        qualifications.check_test("<QuestionForm/>", padded, 60, False)
    with pytest.raises(ParameterOutOfRange, match="Value for Test"):
        qualifications.check_test("<x>" + "x" * 65535 + "</x>", None, 60, False)


@pytest.mark.parametrize(
    ("locale", "names"),
    [
        ({"Country": "JJ"}, "LocaleValues[0].Country 'JJ'"),
        ({"Country": "us"}, "LocaleValues[0].Country 'us'"),
        ({"Country": "USA"}, "LocaleValues[0].Country 'USA'"),
        ({"Country": "US", "Subdivision": "WASH"}, "LocaleValues[0].Subdivision 'WASH'"),
        ({"Country": "US", "Subdivision": "wa"}, "LocaleValues[0].Subdivision 'wa'"),
    ],
)
def test_locale_values_are_iso_3166_codes(locale: dict[str, str], names: str) -> None:
    """ "Must be a valid ISO 3166 country code": a HIT guarded by another locale could never be taken."""
    requirement = {"QualificationTypeId": qualifications.LOCALE, "Comparator": "EqualTo", "LocaleValues": [locale]}
    with pytest.raises(InvalidParameterValue) as refused:
        qualifications.validate([requirement])
    assert names in refused.value.message
    qualifications.validate([{**requirement, "LocaleValues": [{"Country": "US", "Subdivision": "WA"}]}])
