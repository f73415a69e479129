"""Qualification types, grants and requests through boto3, and requirements enforced in the worker API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from openturk.testing import ServerProcess, Worker
from tests.conftest import error_code, hit_params, new_worker
from tests.support.concurrency import at_once, released_together

QUESTION_FORM = (
    '<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/'
    'QuestionForm.xsd"><Question><QuestionIdentifier>q1</QuestionIdentifier>'
    "<QuestionContent><Text>2+2?</Text></QuestionContent><AnswerSpecification><FreeTextAnswer/>"
    "</AnswerSpecification></Question></QuestionForm>"
)
ANSWER_KEY = (
    '<AnswerKey xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/'
    'AnswerKey.xsd"><Question><QuestionIdentifier>q1</QuestionIdentifier><AnswerOption>'
    "<SelectionIdentifier>4</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question></AnswerKey>"
)


def _name() -> str:
    return f"Skill {uuid.uuid4().hex[:8]}"


def _create(mturk: Any, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "Name": _name(),
        "Description": "Workers good at labelling",
        "QualificationTypeStatus": "Active",
    }
    params.update(overrides)
    return dict(mturk.create_qualification_type(**params)["QualificationType"])


def _request(worker: Worker, type_id: str, **body: Any) -> httpx.Response:
    return worker.http.post(
        f"/api/worker/qualifications/{type_id}/request", json={"WorkerId": worker.worker_id, **body}
    )


def _start_test(worker: Worker, type_id: str) -> httpx.Response:
    """Show the type's Test to the worker and start its clock."""
    return worker.http.get(f"/api/worker/qualifications/{type_id}/test", params={"WorkerId": worker.worker_id})


def _raises(mturk: Any, code: str, call: Any, **params: Any) -> str:
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        call(**params)
    assert error_code(excinfo) == code
    return str(excinfo.value.response["Error"]["Message"])


def test_create_get_update_delete(mturk: Any) -> None:
    created = _create(mturk, Keywords="images, cats", RetryDelayInSeconds=60)
    assert created["QualificationTypeStatus"] == "Active"
    assert created["IsRequestable"] is True and created["AutoGranted"] is False
    assert created["RetryDelayInSeconds"] == 60
    type_id = created["QualificationTypeId"]
    assert len(type_id) == 30
    got = mturk.get_qualification_type(QualificationTypeId=type_id)["QualificationType"]
    assert got["Name"] == created["Name"] and got["Keywords"] == "images, cats"

    message = _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationTypeAlreadyExists",
        mturk.create_qualification_type,
        Name=created["Name"],
        Description="again",
        QualificationTypeStatus="Active",
    )
    assert message.startswith(
        "You have already created a QualificationType with this name. A QualificationType's name must be unique "
        "among all of the QualificationTypes created by the same user."
    )

    updated = mturk.update_qualification_type(
        QualificationTypeId=type_id, Description="New text", QualificationTypeStatus="Inactive", RetryDelayInSeconds=120
    )["QualificationType"]
    assert updated["RetryDelayInSeconds"] == 120
    assert updated["Description"] == "New text" and updated["QualificationTypeStatus"] == "Inactive"
    assert updated["Name"] == created["Name"] and updated["IsRequestable"] is False

    mturk.delete_qualification_type(QualificationTypeId=type_id)
    assert mturk.get_qualification_type(QualificationTypeId=type_id)["QualificationType"][
        "QualificationTypeStatus"
    ] == ("Disposing")
    _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        mturk.update_qualification_type,
        QualificationTypeId=type_id,
        Description="x",
    )
    # As MTurk answered DisposeQualificationType on a disposing type (chbrown/formious).
    message = _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidQualificationTypeState",
        mturk.delete_qualification_type,
        QualificationTypeId=type_id,
    )
    assert message.startswith("This operation can be called with a status of: Active,Inactive")
    # DECISION: the name is free again at once.
    assert _create(mturk, Name=created["Name"])["QualificationTypeId"] != type_id


def test_test_answer_key_and_auto_granted(mturk: Any) -> None:
    tested = _create(mturk, Test=QUESTION_FORM, AnswerKey=ANSWER_KEY, TestDurationInSeconds=300)
    assert tested["Test"] == QUESTION_FORM and tested["AnswerKey"] == ANSWER_KEY
    assert tested["TestDurationInSeconds"] == 300
    auto = _create(mturk, AutoGranted=True)
    assert auto["AutoGranted"] is True and auto["AutoGrantedValue"] == 1
    assert _create(mturk, AutoGranted=True, AutoGrantedValue=7)["AutoGrantedValue"] == 7
    bad: list[tuple[dict[str, Any], str]] = [
        ({"Test": QUESTION_FORM}, "TestDurationInSeconds"),
        ({"Test": QUESTION_FORM, "TestDurationInSeconds": 60, "AutoGranted": True}, "AutoGranted"),
        ({"AnswerKey": ANSWER_KEY}, "AnswerKey"),
        ({"Description": "  "}, "Description"),
    ]
    for overrides, field in bad:
        params = {"Name": _name(), "Description": "d", "QualificationTypeStatus": "Active", **overrides}
        message = _raises(mturk, "AWS.MechanicalTurk.InvalidParameterValue", mturk.create_qualification_type, **params)
        assert field in message
    out_of_range = [
        ({"Name": "x" * 256}, "Name"),
        ({"Description": "x" * 2001}, "Description"),
        ({"Keywords": "k" * 1001}, "Keywords"),
        ({"Test": QUESTION_FORM, "TestDurationInSeconds": 0}, "TestDurationInSeconds"),
        ({"RetryDelayInSeconds": -1}, "RetryDelayInSeconds"),
    ]
    for overrides, field in out_of_range:  # ranges, as CreateHIT's lengths
        params = {"Name": _name(), "Description": "d", "QualificationTypeStatus": "Active", **overrides}
        message = _raises(mturk, "AWS.ParameterOutOfRange", mturk.create_qualification_type, **params)
        assert field in message
    params = {"Name": _name(), "Description": "d", "QualificationTypeStatus": "Active"}
    _raises(
        mturk,
        "AWS.MechanicalTurk.XMLParseError",
        mturk.create_qualification_type,
        Test="<nope/>",
        TestDurationInSeconds=60,
        **params,
    )
    # Nothing was written by the refusals: the caller owns exactly the three good types.
    owned = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True)
    assert owned["NumResults"] == 3
    # A tested type cannot become AutoGranted.
    _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidParameterValue",
        mturk.update_qualification_type,
        QualificationTypeId=tested["QualificationTypeId"],
        AutoGranted=True,
    )
    retested = mturk.update_qualification_type(
        QualificationTypeId=tested["QualificationTypeId"], Test=QUESTION_FORM, TestDurationInSeconds=30
    )["QualificationType"]
    assert "AnswerKey" not in retested and retested["TestDurationInSeconds"] == 30
    # Without Test the test is unchanged: its duration or key change only with its Test given again.
    for change in ({"TestDurationInSeconds": 99}, {"AnswerKey": "<AnswerKey/>"}):
        refusal = _raises(
            mturk,
            "AWS.MechanicalTurk.InvalidParameterValue",
            mturk.update_qualification_type,
            QualificationTypeId=tested["QualificationTypeId"],
            **change,
        )
        assert next(iter(change)) in refusal and "give Test" in refusal
    kept = mturk.get_qualification_type(QualificationTypeId=tested["QualificationTypeId"])["QualificationType"]
    assert kept["TestDurationInSeconds"] == 30 and "AnswerKey" not in kept


def test_list_query_ownership_and_paging(server: ServerProcess, mturk: Any) -> None:
    other = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    marker = uuid.uuid4().hex[:10]
    mine = [_create(mturk, Name=f"Mine {marker} {i}", Keywords="Alpha") for i in range(3)]
    _create(mturk, Name=f"Inactive {marker}", QualificationTypeStatus="Inactive")
    theirs = _create(other, Name=f"Theirs {marker}", Description=f"Also {marker.upper()}")
    found = mturk.list_qualification_types(MustBeRequestable=True, Query=marker.upper(), MaxResults=100)
    names = {t["Name"] for t in found["QualificationTypes"]}
    assert names == {t["Name"] for t in mine} | {theirs["Name"]}
    owned = mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True, Query=marker)
    assert owned["NumResults"] == 4
    by_keyword = mturk.list_qualification_types(MustBeRequestable=True, MustBeOwnedByCaller=True, Query="alPHA")
    assert by_keyword["NumResults"] == 3

    pages, token = [], None
    while True:
        kwargs: dict[str, Any] = {"MustBeRequestable": True, "MustBeOwnedByCaller": True, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = mturk.list_qualification_types(**kwargs)
        if not page["QualificationTypes"]:
            assert "NextToken" not in page
            break
        assert page["NextToken"]  # every non-empty page carries one
        pages.append([t["QualificationTypeId"] for t in page["QualificationTypes"]])
        token = page["NextToken"]
    assert [len(p) for p in pages] == [2, 1]
    assert [type_id for page in pages for type_id in page] == [t["QualificationTypeId"] for t in mine]

    system = mturk.list_qualification_types(MustBeRequestable=False, Query="Worker_Locale")
    assert [t["QualificationTypeId"] for t in system["QualificationTypes"]] == ["00000000000000000071"]
    assert mturk.get_qualification_type(QualificationTypeId="000000000000000000L0")["QualificationType"]["Name"]
    _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidParameterValue",
        mturk.list_qualification_types,
        MustBeRequestable=True,
        NextToken="bogus",
    )
    _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        mturk.get_qualification_type,
        QualificationTypeId="3NOSUCHTYPE",
    )


def test_grant_score_revoke_and_list_workers(server: ServerProcess, mturk: Any) -> None:
    type_id = _create(mturk)["QualificationTypeId"]
    first, second = new_worker(server).worker_id, new_worker(server).worker_id
    mturk.associate_qualification_with_worker(
        QualificationTypeId=type_id, WorkerId=first, IntegerValue=80, SendNotification=False
    )
    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=second)
    score = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=first)["Qualification"]
    assert (score["IntegerValue"], score["Status"], score["WorkerId"]) == (80, "Granted", first)
    assert "GrantTime" in score
    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=first, IntegerValue=90)
    assert (
        mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=first)["Qualification"]["IntegerValue"]
        == 90
    )

    mturk.disassociate_qualification_from_worker(QualificationTypeId=type_id, WorkerId=second, Reason="Sloppy")
    # As MTurk: a revoked qualification has no score to read (Dallinger relies on the message).
    message = _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidQualificationState",
        mturk.get_qualification_score,
        QualificationTypeId=type_id,
        WorkerId=second,
    )
    assert "This operation can be called with a status of: Granted" in message
    [revoked] = [
        q
        for q in mturk.list_workers_with_qualification_type(QualificationTypeId=type_id, Status="Revoked")[
            "Qualifications"
        ]
    ]
    assert (revoked["WorkerId"], revoked["Status"]) == (second, "Revoked")
    message = _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidQualificationState",
        mturk.disassociate_qualification_from_worker,
        QualificationTypeId=type_id,
        WorkerId=second,
    )
    assert "This operation can be called with a status of: Granted" in message
    nobody = new_worker(server).worker_id
    message = _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationDoesNotExist",
        mturk.get_qualification_score,
        QualificationTypeId=type_id,
        WorkerId=nobody,
    )
    assert message.startswith("You requested a Qualification that does not exist. (")  # MTurk's sentence, as matched
    _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationDoesNotExist",
        mturk.disassociate_qualification_from_worker,
        QualificationTypeId=type_id,
        WorkerId=nobody,
    )

    granted = mturk.list_workers_with_qualification_type(QualificationTypeId=type_id, Status="Granted")
    assert [q["WorkerId"] for q in granted["Qualifications"]] == [first]
    everyone = mturk.list_workers_with_qualification_type(QualificationTypeId=type_id, MaxResults=1)
    assert everyone["NumResults"] == 1 and everyone["NextToken"]
    rest = mturk.list_workers_with_qualification_type(
        QualificationTypeId=type_id, MaxResults=5, NextToken=everyone["NextToken"]
    )
    assert {q["WorkerId"] for q in everyone["Qualifications"] + rest["Qualifications"]} == {first, second}

    other = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    _raises(
        other,
        "AWS.MechanicalTurk.PermissionDenied",
        other.associate_qualification_with_worker,
        QualificationTypeId=type_id,
        WorkerId=first,
    )
    for type_of_anothers in (type_id, "NONEXISTENT"):  # another's type and no type at all answer as MTurk did
        message = _raises(
            other,
            "AWS.MechanicalTurk.QualificationDoesNotExist",
            other.get_qualification_score,
            QualificationTypeId=type_of_anothers,
            WorkerId=first,
        )
        assert message.startswith("You requested a Qualification that does not exist. (")
    _raises(
        other,
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        other.list_workers_with_qualification_type,
        QualificationTypeId=type_id,
    )
    _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        mturk.associate_qualification_with_worker,
        QualificationTypeId="3NOSUCHTYPE",
        WorkerId=first,
    )


def test_requests_accept_reject_and_retake(server: ServerProcess, mturk: Any) -> None:
    type_id = _create(mturk, RetryDelayInSeconds=3600)["QualificationTypeId"]
    once = _create(mturk)["QualificationTypeId"]
    first, second = new_worker(server), new_worker(server)
    r1 = _request(first, type_id)
    assert r1.status_code == 200 and r1.json()["Status"] == "Pending"
    r2 = _request(second, type_id)
    listed = mturk.list_qualification_requests(QualificationTypeId=type_id)
    assert [r["QualificationRequestId"] for r in listed["QualificationRequests"]] == [
        r1.json()["QualificationRequestId"],
        r2.json()["QualificationRequestId"],
    ]
    assert listed["QualificationRequests"][0]["WorkerId"] == first.worker_id
    assert mturk.list_qualification_requests()["NumResults"] == 2

    mturk.accept_qualification_request(QualificationRequestId=r1.json()["QualificationRequestId"], IntegerValue=5)
    score = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=first.worker_id)["Qualification"]
    assert (score["IntegerValue"], score["Status"]) == (5, "Granted")
    mturk.reject_qualification_request(QualificationRequestId=r2.json()["QualificationRequestId"], Reason="No")
    assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0
    for call in (mturk.accept_qualification_request, mturk.reject_qualification_request):
        message = _raises(
            mturk,
            "AWS.MechanicalTurk.InvalidQualificationRequestState",
            call,
            QualificationRequestId=r2.json()["QualificationRequestId"],
        )
        assert "Pending" in message
    _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationRequestDoesNotExist",
        mturk.accept_qualification_request,
        QualificationRequestId="3NOSUCHREQUEST",
    )
    other = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    r3 = _request(new_worker(server), type_id).json()["QualificationRequestId"]
    _raises(
        other,
        "AWS.MechanicalTurk.QualificationRequestDoesNotExist",
        other.accept_qualification_request,
        QualificationRequestId=r3,
    )
    _raises(
        other,
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        other.list_qualification_requests,
        QualificationTypeId=type_id,
    )

    # Retake rules: the rejected worker waits out the retry delay; a type without one allows one request.
    again = _request(second, type_id)
    assert (again.status_code, again.json()["Error"]) == (409, "QualificationTypeRetryDelayNotElapsed")
    server.advance(3601)
    assert _request(second, type_id).json()["Status"] == "Pending"
    server.advance(3601)  # the delay has passed again, but that request still waits: one at a time
    still = _request(second, type_id)
    assert (still.status_code, still.json()["Error"]) == (409, "QualificationRequestPending")
    assert _request(first, type_id).json()["Error"] == "QualificationAlreadyExists"
    assert _request(first, once).status_code == 200
    assert _request(first, once).json()["Error"] == "QualificationTypeDoesNotAllowRetake"
    assert _request(first, "3NOSUCHTYPE").status_code == 404

    # Deleting the type rejects what is pending and keeps grants.
    mturk.delete_qualification_type(QualificationTypeId=type_id)
    assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0
    assert mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=first.worker_id)["Qualification"]
    assert _request(new_worker(server), type_id).status_code == 404


def test_auto_granted_and_tested_requests(server: ServerProcess, mturk: Any) -> None:
    auto = _create(mturk, AutoGranted=True, AutoGrantedValue=3)["QualificationTypeId"]
    worker = new_worker(server)
    granted = _request(worker, auto).json()
    assert granted["Status"] == "Granted" and granted["QualificationRequestId"] is None
    score = mturk.get_qualification_score(QualificationTypeId=auto, WorkerId=worker.worker_id)["Qualification"]
    assert score["IntegerValue"] == 3
    # A Test without an AnswerKey: the answers wait, Pending, for the requester.
    tested = _create(mturk, Test=QUESTION_FORM, TestDurationInSeconds=60)["QualificationTypeId"]
    assert _request(worker, tested).json()["Error"] == "TestAnswersRequired"
    assert _request(worker, tested, Answers={"q1": 5}).json()["Error"] == "InvalidAnswer"
    assert mturk.list_qualification_requests(QualificationTypeId=tested)["NumResults"] == 0
    _start_test(worker, tested).raise_for_status()
    assert _request(worker, tested, Answers={"q1": "four"}).json()["Status"] == "Pending"
    listed = mturk.list_qualification_requests(QualificationTypeId=tested)["QualificationRequests"]
    assert "<QuestionIdentifier>q1</QuestionIdentifier><FreeText>four</FreeText>" in listed[0]["Answer"]
    assert listed[0]["Test"] == QUESTION_FORM
    # No IntegerValue: AutoGrantedValue, else 1.
    mturk.accept_qualification_request(QualificationRequestId=listed[0]["QualificationRequestId"])
    assert (
        mturk.get_qualification_score(QualificationTypeId=tested, WorkerId=worker.worker_id)["Qualification"][
            "IntegerValue"
        ]
        == 1
    )
    inactive = _create(mturk, QualificationTypeStatus="Inactive")["QualificationTypeId"]
    assert _request(worker, inactive).status_code == 409


def _key(mapping: str = "") -> str:
    options = "".join(
        f"<Question><QuestionIdentifier>{q}</QuestionIdentifier>"
        f"<AnswerOption><SelectionIdentifier>{right}</SelectionIdentifier><AnswerScore>2</AnswerScore></AnswerOption>"
        "<AnswerOption><SelectionIdentifier>a</SelectionIdentifier><SelectionIdentifier>b</SelectionIdentifier>"
        "<AnswerScore>1</AnswerScore></AnswerOption><DefaultScore>0</DefaultScore></Question>"
        for q, right in (("q1", "4"), ("q2", "yes"))
    )
    return ANSWER_KEY.split("<Question>")[0] + options + mapping + "</AnswerKey>"


@pytest.mark.parametrize(
    ("mapping", "answers", "value"),
    [
        ("", {"q1": "4", "q2": "yes"}, 4),
        ("", {"q1": "4", "q2": "no"}, 2),
        ("", {"q1": ["b", "a"], "q2": {"SelectionIdentifiers": ["yes"]}}, 3),
        ("", {}, 0),
        (
            "<QualificationValueMapping><PercentageMapping><MaximumSummedScore>4</MaximumSummedScore>"
            "</PercentageMapping></QualificationValueMapping>",
            {"q1": "4", "q2": ["a", "b"]},
            75,
        ),
        (
            "<QualificationValueMapping><ScaleMapping><SummedScoreMultiplier>10</SummedScoreMultiplier>"
            "</ScaleMapping></QualificationValueMapping>",
            {"q1": "4"},
            20,
        ),
        (
            "<QualificationValueMapping><RangeMapping><SummedScoreRange><InclusiveLowerBound>3</InclusiveLowerBound>"
            "<InclusiveUpperBound>4</InclusiveUpperBound><QualificationValue>100</QualificationValue>"
            "</SummedScoreRange><OutOfRangeQualificationValue>7</OutOfRangeQualificationValue></RangeMapping>"
            "</QualificationValueMapping>",
            {"q1": "4"},
            7,
        ),
    ],
)
def test_tests_are_scored_against_the_answer_key(
    server: ServerProcess, mturk: Any, mapping: str, answers: dict[str, Any], value: int
) -> None:
    type_id = _create(mturk, Test=QUESTION_FORM, AnswerKey=_key(mapping), TestDurationInSeconds=60)[
        "QualificationTypeId"
    ]
    worker = new_worker(server)
    _start_test(worker, type_id).raise_for_status()
    taken = _request(worker, type_id, Answers=answers).json()
    assert (taken["Status"], taken["IntegerValue"], taken["QualificationRequestId"]) == ("Granted", value, None)
    score = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)["Qualification"]
    assert score["IntegerValue"] == value
    assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0


def test_a_revoked_worker_takes_a_scored_test_again_or_re_requests_only_as_the_retry_rules_allow(
    server: ServerProcess, mturk: Any
) -> None:
    scored = _create(mturk, Test=QUESTION_FORM, AnswerKey=_key(), TestDurationInSeconds=60)["QualificationTypeId"]
    auto = _create(mturk, AutoGranted=True, RetryDelayInSeconds=3600)["QualificationTypeId"]
    worker = new_worker(server)
    _start_test(worker, scored).raise_for_status()
    assert _request(worker, scored, Answers={"q1": "a"}).json()["IntegerValue"] == 0
    assert _request(worker, auto).json()["Status"] == "Granted"
    for type_id in (scored, auto):
        mturk.disassociate_qualification_from_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id, Reason="r")
    # The scored type allows no retry: neither the Test nor a request again, ever.
    for refused in (_start_test(worker, scored), _request(worker, scored, Answers={"q1": "4"})):
        assert (refused.status_code, refused.json()["Error"]) == (409, "QualificationTypeDoesNotAllowRetake")
    again = _request(worker, auto)
    assert (again.status_code, again.json()["Error"]) == (409, "QualificationTypeRetryDelayNotElapsed")
    server.advance(3601)
    assert _request(worker, auto).json()["Status"] == "Granted"
    # Granted at once, each request is kept Approved: none waits for the requester.
    for type_id in (scored, auto):
        assert mturk.list_qualification_requests(QualificationTypeId=type_id)["NumResults"] == 0


def test_an_answer_key_over_65535_bytes_is_refused_naming_it(mturk: Any) -> None:
    padded = _key().replace("</AnswerKey>", "<!--" + "x" * 65535 + "--></AnswerKey>")
    assert "AnswerKey" in _refused_test_type(mturk, "AWS.ParameterOutOfRange", padded)


def _refused_test_type(mturk: Any, code: str, answer_key: str) -> str:
    """CreateQualificationType of a tested type with ``answer_key``, refused with ``code``: its message."""
    return _raises(
        mturk,
        code,
        mturk.create_qualification_type,
        Name=_name(),
        Description="d",
        QualificationTypeStatus="Active",
        Test=QUESTION_FORM,
        TestDurationInSeconds=60,
        AnswerKey=answer_key,
    )


def test_answer_key_must_be_an_answer_key(mturk: Any) -> None:
    for key in ("<AnswerKey/>", _key().replace("<AnswerScore>2</AnswerScore>", "<AnswerScore>x</AnswerScore>")):
        _refused_test_type(mturk, "AWS.MechanicalTurk.XMLParseError", key)
    assert mturk.list_qualification_types(MustBeRequestable=False, MustBeOwnedByCaller=True)["NumResults"] == 0


def _requirement(
    type_id: str, comparator: str, values: list[int] | None = None, guard: str = "Accept"
) -> dict[str, Any]:
    requirement: dict[str, Any] = {"QualificationTypeId": type_id, "Comparator": comparator, "ActionsGuarded": guard}
    if values is not None:
        requirement["IntegerValues"] = values
    return requirement


@pytest.mark.parametrize(
    ("comparator", "values", "held", "meets"),
    [
        ("Exists", None, 5, True),
        ("Exists", None, None, False),
        ("DoesNotExist", None, None, True),
        ("DoesNotExist", None, 5, False),
        ("EqualTo", [5], 5, True),
        ("EqualTo", [5], 6, False),
        ("NotEqualTo", [5], 6, True),
        ("NotEqualTo", [5], None, False),
        ("LessThan", [5], 4, True),
        ("LessThan", [5], 5, False),
        ("LessThanOrEqualTo", [5], 5, True),
        ("GreaterThan", [5], 5, False),
        ("GreaterThanOrEqualTo", [5], 5, True),
        ("In", [1, 5, 9], 9, True),
        ("In", [1, 5, 9], 2, False),
        ("NotIn", [1, 5, 9], 2, True),
        ("NotIn", [1, 5, 9], 5, False),
    ],
)
def test_accept_enforces_every_comparator(
    server: ServerProcess, mturk: Any, comparator: str, values: list[int] | None, held: int | None, meets: bool
) -> None:
    type_id = _create(mturk)["QualificationTypeId"]
    hit = mturk.create_hit(**hit_params(QualificationRequirements=[_requirement(type_id, comparator, values)]))["HIT"]
    assert hit["QualificationRequirements"][0]["QualificationTypeId"] == type_id
    worker = new_worker(server)
    if held is not None:
        mturk.associate_qualification_with_worker(
            QualificationTypeId=type_id, WorkerId=worker.worker_id, IntegerValue=held
        )
    accepted = worker.accept(hit["HITId"])
    if meets:
        assert accepted.status_code == 200
    else:
        assert (accepted.status_code, accepted.json()["Error"]) == (403, "DoesNotMeetRequirements")


def test_guards_at_discover_and_revocation(server: ServerProcess, mturk: Any) -> None:
    type_id = _create(mturk)["QualificationTypeId"]
    hidden = mturk.create_hit(
        **hit_params(QualificationRequirements=[_requirement(type_id, "Exists", guard="DiscoverPreviewAndAccept")])
    )["HIT"]["HITId"]
    shown = mturk.create_hit(
        **hit_params(QualificationRequirements=[_requirement(type_id, "Exists", guard="PreviewAndAccept")])
    )["HIT"]["HITId"]
    worker = new_worker(server)
    seen = {h["HITId"]: h for h in worker.hits()}
    assert hidden not in seen and seen[shown]["Qualified"] is False
    assert worker.accept(hidden).status_code == 404  # as its preview: it does not exist for this worker
    mturk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id)
    seen = {h["HITId"]: h for h in worker.hits()}
    assert hidden in seen and seen[shown]["Qualified"] is True
    mturk.disassociate_qualification_from_worker(QualificationTypeId=type_id, WorkerId=worker.worker_id)
    assert hidden not in {h["HITId"] for h in worker.hits()}
    assert worker.accept(shown).status_code == 404  # listed, but guarded at preview: accept says what preview does


def test_requirements_name_only_own_active_types(server: ServerProcess, mturk: Any) -> None:
    other = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    foreign = _create(other)["QualificationTypeId"]
    inactive = _create(mturk, QualificationTypeStatus="Inactive")["QualificationTypeId"]
    before = mturk.list_hits()["NumResults"]
    message = _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        mturk.create_hit,
        **hit_params(QualificationRequirements=[_requirement(foreign, "Exists")]),
    )
    assert "QualificationRequirements[0]" in message
    _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidQualificationTypeState",
        mturk.create_hit_type,
        **{k: v for k, v in hit_params().items() if k not in ("LifetimeInSeconds", "MaxAssignments", "Question")},
        QualificationRequirements=[_requirement(inactive, "Exists")],
    )
    _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidParameterValue",
        mturk.create_hit,
        **hit_params(
            QualificationRequirements=[
                {"QualificationTypeId": inactive, "Comparator": "EqualTo", "LocaleValues": [{"Country": "US"}]}
            ]
        ),
    )
    assert mturk.list_hits()["NumResults"] == before


def test_delete_retires_hit_types_and_lists_hits(mturk: Any) -> None:
    type_id = _create(mturk)["QualificationTypeId"]
    requirement = [_requirement(type_id, "GreaterThan", [1])]
    hit = mturk.create_hit(**hit_params(QualificationRequirements=requirement))["HIT"]
    second = mturk.create_hit_with_hit_type(
        HITTypeId=hit["HITTypeId"], LifetimeInSeconds=600, Question=hit_params()["Question"]
    )["HIT"]
    mturk.create_hit(**hit_params())
    listed = mturk.list_hits_for_qualification_type(QualificationTypeId=type_id, MaxResults=1)
    assert listed["NumResults"] == 1 and listed["NextToken"]
    rest = mturk.list_hits_for_qualification_type(QualificationTypeId=type_id, NextToken=listed["NextToken"])
    assert [h["HITId"] for h in listed["HITs"] + rest["HITs"]] == [hit["HITId"], second["HITId"]]
    _raises(
        mturk,
        "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
        mturk.list_hits_for_qualification_type,
        QualificationTypeId="3NOSUCHTYPE",
    )
    mturk.delete_qualification_type(QualificationTypeId=type_id)
    _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidQualificationTypeState",
        mturk.create_hit_with_hit_type,
        HITTypeId=hit["HITTypeId"],
        LifetimeInSeconds=600,
        Question=hit_params()["Question"],
    )
    _raises(
        mturk,
        "AWS.MechanicalTurk.InvalidQualificationTypeState",
        mturk.create_hit,
        **hit_params(QualificationRequirements=requirement),
    )


def test_grants_and_revocations_made_at_once_are_decided_one_way(server: ServerProcess, mturk: Any) -> None:
    """PostgreSQL: two first grants at once raced on the row's key (a 500), and two revocations
    both found it Granted (both answered 200)."""
    type_id = _create(mturk)["QualificationTypeId"]
    worker_id = "A" + uuid.uuid4().hex[:13].upper()

    def grant(client: Any) -> None:
        client.associate_qualification_with_worker(
            QualificationTypeId=type_id, WorkerId=worker_id, IntegerValue=3, SendNotification=False
        )

    assert at_once(mturk, grant, times=2) == ["ok", "ok"]
    score = mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker_id)["Qualification"]
    assert (score["Status"], score["IntegerValue"]) == ("Granted", 3)

    def revoke(client: Any) -> None:
        client.disassociate_qualification_from_worker(QualificationTypeId=type_id, WorkerId=worker_id, Reason="r")

    assert at_once(mturk, revoke, times=2) == ["AWS.MechanicalTurk.InvalidQualificationState", "ok"]


def test_the_query_folds_the_case_of_every_letter_on_every_store(mturk: Any) -> None:
    """SQLite's own lower() folds ASCII only: "é" found "école" but not "École" there, both on PostgreSQL."""
    tag = uuid.uuid4().hex[:8]
    created = _create(mturk, Name=f"École {tag}", Keywords=f"ΑΘΗΝΑ Ärger {tag}")["QualificationTypeId"]
    for query in (f"école {tag}", f"ÉCOLE {tag}", f"αθηνα ärger {tag}"):
        found = mturk.list_qualification_types(MustBeRequestable=True, MustBeOwnedByCaller=True, Query=query)
        assert created in [t["QualificationTypeId"] for t in found["QualificationTypes"]], query


def test_a_deleted_types_grants_still_meet_the_hits_that_name_it(server: ServerProcess, mturk: Any) -> None:
    """DeleteQualificationType "does not revoke Qualifications already assigned to Workers because the
    Qualifications might be needed for active HITs": those HITs stay takeable by their holders."""
    type_id = _create(mturk)["QualificationTypeId"]
    holder, other = new_worker(server), new_worker(server)
    mturk.associate_qualification_with_worker(
        QualificationTypeId=type_id, WorkerId=holder.worker_id, IntegerValue=1, SendNotification=False
    )
    requirement = [{"QualificationTypeId": type_id, "Comparator": "Exists"}]
    hit_id = mturk.create_hit(**hit_params(MaxAssignments=2, QualificationRequirements=requirement))["HIT"]["HITId"]
    mturk.delete_qualification_type(QualificationTypeId=type_id)
    assert holder.accept(hit_id).status_code == 200
    assert other.accept(hit_id).status_code == 403


def _requests_at_once(worker: Worker, type_id: str, times: int = 6) -> list[str]:
    """``times`` requests of one worker for one type, released together: each answer's Status or Error."""

    def request() -> str:
        answer = _request(worker, type_id).json()
        return str(answer.get("Status") or answer["Error"])

    return released_together(request, times)


def test_one_workers_requests_made_at_once_are_decided_one_way(server: ServerProcess, mturk: Any) -> None:
    """PostgreSQL: requests made at the same moment each found nothing Pending (or nothing Granted)
    and all went through: six Pending requests, or six grants, for one worker."""
    waiting = _create(mturk, RetryDelayInSeconds=60)["QualificationTypeId"]
    auto = _create(mturk, AutoGranted=True)["QualificationTypeId"]
    pending = _requests_at_once(new_worker(server), waiting)
    assert pending.count("Pending") == 1, pending
    assert set(pending) <= {"Pending", "QualificationRequestPending", "QualificationTypeRetryDelayNotElapsed"}
    granted = _requests_at_once(new_worker(server), auto)
    assert granted.count("Granted") == 1, granted
    assert set(granted) <= {"Granted", "QualificationAlreadyExists", "QualificationTypeRetryDelayNotElapsed"}
    assert len(mturk.list_qualification_requests(QualificationTypeId=waiting)["QualificationRequests"]) == 1
