"""What the worker API may store as an answer: every refused value is named, every accepted one renders."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openturk.domain import answers

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
PARTS = ["SelectionIdentifiers", "OtherSelectionText", "FreeText", "UploadedFileKey", "UploadedFileSizeInBytes"]
# Objects made of the real part names, each holding any JSON value: where type confusion hides.
PART_OBJECTS = st.dictionaries(st.sampled_from(PARTS), JSON, max_size=4)


@given(value=JSON | PART_OBJECTS)
def test_a_value_is_refused_by_name_or_rendered(value: Any) -> None:
    problem = answers.value_problem("q1", value)
    if problem is not None:
        assert problem.startswith("Answers.q1")
    else:
        assert "<QuestionIdentifier>q1</QuestionIdentifier>" in answers.answers_document([("q1", value)])


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"UploadedFileKey": "k", "UploadedFileSizeInBytes": "abc"}, "Answers.q1.UploadedFileSizeInBytes"),
        ({"UploadedFileKey": "k", "UploadedFileSizeInBytes": True}, "Answers.q1.UploadedFileSizeInBytes"),
        ({"UploadedFileKey": "k", "UploadedFileSizeInBytes": -1}, "Answers.q1.UploadedFileSizeInBytes"),
        ({"SelectionIdentifiers": 5}, "Answers.q1.SelectionIdentifiers"),
        ({"SelectionIdentifiers": [1]}, "Answers.q1.SelectionIdentifiers"),
        ({"FreeText": ["a"]}, "Answers.q1.FreeText"),
        ({"Colour": "red"}, "Colour"),
        ({"UploadedFileKey": "k", "FreeText": "t"}, "FreeText and UploadedFileKey"),
        ({"SelectionIdentifiers": ["s"], "FreeText": "t"}, "SelectionIdentifiers and FreeText"),
        ({"OtherSelectionText": "o", "UploadedFileSizeInBytes": 2}, "one of selections"),
        ({"UploadedFileSizeInBytes": 2}, "needs its UploadedFileKey"),
        (5, "Answers.q1"),
        ([None], "Answers.q1"),
    ],
)
def test_bad_values_name_the_field(value: Any, field: str) -> None:
    problem = answers.value_problem("q1", value)
    assert problem is not None and field in problem


def test_good_values_are_accepted() -> None:
    for value in [
        "yes",
        ["a", "b"],
        {"SelectionIdentifiers": ["a"], "OtherSelectionText": "x"},
        {"UploadedFileKey": "k", "UploadedFileSizeInBytes": 12},
        {"FreeText": "t"},
    ]:
        assert answers.value_problem("q1", value) is None
