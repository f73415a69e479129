"""HIT types and HITs over boto3 against the real server: create, read, list, update, delete."""

from __future__ import annotations

import datetime
import sqlite3
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from openturk.testing import ServerProcess
from tests.conftest import EXTERNAL_QUESTION, HTML_QUESTION, error_code, events_of, hit_params, new_worker
from tests.support.concurrency import at_once

TYPE_PARAMS = {
    "Title": "Label an image",
    "Description": "Say what is in the picture",
    "Reward": "0.50",
    "AssignmentDurationInSeconds": 600,
    "AutoApprovalDelayInSeconds": 86400,
}


def test_create_hit_type_reuses_identical_properties(mturk: Any) -> None:
    first = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    again = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    other = mturk.create_hit_type(**{**TYPE_PARAMS, "Reward": "0.51"})["HITTypeId"]
    assert first == again
    assert other != first
    assert (len(first) == 30 and first.isalnum() and first.isupper()) or first.isdigit()


def test_a_default_written_out_is_the_same_hit_type_as_one_left_out(mturk: Any) -> None:
    """Keywords "" reads back as none, ActionsGuarded Accept is what guards an omitted one: the same
    values, so the same HITTypeId."""
    title = {**TYPE_PARAMS, "Title": f"Defaults {uuid.uuid4().hex[:6]}"}
    assert mturk.create_hit_type(**title)["HITTypeId"] == mturk.create_hit_type(**title, Keywords="")["HITTypeId"]
    locale = {
        "QualificationTypeId": "00000000000000000071",
        "Comparator": "EqualTo",
        "LocaleValues": [{"Country": "US"}],
    }
    implicit = mturk.create_hit_type(**title, QualificationRequirements=[locale])["HITTypeId"]
    explicit = mturk.create_hit_type(**title, QualificationRequirements=[{**locale, "ActionsGuarded": "Accept"}])
    assert explicit["HITTypeId"] == implicit
    wider = mturk.create_hit_type(**title, QualificationRequirements=[{**locale, "ActionsGuarded": "PreviewAndAccept"}])
    assert wider["HITTypeId"] != implicit


def test_create_hit_returns_every_field_clients_depend_on(mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=3, Keywords="image, label", RequesterAnnotation="batch-7"))[
        "HIT"
    ]
    assert hit["HITStatus"] == "Assignable"
    assert hit["HITReviewStatus"] == "NotReviewed"
    assert hit["QualificationRequirements"] == []
    assert hit["Reward"] == "0.50"
    assert hit["HITGroupId"] == hit["HITTypeId"]
    assert hit["MaxAssignments"] == 3
    assert hit["NumberOfAssignmentsAvailable"] == 3
    assert hit["NumberOfAssignmentsPending"] == 0
    assert hit["NumberOfAssignmentsCompleted"] == 0
    assert hit["RequesterAnnotation"] == "batch-7"
    assert hit["Keywords"] == "image, label"
    lifetime = (hit["Expiration"] - hit["CreationTime"]).total_seconds()
    assert lifetime == pytest.approx(3600, abs=1)
    fetched = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert fetched == hit


def test_create_hit_with_hit_type_and_reward_rendering(mturk: Any) -> None:
    type_id = mturk.create_hit_type(**{**TYPE_PARAMS, "Reward": "5"})["HITTypeId"]
    hit = mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=60, Question=EXTERNAL_QUESTION)["HIT"]
    assert hit["HITTypeId"] == type_id
    assert hit["Reward"] == "5.00"
    assert hit["Title"] == TYPE_PARAMS["Title"]
    assert hit["AssignmentDurationInSeconds"] == 600


def test_create_hit_with_another_requesters_type_is_refused(server: ServerProcess, mturk: Any) -> None:
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    stranger = server.client("AKIDSTRANGER0001")
    with pytest.raises(stranger.exceptions.RequestError) as excinfo:
        stranger.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=60, Question=HTML_QUESTION)
    assert error_code(excinfo) == "AWS.MechanicalTurk.HITTypeDoesNotExist"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"Reward": "abc"}, "AWS.MechanicalTurk.InvalidParameterValue", "Reward"),
        ({"Reward": "0.00"}, "AWS.MechanicalTurk.InvalidParameterValue", "Reward"),
        ({"LifetimeInSeconds": 10}, "AWS.ParameterOutOfRange", "LifetimeInSeconds"),
        ({"LifetimeInSeconds": 31_536_001}, "AWS.ParameterOutOfRange", "LifetimeInSeconds"),
        ({"AssignmentDurationInSeconds": 29}, "AWS.ParameterOutOfRange", "AssignmentDurationInSeconds"),
        ({"AutoApprovalDelayInSeconds": 2_592_001}, "AWS.ParameterOutOfRange", "AutoApprovalDelayInSeconds"),
        ({"Title": "x" * 129}, "AWS.ParameterOutOfRange", "Title"),
        ({"RequesterAnnotation": "x" * 256}, "AWS.ParameterOutOfRange", "RequesterAnnotation"),
        ({"Question": "<not-xml"}, "AWS.MechanicalTurk.XMLParseError", "XML"),
        (
            {"Question": "<HTMLQuestion><HTMLContent>x</HTMLContent></HTMLQuestion>"},
            "AWS.MechanicalTurk.XMLParseError",
            "namespace",
        ),
        ({"Question": HTML_QUESTION.replace("<!DOCTYPE html>", "")}, "AWS.MechanicalTurk.XMLParseError", "DOCTYPE"),
        ({"Question": "x" * 70000}, "AWS.MechanicalTurk.XMLParseError", "65535"),
        (
            {
                "QualificationRequirements": [
                    {"QualificationTypeId": "00000000000000000040", "Comparator": "GreaterThan"}
                ]
            },
            "AWS.MechanicalTurk.InvalidParameterValue",
            "QualificationRequirements[0]",
        ),
        (
            {"QualificationRequirements": [{"QualificationTypeId": "3NOSUCHTYPE", "Comparator": "Exists"}]},
            "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
            "QualificationRequirements[0]",
        ),
        (
            {
                "QualificationRequirements": [{"QualificationTypeId": "00000000000000000040", "Comparator": "Exists"}]
                * 11
            },
            "AWS.ParameterOutOfRange",
            "QualificationRequirements",
        ),
        (
            {
                "QualificationRequirements": [
                    {
                        "QualificationTypeId": "00000000000000000040",
                        "Comparator": "In",
                        "IntegerValues": list(range(16)),
                    }
                ]
            },
            "AWS.ParameterOutOfRange",
            "QualificationRequirements[0]",
        ),
    ],
)
def test_create_hit_validation_names_the_field_and_writes_nothing(
    mturk: Any, overrides: dict[str, Any], code: str, field: str
) -> None:
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit(**hit_params(**overrides))
    assert error_code(excinfo) == code
    assert field in excinfo.value.response["Error"]["Message"]
    assert mturk.list_hits()["NumResults"] == 0
    assert mturk.get_account_balance()["OnHoldBalance"] == "0.00"


def test_question_and_layout_are_exclusive(mturk: Any) -> None:
    params = hit_params()
    del params["Question"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit(**params)
    assert "Question" in excinfo.value.response["Error"]["Message"]


def test_unique_request_token_makes_create_hit_idempotent(mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(UniqueRequestToken="token-1"))["HIT"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit(**hit_params(UniqueRequestToken="token-1"))
    assert error_code(excinfo) == "AWS.MechanicalTurk.HitAlreadyExists"
    assert hit["HITId"] in excinfo.value.response["Error"]["Message"]
    assert mturk.list_hits()["NumResults"] == 1
    type_id = hit["HITTypeId"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_hit_with_hit_type(
            HITTypeId=type_id, LifetimeInSeconds=60, Question=HTML_QUESTION, UniqueRequestToken="token-1"
        )
    assert hit["HITId"] in excinfo.value.response["Error"]["Message"]


def test_one_token_sent_at_once_by_several_threads_makes_one_hit_and_one_bonus(
    server: ServerProcess, mturk: Any
) -> None:
    """Taking the token is the write that serialises them: on PostgreSQL a read-then-write check let
    two concurrent requests both go ahead (two HITs, two bonuses paid) or answer 500."""
    hit = mturk.create_hit(**hit_params())["HIT"]
    assignment_id = new_worker(server).do(hit["HITId"])
    worker_id = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["WorkerId"]
    created = at_once(mturk, lambda client: client.create_hit(**hit_params(UniqueRequestToken="race-hit")))
    assert created == ["AWS.MechanicalTurk.HitAlreadyExists"] * 3 + ["ok"]
    bonused = at_once(
        mturk,
        lambda client: client.send_bonus(
            WorkerId=worker_id, BonusAmount="0.01", AssignmentId=assignment_id, Reason="r", UniqueRequestToken="race-b"
        ),
    )
    assert bonused == ["AWS.MechanicalTurk.DuplicateRequest"] * 3 + ["ok"]
    assert mturk.list_hits()["NumResults"] == 2
    assert mturk.list_bonus_payments(AssignmentId=assignment_id)["NumResults"] == 1


def test_request_tokens_are_per_requester(server: ServerProcess, mturk: Any) -> None:
    mturk.create_hit(**hit_params(UniqueRequestToken="shared-token"))
    other = server.client("AKIDOTHERTOKENS01")
    other.create_hit(**hit_params(UniqueRequestToken="shared-token"))


def test_list_hits_paginates_stably_over_several_pages(mturk: Any) -> None:
    created = [mturk.create_hit(**hit_params())["HIT"]["HITId"] for _ in range(7)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 3}
        if token:
            kwargs["NextToken"] = token
        page = mturk.list_hits(**kwargs)
        assert page["NumResults"] == len(page["HITs"])
        seen.extend(h["HITId"] for h in page["HITs"])
        pages += 1
        if pages == 1:
            # A HIT created between pages comes after everything already listed, never duplicated.
            created.append(mturk.create_hit(**hit_params())["HIT"]["HITId"])
        token = page.get("NextToken")
        # As MTurk paged: a token on every non-empty page, none on the empty page after the last.
        assert bool(token) == bool(page["HITs"])
        if not token:
            break
    assert pages == 4
    assert seen == created
    assert len(set(seen)) == len(seen)


def test_paginator_and_bad_tokens(mturk: Any) -> None:
    for _ in range(5):
        mturk.create_hit(**hit_params())
    listed = [
        h for page in mturk.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": 2}) for h in page["HITs"]
    ]
    assert len(listed) == 5
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.list_hits(NextToken="garbage!!")
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue"
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.list_hits(MaxResults=101)
    assert error_code(excinfo) == "AWS.ParameterOutOfRange"
    assert "MaxResults" in excinfo.value.response["Error"]["Message"]


def test_requesters_never_see_each_others_objects(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    assignment_id = new_worker(server).do(hit["HITId"])
    stranger = server.client("AKIDSTRANGER0002")
    assert stranger.list_hits()["HITs"] == []
    assert stranger.list_reviewable_hits()["HITs"] == []
    for call in (
        lambda: stranger.get_hit(HITId=hit["HITId"]),
        lambda: stranger.list_assignments_for_hit(HITId=hit["HITId"]),
        lambda: stranger.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0),
        lambda: stranger.delete_hit(HITId=hit["HITId"]),
        lambda: stranger.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=1),
        lambda: stranger.update_hit_review_status(HITId=hit["HITId"]),
        lambda: stranger.list_bonus_payments(HITId=hit["HITId"]),
    ):
        with pytest.raises(stranger.exceptions.RequestError) as excinfo:
            call()
        assert error_code(excinfo) == "AWS.MechanicalTurk.HITDoesNotExist"
    for call in (
        lambda: stranger.get_assignment(AssignmentId=assignment_id),
        lambda: stranger.approve_assignment(AssignmentId=assignment_id),
        lambda: stranger.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="no"),
    ):
        with pytest.raises(stranger.exceptions.RequestError) as excinfo:
            call()
        assert error_code(excinfo) == "AWS.MechanicalTurk.AssignmentDoesNotExist"
    with pytest.raises(stranger.exceptions.RequestError):
        stranger.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=hit["HITTypeId"])
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"


def test_update_expiration_to_the_past_expires_now(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    expired = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert expired["HITStatus"] == "Reviewable"
    server_now = httpx.get(server.base_url + "/api/clock").json()["Now"]
    assert expired["Expiration"].timestamp() <= server_now
    assert events_of(server, hit["HITId"]) == [("HITCreated", None), ("HITExpired", None), ("HITReviewable", None)]
    # Expiring again changes nothing and emits nothing.
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    assert len(events_of(server, hit["HITId"])) == 3
    assert new_worker(server).accept(hit["HITId"]).status_code == 410


def test_update_expiration_later_extends_and_reopens(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    later = httpx.get(server.base_url + "/api/clock").json()["Now"] + 7200
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=later)
    reopened = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert reopened["HITStatus"] == "Assignable"
    assert reopened["Expiration"].timestamp() == pytest.approx(later, abs=1)
    assert events_of(server, hit["HITId"])[-1] == ("HITExtended", None)
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=later - 3600)
    assert "ExpireAt" in excinfo.value.response["Error"]["Message"]


def test_the_same_extension_asked_twice_is_refused_as_mturk_did_and_notifies_once(
    server: ServerProcess, mturk: Any
) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    later = int(httpx.get(server.base_url + "/api/clock").json()["Now"]) + 7200
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=later)
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=later)
    assert error_code(excinfo) == "AWS.MechanicalTurk.DuplicateRequest"
    java_date = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(later))  # Dallinger/Dallinger#3109
    assert (
        f'The idempotency token "{hit["HITId"]}{java_date}" has already been processed.'
        in (excinfo.value.response["Error"]["Message"])
    )
    assert [e for e, _ in events_of(server, hit["HITId"])].count("HITExtended") == 1
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=later + 60)  # another time is another token
    assert [e for e, _ in events_of(server, hit["HITId"])].count("HITExtended") == 2


def test_an_extension_moves_the_expiration_by_60_seconds_to_a_year_as_on_mturk(
    server: ServerProcess, mturk: Any
) -> None:
    hit = mturk.create_hit(**hit_params(LifetimeInSeconds=3600))["HIT"]
    expiration = hit["Expiration"]
    for increment in (11, -600, 31_536_001):
        expire_at = expiration + datetime.timedelta(seconds=increment)
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=expire_at)
        assert error_code(excinfo) == "AWS.ParameterOutOfRange"
        message = excinfo.value.response["Error"]["Message"]  # aws/aws-sdk-java#1817, aws/aws-sdk-ruby#2065
        invalid = f"The value {increment} is invalid for ExpirationIncrementInSeconds."
        assert message.startswith(f"{invalid} Valid values range from 60 to 31536000.")
        assert "ExpireAt" in message
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["Expiration"] == hit["Expiration"]
    assert [e for e, _ in events_of(server, hit["HITId"])] == ["HITCreated"]
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=expiration + datetime.timedelta(seconds=60))
    extended = mturk.get_hit(HITId=hit["HITId"])["HIT"]["Expiration"]
    # botocore sends ExpireAt in whole seconds or with milliseconds, by version: within a second either way.
    assert abs((extended - (expiration + datetime.timedelta(seconds=60))).total_seconds()) < 1


def test_required_to_preview_and_actions_guarded_together_are_refused(mturk: Any) -> None:
    both = [
        {
            "QualificationTypeId": "00000000000000000071",
            "Comparator": "Exists",
            "RequiredToPreview": True,
            "ActionsGuarded": "Accept",
        }
    ]
    for call in (mturk.create_hit, mturk.create_hit_type):
        params = hit_params(QualificationRequirements=both)
        if call == mturk.create_hit_type:
            params = {k: v for k, v in params.items() if k not in ("LifetimeInSeconds", "MaxAssignments", "Question")}
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            call(**params)
        assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidParameterValue"
        assert (
            "The combination of parameters supplied to the request is invalid: ActionsGuarded, RequiredToPreview."
            in excinfo.value.response["Error"]["Message"]
        )
    assert mturk.list_hits()["HITs"] == []


def test_update_hit_type_of_hit_moves_properties_and_later_events(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    new_type = mturk.create_hit_type(**{**TYPE_PARAMS, "Title": "Renamed", "Reward": "1.25"})["HITTypeId"]
    mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=new_type)
    moved = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (moved["HITTypeId"], moved["Title"], moved["Reward"]) == (new_type, "Renamed", "1.25")
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId="3NOSUCHTYPE000000000000000000X")
    assert error_code(excinfo) == "AWS.MechanicalTurk.HITTypeDoesNotExist"


def test_review_status_round_trip_and_listing(mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.update_hit_review_status(HITId=hit["HITId"])
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidHITState"
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    assert mturk.list_reviewable_hits()["HITs"] == [{"HITId": hit["HITId"]}]  # only the ids, as on MTurk
    mturk.update_hit_review_status(HITId=hit["HITId"], Revert=False)
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewing"
    assert mturk.list_reviewable_hits()["HITs"] == []
    assert [h["HITId"] for h in mturk.list_reviewable_hits(Status="Reviewing")["HITs"]] == [hit["HITId"]]
    assert [h["HITId"] for h in mturk.list_reviewable_hits(Status="Reviewing", HITTypeId=hit["HITTypeId"])["HITs"]] == [
        hit["HITId"]
    ]
    mturk.update_hit_review_status(HITId=hit["HITId"], Revert=True)
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"


def test_delete_hit_rules(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.delete_hit(HITId=hit["HITId"])
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidHITState"
    assignment_id = new_worker(server).do(hit["HITId"])
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.delete_hit(HITId=hit["HITId"])  # Reviewable, but with undecided work
    assert "Reviewable" in excinfo.value.response["Error"]["Message"]
    mturk.approve_assignment(AssignmentId=assignment_id)
    mturk.delete_hit(HITId=hit["HITId"])
    mturk.delete_hit(HITId=hit["HITId"])  # a repeat succeeds
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Disposed"
    assert mturk.list_hits()["HITs"] == []
    assert events_of(server, hit["HITId"])[-1] == ("HITDisposed", None)
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=1)
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidHITState"


def test_create_additional_assignments(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]
    new_worker(server).do(hit["HITId"])
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    mturk.create_additional_assignments_for_hit(
        HITId=hit["HITId"], NumberOfAdditionalAssignments=2, UniqueRequestToken="extend-1"
    )
    extended = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (extended["HITStatus"], extended["MaxAssignments"], extended["NumberOfAssignmentsAvailable"]) == (
        "Assignable",
        3,
        2,
    )
    assert events_of(server, hit["HITId"])[-1] == ("HITExtended", None)
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_additional_assignments_for_hit(
            HITId=hit["HITId"], NumberOfAdditionalAssignments=2, UniqueRequestToken="extend-1"
        )
    assert error_code(excinfo) == "AWS.MechanicalTurk.DuplicateRequest"
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=7)
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease"
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=0)
    assert "NumberOfAdditionalAssignments" in excinfo.value.response["Error"]["Message"]
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 3
    big = mturk.create_hit(**hit_params(MaxAssignments=10))["HIT"]
    mturk.create_additional_assignments_for_hit(HITId=big["HITId"], NumberOfAdditionalAssignments=5)
    assert mturk.get_hit(HITId=big["HITId"])["HIT"]["MaxAssignments"] == 15


@pytest.mark.sqlite_only("SQLite's database write lock, taken by another process")
def test_write_waits_for_another_process_while_reads_go_on(server: ServerProcess, mturk: Any) -> None:
    """A write that meets another process's write lock waits for it (off the event loop) and then succeeds."""
    mturk.get_account_balance()  # the key is known now: its calls are eligible to run on the event loop
    created: list[Any] = []
    other = sqlite3.connect(server.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        thread = threading.Thread(target=lambda: created.append(mturk.create_hit(**hit_params())))
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the create should be waiting for the other writer"
        # Meanwhile the server keeps answering: the waiting write holds a worker thread, not the loop.
        assert mturk.get_account_balance()["AvailableBalance"]
    finally:
        other.execute("COMMIT")
        other.close()
    thread.join(30)
    assert created and created[0]["HIT"]["HITStatus"] == "Assignable"
    assert mturk.get_hit(HITId=created[0]["HIT"]["HITId"])["HIT"]["HITId"] == created[0]["HIT"]["HITId"]
