"""MTurk's /mturk/externalSubmit form endpoint, as ExternalQuestion and HTMLQuestion pages use it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from openturk.testing import ServerProcess, Worker
from tests.conftest import EXTERNAL_QUESTION, events_of, hit_params


def test_form_fields_become_free_text_answers(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(Question=EXTERNAL_QUESTION))["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    form = [
        ("assignmentId", assignment_id),
        ("hitId", hit["HITId"]),
        ("workerId", worker.worker_id),
        ("turkSubmitTo", server.base_url),
        ("colour", "blue"),
        ("note", "héllo <b>"),
        ("colour", "green"),
    ]
    response = httpx.post(
        server.base_url + "/mturk/externalSubmit",
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    answer = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["Answer"]
    assert answer.count("<Answer>") == 3
    assert "<QuestionIdentifier>colour</QuestionIdentifier><FreeText>blue</FreeText>" in answer
    assert "<QuestionIdentifier>colour</QuestionIdentifier><FreeText>green</FreeText>" in answer
    assert "<FreeText>h&#233;llo &lt;b&gt;</FreeText>" in answer
    assert "assignmentId" not in answer and "turkSubmitTo" not in answer
    assert events_of(server, hit["HITId"])[-2:] == [("AssignmentSubmitted", assignment_id), ("HITReviewable", None)]


def test_bad_submissions_change_nothing(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(Question=EXTERNAL_QUESTION))["HIT"]
    url = server.base_url + "/mturk/externalSubmit"
    assert httpx.post(url, data={"answer": "x"}).status_code == 400
    assert httpx.post(url, data={"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "a": "x"}).status_code == 400
    assert httpx.post(url, data={"assignmentId": "3NOSUCHASSIGNMENT0000000000000"}).status_code == 404
    accepted = worker.accept(hit["HITId"])
    accepted.raise_for_status()
    # A field whose name is only characters XML cannot hold would be an Answer with an empty
    # QuestionIdentifier: refused, not submitted.
    unnamed = httpx.post(url, data={"assignmentId": accepted.json()["AssignmentId"], "\x01": "x"})
    assert unnamed.status_code == 400 and "QuestionIdentifier" in unnamed.text
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []
    worker.submit(accepted.json()["AssignmentId"], {"a": "x"}).raise_for_status()
    assignment_id = accepted.json()["AssignmentId"]
    assert httpx.post(url, data={"assignmentId": assignment_id, "a": "again"}).status_code == 409
    assert [e for e, _ in events_of(server, hit["HITId"])].count("AssignmentSubmitted") == 1
