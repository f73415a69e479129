"""parse_answers against documents shaped as MTurk and openturk write them."""

from __future__ import annotations

from openturk.consumer import UploadedFile, parse_answers
from openturk.domain.answers import answers_document

NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"


def test_every_answer_kind() -> None:
    xml = (
        f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{NS}">'
        "<Answer><QuestionIdentifier>free</QuestionIdentifier><FreeText>h&#233;llo</FreeText></Answer>"
        "<Answer><QuestionIdentifier>one</QuestionIdentifier><SelectionIdentifier>red</SelectionIdentifier></Answer>"
        "<Answer><QuestionIdentifier>many</QuestionIdentifier><SelectionIdentifier>a</SelectionIdentifier>"
        "<SelectionIdentifier>b</SelectionIdentifier></Answer>"
        "<Answer><QuestionIdentifier>other</QuestionIdentifier><OtherSelectionText>teal</OtherSelectionText></Answer>"
        "<Answer><QuestionIdentifier>file</QuestionIdentifier><UploadedFileSizeInBytes>42</UploadedFileSizeInBytes>"
        "<UploadedFileKey>k/1</UploadedFileKey></Answer>"
        "<Answer><QuestionIdentifier>empty</QuestionIdentifier><FreeText/></Answer>"
        "</QuestionFormAnswers>"
    )
    assert parse_answers({"Answer": xml}) == {
        "free": "héllo",
        "one": ["red"],
        "many": ["a", "b"],
        "other": "teal",
        "file": UploadedFile("k/1", 42),
        "empty": "",
    }


def test_round_trip_with_the_server_writer_and_repeated_fields() -> None:
    xml = answers_document([("colour", "blue"), ("colour", "green"), ("tags", ["x", "y"]), ("n", "1")])
    assert parse_answers(xml) == {"colour": ["blue", "green"], "tags": ["x", "y"], "n": "1"}
    assert parse_answers({"Answer": ""}) == {}
