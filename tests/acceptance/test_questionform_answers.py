"""What the QuestionForm validator gives is what the worker API takes and what boto3 reads back:
a HIT with every answer type, and a qualification test scored by its AnswerKey."""

from __future__ import annotations

import uuid
from typing import Any

import defusedxml.ElementTree as SafeET

from openturk.domain import answer_keys
from openturk.domain import answers as answers_xml
from openturk.testing import Worker
from openturk.web.questionform import UploadedFile, parse, validate
from tests.conftest import hit_params
from tests.support.questionforms import (
    COLOURS,
    EVERYTHING,
    EVERYTHING_POSTED,
    free_text,
    question,
    question_form,
    selection,
)

NS = "{" + answers_xml.NAMESPACE + "}"
SUBMITTED = {
    **EVERYTHING_POSTED,
    "age": ["7.5"],
    "story": ["Once <upon> a time"],
    "toys": ["box", "ball"],
    "food": ["fish", "__other__"],
}


def test_a_validated_question_form_is_submitted_and_read_back(mturk: Any, worker: Worker) -> None:
    form = parse(EVERYTHING)
    hit = mturk.create_hit(**hit_params(Question=EVERYTHING))["HIT"]
    accepted = worker.accept(hit["HITId"])
    accepted.raise_for_status()
    assignment_id = accepted.json()["AssignmentId"]
    content = b"m" * 500
    uploaded = worker.http.put(
        f"/api/worker/assignments/{assignment_id}/files/photo", params={"WorkerId": worker.worker_id}, content=content
    )
    assert uploaded.status_code == 200, uploaded.text
    stored = UploadedFile(uploaded.json()["UploadedFileKey"], uploaded.json()["UploadedFileSizeInBytes"])

    # food allows one choice: fish and Other are two, so the server refuses before anything is sent.
    _, errors = validate(form, SUBMITTED, {"photo": stored})
    assert errors == {"food": "Choose exactly 1."}
    found, errors = validate(form, {**SUBMITTED, "food": ["__other__"]}, {"photo": stored})
    assert errors == {}

    worker.submit(assignment_id, dict(found)).raise_for_status()
    document = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["Answer"]
    read = {
        answer.findtext(f"{NS}QuestionIdentifier"): answer for answer in SafeET.fromstring(document).iter(f"{NS}Answer")
    }
    assert list(read) == [q.identifier for q in form.questions]
    assert read["story"].findtext(f"{NS}FreeText") == "Once <upon> a time"
    assert read["age"].findtext(f"{NS}FreeText") == "7.5"
    assert [e.text for e in read["toys"].findall(f"{NS}SelectionIdentifier")] == ["ball", "box"]
    assert read["food"].findall(f"{NS}SelectionIdentifier") == []
    assert read["food"].findtext(f"{NS}OtherSelectionText") == "mice"
    assert read["photo"].findtext(f"{NS}UploadedFileKey") == stored.file_key
    assert read["photo"].findtext(f"{NS}UploadedFileSizeInBytes") == str(len(content))


def test_a_qualification_test_is_taken_through_the_same_validator(mturk: Any, worker: Worker) -> None:
    test = question_form(
        question("colour", selection(COLOURS), required=True),
        question("sum", free_text('<IsNumeric minValue="0" maxValue="10"/>'), required=True),
    )
    key = (
        f'<AnswerKey xmlns="{answer_keys.NAMESPACE}">'
        "<Question><QuestionIdentifier>colour</QuestionIdentifier><AnswerOption>"
        "<SelectionIdentifier>green</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
        "<Question><QuestionIdentifier>sum</QuestionIdentifier><AnswerOption>"
        "<SelectionIdentifier>4</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
        "</AnswerKey>"
    )
    type_id = mturk.create_qualification_type(
        Name=f"questionform test {uuid.uuid4().hex}",
        Description="Colours and sums",
        QualificationTypeStatus="Active",
        Test=test,
        AnswerKey=key,
        TestDurationInSeconds=300,
    )["QualificationType"]["QualificationTypeId"]
    form = parse(test)

    _, errors = validate(form, {"colour": ["green"], "sum": ["11"]})
    assert errors == {"sum": "Enter a number of at most 10."}
    found, errors = validate(form, {"colour": ["green"], "sum": ["4"]})
    assert errors == {}
    started = worker.http.get(f"/api/worker/qualifications/{type_id}/test", params={"WorkerId": worker.worker_id})
    assert started.status_code == 200, started.text  # the Test's duration runs from here
    requested = worker.http.post(
        f"/api/worker/qualifications/{type_id}/request", json={"WorkerId": worker.worker_id, "Answers": dict(found)}
    )
    assert requested.status_code == 200, requested.text
    assert (requested.json()["Status"], requested.json()["IntegerValue"]) == ("Granted", 2)
    held = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)["Qualification"]
    assert held["IntegerValue"] == 2
