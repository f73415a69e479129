"""A QuestionForm the worker site cannot show is refused where it enters: CreateHIT,
CreateHITWithHITType and CreateQualificationType's Test all answer XMLParseError naming what is
wrong, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import error_code, hit_params
from tests.support.questionforms import EVERYTHING, free_text, question, question_form, selection

XML_PARSE_ERROR = "AWS.MechanicalTurk.XMLParseError"
TWO = {"a": "<Text>A</Text>", "b": "<Text>B</Text>"}

# Each passed the old Question check and made a worker page that said "this form cannot be shown".
UNRENDERABLE = [
    pytest.param(question_form(question("q", free_text())).replace(">false<", ">yes<"), "IsRequired", id="is-required"),
    pytest.param(
        question_form(question("q", free_text('<AnswerFormatRegex regex="[^]"/>'))), "AnswerFormatRegex", id="regex"
    ),
    pytest.param(
        question_form(
            question("q", "<SelectionAnswer><StyleSuggestion>radiobutton</StyleSuggestion></SelectionAnswer>")
        ),
        "Selections",
        id="no-selections",
    ),
    pytest.param(
        question_form(question("q", free_text(), content="<Video>clip</Video>")), "Video", id="unknown-content"
    ),
    pytest.param(question_form(question("q", selection(TWO, style="slider"))), "StyleSuggestion", id="style"),
    pytest.param(
        question_form(
            question("q", selection(TWO)).replace(
                "<Selections>", "<MaxSelectionCount>many</MaxSelectionCount><Selections>"
            )
        ),
        "MaxSelectionCount",
        id="count",
    ),
    pytest.param(question_form("<Overview><Text>x</Text></Overview><Note>x</Note>"), "Note", id="unknown-part"),
]


@pytest.mark.parametrize(("document", "named"), UNRENDERABLE)
def test_create_hit_refuses_a_form_the_site_cannot_show(mturk: Any, document: str, named: str) -> None:
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit(**hit_params(Question=document))
    assert error_code(excinfo) == XML_PARSE_ERROR
    assert named in excinfo.value.response["Error"]["Message"]
    type_id = mturk.create_hit_type(Title="t", Description="d", Reward="0.10", AssignmentDurationInSeconds=60)[
        "HITTypeId"
    ]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=60, Question=document)
    assert error_code(excinfo) == XML_PARSE_ERROR
    assert named in excinfo.value.response["Error"]["Message"]
    assert mturk.list_hits()["NumResults"] == 0
    assert mturk.get_account_balance()["OnHoldBalance"] == "0.00"


@pytest.mark.parametrize(("document", "named"), UNRENDERABLE)
def test_create_qualification_type_refuses_a_test_the_site_cannot_show(mturk: Any, document: str, named: str) -> None:
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_qualification_type(
            Name="Unshowable test",
            Description="d",
            QualificationTypeStatus="Active",
            Test=document,
            TestDurationInSeconds=60,
        )
    assert error_code(excinfo) == XML_PARSE_ERROR
    assert named in excinfo.value.response["Error"]["Message"]
    owned = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True)
    assert owned["NumResults"] == 0


def test_every_form_the_site_shows_is_still_accepted(mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(Question=EVERYTHING))["HIT"]
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["Question"] == EVERYTHING
    created = mturk.create_qualification_type(
        Name="Showable test",
        Description="d",
        QualificationTypeStatus="Active",
        Test=EVERYTHING,
        TestDurationInSeconds=60,
    )
    assert created["QualificationType"]["Test"] == EVERYTHING
