"""The server checks every QuestionForm constraint again and gives answers in the shape submit takes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import defusedxml.ElementTree as SafeET
import pytest

from openturk.domain import answer_keys, answers
from openturk.web.questionform import UploadedFile, parse, validate
from openturk.workers import qualifications
from tests.support.questionforms import (
    COLOURS,
    EVERYTHING,
    EVERYTHING_ANSWERS,
    EVERYTHING_POSTED,
    free_text,
    question,
    question_form,
    selection,
    upload,
)

GOOD: dict[str, list[str]] = {**EVERYTHING_POSTED, "toys": ["box", "ball"], "csrf": ["ignored"]}


def check(document: str, submitted: Mapping[str, Sequence[str]], files: Mapping[str, UploadedFile] | None = None) -> (
    tuple[list[tuple[str, object]], dict[str, str]]
):  # fmt: skip
    return validate(parse(document), submitted, files)


def error(document: str, submitted: Mapping[str, Sequence[str]], identifier: str = "a") -> str | None:
    return check(document, submitted)[1].get(identifier)


def test_a_good_submission_gives_every_answer_in_the_forms_order() -> None:
    found, errors = check(EVERYTHING, GOOD, {"photo": UploadedFile("KEY", 500)})
    assert errors == {}
    assert found == EVERYTHING_ANSWERS  # toys in the form's order, whatever order they came in


def test_the_answers_are_what_the_worker_submit_takes() -> None:
    found, _ = check(EVERYTHING, GOOD, {"photo": UploadedFile("KEY", 500)})
    assert all(answers.value_problem(identifier, value) is None for identifier, value in found)
    document = SafeET.fromstring(answers.answers_document(found))
    ns = "{" + answers.NAMESPACE + "}"
    food = next(a for a in document if a.findtext(f"{ns}QuestionIdentifier") == "food")
    assert food.findtext(f"{ns}OtherSelectionText") == "mice"
    likes = next(a for a in document if a.findtext(f"{ns}QuestionIdentifier") == "likes")
    assert [e.text for e in likes.findall(f"{ns}SelectionIdentifier")] == ["red", "blue"]
    photo = next(a for a in document if a.findtext(f"{ns}QuestionIdentifier") == "photo")
    assert photo.findtext(f"{ns}UploadedFileKey") == "KEY"


def test_a_qualification_test_is_scored_from_the_validated_answers() -> None:
    test = question_form(question("colour", selection(COLOURS)), question("sum", free_text("<IsNumeric/>")))
    key = answer_keys.parse(
        f'<AnswerKey xmlns="{answer_keys.NAMESPACE}">'
        "<Question><QuestionIdentifier>colour</QuestionIdentifier><AnswerOption>"
        "<SelectionIdentifier>green</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
        "<Question><QuestionIdentifier>sum</QuestionIdentifier><AnswerOption>"
        "<SelectionIdentifier>4</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
        "</AnswerKey>"
    )
    found, errors = check(test, {"colour": ["green"], "sum": ["4"]})
    assert errors == {}
    given = {identifier: qualifications._selections(value) for identifier, value in found}
    assert answer_keys.qualification_value(key, given) == 2


def test_unanswered_optional_questions_have_no_answer() -> None:
    found, errors = check(
        question_form(question("a", free_text()), question("b", selection(COLOURS)), question("c", upload(0, 9))),
        {"a": [""], "b": []},
    )
    assert (found, errors) == ([], {})


@pytest.mark.parametrize(
    ("answer", "submitted"),
    [
        (free_text(), {"a": [""]}),
        (free_text(), {}),
        (selection(COLOURS), {}),
        (selection(COLOURS, style="dropdown"), {"a": [""]}),
        (upload(0, 10), {}),
    ],
)
def test_required_questions_need_an_answer(answer: str, submitted: dict[str, list[str]]) -> None:
    problem = error(question_form(question("a", answer, required=True)), submitted)
    assert problem is not None and problem.startswith("This question requires")


@pytest.mark.parametrize(
    ("constraints", "value", "problem"),
    [
        ('<IsNumeric minValue="1" maxValue="30"/>', "seven", "Enter a number."),
        ('<IsNumeric minValue="1" maxValue="30"/>', "1,5", "Enter a number."),
        ('<IsNumeric minValue="1" maxValue="30"/>', "30.5", "Enter a number of at most 30."),
        ('<IsNumeric minValue="1" maxValue="30"/>', "0", "Enter a number of at least 1."),
        ('<IsNumeric minValue="1" maxValue="30"/>', "31", "Enter a number of at most 30."),
        ('<Length minLength="2" maxLength="4"/>', "a", "Enter at least 2 characters (you entered 1)."),
        ('<Length minLength="2" maxLength="4"/>', "abcde", "Enter at most 4 characters (you entered 5)."),
        ('<AnswerFormatRegex regex="^[A-Z]{3}$" errorText="Three capitals."/>', "abc", "Three capitals."),
        ('<AnswerFormatRegex regex="^[A-Z]{3}$"/>', "AB", "Invalid input supplied."),
        ('<AnswerFormatRegex regex="\\S"/>', "", "Invalid input supplied."),
        ('<AnswerFormatRegex regex="^[A-Z]{3}$"/>', "ABC\n", "Invalid input supplied."),
        ('<AnswerFormatRegex regex="^\\d$"/>', "\u0663", "Invalid input supplied."),
        ('<AnswerFormatRegex regex="^cat$" flags="i" errorText="cat"/>', "dog", "cat"),
        ('<AnswerFormatRegex regex="\\S"/><AnswerFormatRegex regex="^a" errorText="Start with a."/>', "ba",
         "Start with a."),
    ],
)  # fmt: skip
def test_free_text_constraints_are_checked(constraints: str, value: str, problem: str) -> None:
    assert error(question_form(question("a", free_text(constraints))), {"a": [value]}) == problem


@pytest.mark.parametrize(
    ("constraints", "value"),
    [
        ('<IsNumeric minValue="1" maxValue="30"/>', " 30 "),
        ('<IsNumeric minValue="1" maxValue="30"/>', "7.5"),
        ('<IsNumeric maxValue="30"/>', "1e1"),
        ('<Length minLength="2"/>', "  "),
        ('<AnswerFormatRegex regex="(^$|\\S{2,})"/>', ""),
        ('<IsNumeric minValue="-5"/>', "-5"),
        ('<Length minLength="2" maxLength="4"/>', "éééé"),
        ('<AnswerFormatRegex regex="^cat$" flags="i"/>', "CaT"),
        ('<AnswerFormatRegex regex="\\S"/>', "  x  "),
        ('<AnswerFormatRegex regex="^b$" flags="m"/>', "a\nb"),
    ],
)
def test_free_text_within_its_constraints_passes(constraints: str, value: str) -> None:
    assert error(question_form(question("a", free_text(constraints))), {"a": [value]}) is None


def test_two_values_for_one_free_text_are_refused() -> None:
    assert error(question_form(question("a", free_text())), {"a": ["x", "y"]}) == "Send one answer to this question."


OTHER = '<OtherSelection><Constraints><Length maxLength="5"/></Constraints></OtherSelection>'


@pytest.mark.parametrize(
    ("low", "high", "submitted", "problem"),
    [
        (1, 1, {"a": ["nope"]}, "Choose only from the choices offered."),
        (1, 1, {"a": ["red", "blue"]}, "Choose exactly 1."),
        (2, 3, {"a": ["red"]}, "Choose from 2 to 3."),
        (0, 2, {"a": ["red", "blue", "green"]}, "Choose up to 2."),
        (1, 2, {"a": ["red"], "a.OtherSelectionText": ["x", "y"]}, "Send one 'Other' answer."),
        (1, 2, {"a": ["__other__"]}, "Type your 'Other' answer, or choose another option."),
        (1, 2, {"a": ["__other__"], "a.OtherSelectionText": ["toolong"]},
         "Other: Enter at most 5 characters (you entered 7)."),
        (1, 1, {"a": ["red"], "a.OtherSelectionText": ["pink"]}, "Choose exactly 1."),
    ],
)  # fmt: skip
def test_selection_constraints_are_checked(low: int, high: int, submitted: dict[str, list[str]], problem: str) -> None:
    assert (
        error(question_form(question("a", selection(COLOURS, low=low, high=high, other=OTHER))), submitted) == problem
    )


def test_typing_other_text_chooses_other() -> None:
    document = question_form(question("a", selection(COLOURS, low=1, high=2, other=OTHER)))
    found, errors = check(document, {"a": ["red"], "a.OtherSelectionText": ["pink"]})
    assert errors == {}
    assert found == [("a", {"SelectionIdentifiers": ["red"], "OtherSelectionText": "pink"})]


def test_an_other_value_without_other_selection_is_not_a_choice() -> None:
    assert error(question_form(question("a", selection(COLOURS))), {"a": ["__other__"]}) == (
        "Choose only from the choices offered."
    )


@pytest.mark.parametrize(
    ("size", "problem"),
    [
        (9, "The file is 9 bytes; the question requires at least 10 bytes."),
        (1001, "The file is 1001 bytes; the question allows at most 1000 bytes."),
        (10, None),
        (1000, None),
    ],
)
def test_uploads_are_checked_for_size(size: int, problem: str | None) -> None:
    found, errors = check(question_form(question("a", upload(10, 1000))), {}, {"a": UploadedFile("K", size)})
    assert errors.get("a") == problem
    assert (found == []) == (problem is not None)


def test_every_question_gets_its_own_error() -> None:
    _, errors = check(EVERYTHING, {**GOOD, "name": [""], "age": ["99"], "likes": ["red", "blue", "green"]})
    assert set(errors) == {"name", "age", "likes"}
