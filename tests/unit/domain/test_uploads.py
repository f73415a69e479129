"""FileUploadAnswer rules: size bounds from the QuestionForm, URL signatures, answered keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openturk.domain import answers, questions, uploads
from openturk.errors import XMLParseError

NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd"


def _form(spec: str) -> str:
    return (
        f'<QuestionForm xmlns="{NS}"><Question><QuestionIdentifier>f</QuestionIdentifier>'
        f"<QuestionContent><Text>t</Text></QuestionContent><AnswerSpecification>{spec}"
        "</AnswerSpecification></Question></QuestionForm>"
    )


def test_bounds_parsed_with_mturk_defaults() -> None:
    bounded = questions.parse_question(
        _form(
            "<FileUploadAnswer><MaxFileSizeInBytes>9</MaxFileSizeInBytes>"
            "<MinFileSizeInBytes>3</MinFileSizeInBytes></FileUploadAnswer>"
        )
    )
    assert bounded.upload_bounds == (("f", 3, 9),)
    assert questions.parse_question(_form("<FileUploadAnswer/>")).upload_bounds == (("f", 0, 2_000_000_000),)
    assert questions.parse_question(_form("<FreeTextAnswer/>")).upload_bounds == ()


@pytest.mark.parametrize(
    "spec",
    [
        "<FileUploadAnswer><MaxFileSizeInBytes>x</MaxFileSizeInBytes></FileUploadAnswer>",
        "<FileUploadAnswer><MaxFileSizeInBytes>2000000001</MaxFileSizeInBytes></FileUploadAnswer>",
        "<FileUploadAnswer><MinFileSizeInBytes>5</MinFileSizeInBytes>"
        "<MaxFileSizeInBytes>4</MaxFileSizeInBytes></FileUploadAnswer>",
    ],
)
def test_bad_bounds_refused(spec: str) -> None:
    with pytest.raises(XMLParseError):
        questions.parse_question(_form(spec))


def test_size_problem() -> None:
    assert uploads.size_problem(5, 0, 5) is None
    assert "at least 2" in (uploads.size_problem(1, 2, 5) or "")
    assert "at most 5" in (uploads.size_problem(6, 2, 5) or "")


@given(st.text(min_size=1, max_size=40), st.integers(min_value=0, max_value=10**10))
def test_signature_round_trip(key: str, expires: int) -> None:
    secret = b"k" * 32
    good = uploads.signature(secret, key, expires)
    assert uploads.signature_valid(secret, key, str(expires), good, expires)
    assert not uploads.signature_valid(secret, key, str(expires), good, expires + 1)  # expired
    assert not uploads.signature_valid(b"other", key, str(expires), good, 0)
    assert not uploads.signature_valid(secret, key + "x", str(expires), good, 0)
    assert not uploads.signature_valid(secret, key, str(expires + 1), good, 0)
    assert not uploads.signature_valid(secret, key, None, good, 0)
    assert not uploads.signature_valid(secret, key, str(expires), None, 0)


def test_answered_key_reads_the_answers_document() -> None:
    document = answers.answers_document(
        [("note", "hi"), ("f", {"UploadedFileKey": "K1", "UploadedFileSizeInBytes": 3})]
    )
    assert uploads.answered_key(document, "f") == "K1"
    assert uploads.answered_key(document, "note") is None
    assert uploads.answered_key(None, "f") is None
    assert uploads.answered_key("<not xml", "f") is None
