"""System qualifications from worker profiles and records, preview, a worker's own qualifications,
timed qualification tests and qualification notices: boto3 and the worker API against a real server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from openturk.testing import ServerProcess, Worker
from tests.acceptance.test_qualifications import ANSWER_KEY, QUESTION_FORM, _start_test
from tests.acceptance.test_workers import _messages
from tests.conftest import cli_keys, error_code, hit_params, new_worker
from tests.support.cli import CliRun, run_cli
from tests.support.smtp import SMTPServer

MASTERS, MASTERS_SANDBOX = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
LOCALE, ADULT = "00000000000000000071", "00000000000000000060"
NUMBER_HITS_APPROVED, PERCENT_APPROVED = "00000000000000000040", "000000000000000000L0"
PERCENT_RETURNED = "000000000000000000E0"


def _cli(server: ServerProcess, *args: str) -> CliRun:
    return run_cli(*args, "--db", server.db_url)


def _registered(server: ServerProcess, email: str | None = None) -> Worker:
    """A worker made by ``openturk workers create`` (only those have a profile to set)."""
    created = cli_keys(server.db_url, "workers", "create", "w", *(["--email", email] if email else []))
    return Worker(server.base_url, created["WorkerId"], token=created["Token"])


def _locale(comparator: str, *locales: str) -> dict[str, Any]:
    values = [
        {"Country": code.split("-")[0], **({"Subdivision": code.split("-")[1]} if "-" in code else {})}
        for code in locales
    ]
    return {"QualificationTypeId": LOCALE, "Comparator": comparator, "LocaleValues": values}


def _integer(type_id: str, comparator: str, *values: int, guard: str = "Accept") -> dict[str, Any]:
    requirement: dict[str, Any] = {"QualificationTypeId": type_id, "Comparator": comparator, "ActionsGuarded": guard}
    if values:
        requirement["IntegerValues"] = list(values)
    return requirement


def _accepts(mturk: Any, worker: Worker, requirement: dict[str, Any]) -> bool:
    hit_id = mturk.create_hit(**hit_params(QualificationRequirements=[requirement]))["HIT"]["HITId"]
    response = worker.accept(hit_id)
    assert response.status_code in (200, 403), response.text
    if response.status_code == 403:
        assert response.json()["Error"] == "DoesNotMeetRequirements"
    return response.status_code == 200


def _new_requester(server: ServerProcess) -> Any:
    return server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")


def test_profile_cli_sets_locale_and_adult_that_requirements_compare(server: ServerProcess, mturk: Any) -> None:
    worker = _registered(server)
    shown = cli_keys(server.db_url, "workers", "profile", worker.worker_id, "--country", "de", "--subdivision", "BE")
    assert (shown["Country"], shown["Subdivision"], shown["Adult"]) == ("DE", "BE", "0")
    shown = cli_keys(server.db_url, "workers", "profile", worker.worker_id, "--adult")
    assert (shown["Country"], shown["Subdivision"], shown["Adult"]) == ("DE", "BE", "1")
    cases = [
        (_locale("EqualTo", "DE"), True),
        (_locale("EqualTo", "US"), False),
        (_locale("EqualTo", "DE-BE"), True),
        (_locale("EqualTo", "DE-BY"), False),
        (_locale("NotEqualTo", "DE"), False),
        (_locale("NotEqualTo", "DE-BY"), True),
        (_locale("In", "US", "FR"), False),
        (_locale("In", "US", "DE-BE"), True),
        (_locale("NotIn", "US", "DE"), False),
        (_locale("NotIn", "US", "DE-BY"), True),
        (_integer(ADULT, "EqualTo", 1), True),
        (_integer(ADULT, "In", 0), False),
    ]
    for requirement, meets in cases:
        assert _accepts(mturk, worker, requirement) is meets, requirement
    shown = cli_keys(server.db_url, "workers", "profile", worker.worker_id, "--not-adult", "--country", "FR")
    assert (shown["Country"], shown["Subdivision"], shown["Adult"]) == ("FR", "-", "0")
    assert _accepts(mturk, worker, _integer(ADULT, "EqualTo", 0))
    assert _accepts(mturk, worker, _locale("EqualTo", "FR"))


def test_a_worker_without_a_profile_is_us_not_adult_not_a_master(server: ServerProcess, mturk: Any) -> None:
    worker = new_worker(server)  # never created: no profile row can exist
    assert _accepts(mturk, worker, _locale("EqualTo", "US"))
    assert not _accepts(mturk, worker, _locale("EqualTo", "US-WA"))
    assert _accepts(mturk, worker, _integer(ADULT, "EqualTo", 0))
    assert not _accepts(mturk, worker, _integer(MASTERS, "Exists"))
    assert not _accepts(mturk, worker, _integer(MASTERS_SANDBOX, "Exists"))


def test_masters_granted_and_revoked_by_the_admin_under_both_ids(server: ServerProcess, mturk: Any) -> None:
    worker = _registered(server)
    assert cli_keys(server.db_url, "workers", "masters", "grant", worker.worker_id)["Masters"] == "yes"
    assert _accepts(mturk, worker, _integer(MASTERS, "Exists"))
    assert _accepts(mturk, worker, _integer(MASTERS_SANDBOX, "Exists"))
    assert not _accepts(mturk, worker, _integer(MASTERS, "DoesNotExist"))
    assert cli_keys(server.db_url, "workers", "masters", "revoke", worker.worker_id)["Masters"] == "no"
    assert not _accepts(mturk, worker, _integer(MASTERS_SANDBOX, "Exists"))
    assert _accepts(mturk, worker, _integer(MASTERS, "DoesNotExist"))


def test_profile_cli_refuses_bad_codes_and_unknown_workers(server: ServerProcess) -> None:
    worker = _registered(server)
    for args, field in (
        (["--country", "XX"], "Country"),
        (["--country", "USA"], "Country"),
        (["--country", "US", "--subdivision", "WASH"], "Subdivision"),
        (["--subdivision", "W-A"], "Subdivision"),
    ):
        done = _cli(server, "workers", "profile", worker.worker_id, *args)
        assert done.returncode == 2 and field in done.stdout, (args, done.stdout)
    unchanged = cli_keys(server.db_url, "workers", "profile", worker.worker_id)
    assert (unchanged["Country"], unchanged["Subdivision"], unchanged["Adult"]) == ("US", "-", "0")
    for args in (["profile", "ANOBODY0000001", "--country", "FR"], ["masters", "grant", "ANOBODY0000001"]):
        done = _cli(server, "workers", *args)
        assert done.returncode == 2 and "does not exist" in done.stdout


def test_get_qualification_score_reads_system_values_of_workers_who_worked_for_the_caller(
    server: ServerProcess, mturk: Any
) -> None:
    worker = _registered(server)
    cli_keys(server.db_url, "workers", "profile", worker.worker_id, "--country", "US", "--subdivision", "WA")

    def score(type_id: str) -> dict[str, Any]:
        return dict(
            mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)["Qualification"]
        )

    def missing(type_id: str) -> str:
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            score(type_id)
        assert error_code(excinfo) == "AWS.MechanicalTurk.QualificationDoesNotExist"
        return str(excinfo.value.response["Error"]["Message"])

    assert "does not exist" in missing(LOCALE)  # no work for this requester yet
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    assignment_id = worker.do(hit_id)
    locale = score(LOCALE)
    assert locale["LocaleValue"] == {"Country": "US", "Subdivision": "WA"} and locale["Status"] == "Granted"
    assert score(ADULT)["IntegerValue"] == 0
    assert score(NUMBER_HITS_APPROVED)["IntegerValue"] == 0
    assert score(PERCENT_APPROVED)["IntegerValue"] == 100  # fewer than 100 decided: 100
    missing(MASTERS)
    mturk.approve_assignment(AssignmentId=assignment_id)
    assert score(NUMBER_HITS_APPROVED)["IntegerValue"] == 1
    assert score(PERCENT_RETURNED)["IntegerValue"] == 0
    cli_keys(server.db_url, "workers", "masters", "grant", worker.worker_id)
    assert score(MASTERS_SANDBOX)["IntegerValue"] == 1 and score(MASTERS)["Status"] == "Granted"
    # Another requester, for whom the worker did nothing, reads nothing.
    other = _new_requester(server)
    with pytest.raises(other.exceptions.RequestError) as excinfo:
        other.get_qualification_score(QualificationTypeId=LOCALE, WorkerId=worker.worker_id)
    assert error_code(excinfo) == "AWS.MechanicalTurk.QualificationDoesNotExist"
    # System types are computed: nobody lists, grants or revokes them.
    for call, params in (
        (mturk.list_workers_with_qualification_type, {}),
        (mturk.associate_qualification_with_worker, {"WorkerId": worker.worker_id}),
        (mturk.disassociate_qualification_from_worker, {"WorkerId": worker.worker_id}),
    ):
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            call(QualificationTypeId=LOCALE, **params)
        assert error_code(excinfo) == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
        assert "system QualificationType" in excinfo.value.response["Error"]["Message"]


def test_number_hits_approved_is_enforced_from_the_workers_record(server: ServerProcess, mturk: Any) -> None:
    worker = new_worker(server)
    gated = mturk.create_hit(**hit_params(QualificationRequirements=[_integer(NUMBER_HITS_APPROVED, "GreaterThan", 0)]))
    assert worker.accept(gated["HIT"]["HITId"]).status_code == 403
    mturk.approve_assignment(AssignmentId=worker.do(mturk.create_hit(**hit_params())["HIT"]["HITId"]))
    assert worker.accept(gated["HIT"]["HITId"]).status_code == 200


def _preview(worker: Worker, hit_id: str) -> httpx.Response:
    return worker.http.get(f"/api/worker/hits/{hit_id}", params={"WorkerId": worker.worker_id})


def test_preview_shows_the_hit_unless_a_guard_or_a_block_forbids_it(server: ServerProcess, mturk: Any) -> None:
    worker = new_worker(server)
    plain = mturk.create_hit(**hit_params(Title="Preview me", Reward="0.75"))["HIT"]
    shown = _preview(worker, plain["HITId"])
    assert shown.status_code == 200
    body = shown.json()
    assert (body["Title"], body["Description"], body["Reward"]) == ("Preview me", "Say what is in the picture", "0.75")
    assert body["AssignmentDurationInSeconds"] == 600 and body["QuestionKind"] == "HTMLQuestion"
    assert body["Question"] == plain["Question"] and body["Qualified"] is True
    assert body["NumberOfAssignmentsAvailable"] == 1

    masters_only = {"QualificationTypeId": MASTERS, "Comparator": "Exists"}
    for guard, previewable in (
        ("Accept", True),
        ("PreviewAndAccept", False),
        ("DiscoverPreviewAndAccept", False),
    ):
        hit_id = mturk.create_hit(**hit_params(QualificationRequirements=[{**masters_only, "ActionsGuarded": guard}]))[
            "HIT"
        ]["HITId"]
        answer = _preview(worker, hit_id)
        accepted = worker.accept(hit_id)
        if previewable:
            assert answer.status_code == 200 and answer.json()["Qualified"] is False
            assert (accepted.status_code, accepted.json()["Error"]) == (403, "DoesNotMeetRequirements")
        else:
            # Accept says no more than preview did: the HIT does not exist for this worker.
            assert (answer.status_code, answer.json()["Error"]) == (404, "HITNotFound"), guard
            assert (accepted.status_code, accepted.json()["Error"]) == (404, "HITNotFound"), guard
    assert _preview(worker, "3NOSUCHHIT0000000000000000000A").status_code == 404
    mturk.update_expiration_for_hit(HITId=plain["HITId"], ExpireAt=datetime(2015, 1, 1, tzinfo=UTC))
    assert (_preview(worker, plain["HITId"]).status_code, _preview(worker, plain["HITId"]).json()["Error"]) == (
        410,
        "HITNotAvailable",
    )
    blocked = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    mturk.create_worker_block(WorkerId=worker.worker_id, Reason="spam")
    assert _preview(worker, blocked).status_code == 404
    mturk.delete_worker_block(WorkerId=worker.worker_id)
    assert _preview(worker, blocked).status_code == 200


def _own(worker: Worker) -> dict[str, Any]:
    response = worker.http.get("/api/worker/qualifications", params={"WorkerId": worker.worker_id})
    response.raise_for_status()
    return dict(response.json())


def _create_type(mturk: Any, **overrides: Any) -> str:
    params = {"Name": f"Skill {uuid.uuid4().hex[:8]}", "Description": "d", "QualificationTypeStatus": "Active"}
    return str(mturk.create_qualification_type(**{**params, **overrides})["QualificationType"]["QualificationTypeId"])


def test_a_worker_lists_own_scores_and_pending_requests(server: ServerProcess, mturk: Any) -> None:
    worker = new_worker(server)
    kept, revoked, asked = _create_type(mturk), _create_type(mturk), _create_type(mturk)
    mturk.associate_qualification_with_worker(QualificationTypeId=kept, WorkerId=worker.worker_id, IntegerValue=7)
    mturk.associate_qualification_with_worker(QualificationTypeId=revoked, WorkerId=worker.worker_id)
    mturk.disassociate_qualification_from_worker(QualificationTypeId=revoked, WorkerId=worker.worker_id, Reason="x")
    requested = worker.http.post(f"/api/worker/qualifications/{asked}/request", json={"WorkerId": worker.worker_id})
    own = _own(worker)
    by_id = {q["QualificationTypeId"]: q for q in own["Qualifications"]}
    assert (by_id[kept]["Status"], by_id[kept]["IntegerValue"], by_id[kept]["System"]) == ("Granted", 7, False)
    assert (by_id[revoked]["Status"], by_id[revoked]["Reason"]) == ("Revoked", "x")
    assert by_id[LOCALE]["LocaleValue"] == {"Country": "US"} and by_id[LOCALE]["System"] is True
    assert by_id[ADULT]["IntegerValue"] == 0 and MASTERS not in by_id
    [pending] = own["QualificationRequests"]
    assert pending["QualificationRequestId"] == requested.json()["QualificationRequestId"]
    assert (pending["QualificationTypeId"], pending["Status"]) == (asked, "Pending")
    assert pending["Name"].startswith("Skill ")
    # Another worker sees none of it.
    stranger = _own(new_worker(server))
    assert stranger["QualificationRequests"] == []
    assert {q["QualificationTypeId"] for q in stranger["Qualifications"]} & {kept, revoked} == set()


def _answer(worker: Worker, type_id: str, answers: dict[str, Any]) -> httpx.Response:
    return worker.http.post(
        f"/api/worker/qualifications/{type_id}/request", json={"WorkerId": worker.worker_id, "Answers": answers}
    )


def test_test_answers_count_only_within_the_test_duration(server: ServerProcess, mturk: Any) -> None:
    type_id = _create_type(mturk, Test=QUESTION_FORM, AnswerKey=ANSWER_KEY, TestDurationInSeconds=60)
    worker = new_worker(server)
    unstarted = _answer(worker, type_id, {"q1": "4"})
    assert (unstarted.status_code, unstarted.json()["Error"]) == (409, "TestNotStarted")
    started = _start_test(worker, type_id)
    assert started.status_code == 200
    assert (started.json()["Test"], started.json()["TestDurationInSeconds"]) == (QUESTION_FORM, 60)
    server.advance(61)
    late = _answer(worker, type_id, {"q1": "4"})
    assert (late.status_code, late.json()["Error"]) == (410, "TestTimeExpired")
    assert "60 seconds" in late.json()["Message"]
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.worker_id)
    _start_test(worker, type_id).raise_for_status()
    server.advance(30)
    taken = _answer(worker, type_id, {"q1": "4"}).json()
    assert (taken["Status"], taken["IntegerValue"]) == ("Granted", 1)
    # The answers were taken once: the start is used up.
    assert _start_test(worker, type_id).json()["Error"] == "QualificationAlreadyExists"
    untested = _create_type(mturk)
    assert (_start_test(worker, untested).status_code, _start_test(worker, untested).json()["Error"]) == (404, "NoTest")


def test_a_test_is_retaken_only_after_the_retry_delay(server: ServerProcess, mturk: Any) -> None:
    type_id = _create_type(mturk, Test=QUESTION_FORM, TestDurationInSeconds=60, RetryDelayInSeconds=300)
    worker = new_worker(server)
    _start_test(worker, type_id).raise_for_status()
    first = _answer(worker, type_id, {"q1": "five"}).json()
    assert first["Status"] == "Pending"
    mturk.reject_qualification_request(QualificationRequestId=first["QualificationRequestId"], Reason="wrong")
    early = _start_test(worker, type_id)
    assert (early.status_code, early.json()["Error"]) == (409, "QualificationTypeRetryDelayNotElapsed")
    server.advance(301)
    _start_test(worker, type_id).raise_for_status()
    assert _answer(worker, type_id, {"q1": "4"}).json()["Status"] == "Pending"


def test_qualification_decisions_reach_the_inbox_and_mailbox(
    server: ServerProcess, mturk: Any, smtp: SMTPServer
) -> None:
    address = f"q{uuid.uuid4().hex[:8]}@example.org"
    worker = _registered(server, email=address)
    granted, quiet, asked = _create_type(mturk, Description="g"), _create_type(mturk), _create_type(mturk)
    mturk.associate_qualification_with_worker(QualificationTypeId=granted, WorkerId=worker.worker_id, IntegerValue=3)
    mturk.associate_qualification_with_worker(
        QualificationTypeId=quiet, WorkerId=worker.worker_id, SendNotification=False
    )
    request_id = worker.http.post(
        f"/api/worker/qualifications/{asked}/request", json={"WorkerId": worker.worker_id}
    ).json()["QualificationRequestId"]
    mturk.reject_qualification_request(QualificationRequestId=request_id, Reason="Too few HITs done")
    mturk.disassociate_qualification_from_worker(
        QualificationTypeId=granted, WorkerId=worker.worker_id, Reason="Quality dropped"
    )
    subjects = [m["Subject"].split(":")[0] for m in reversed(_messages(worker))]
    assert subjects == ["Qualification granted", "Qualification request rejected", "Qualification revoked"]
    texts = [m["MessageText"] for m in reversed(_messages(worker))]
    assert "with the value 3" in texts[0]
    assert "Reason: Too few HITs done" in texts[1] and "Reason: Quality dropped" in texts[2]
    mails = [m for m in smtp.inbox.received() if m["To"] == address]
    assert [m["Subject"].split(":")[0] for m in mails] == subjects
    accepted_by = new_worker(server)
    second = accepted_by.http.post(
        f"/api/worker/qualifications/{asked}/request", json={"WorkerId": accepted_by.worker_id}
    ).json()["QualificationRequestId"]
    mturk.accept_qualification_request(QualificationRequestId=second, IntegerValue=9)
    [approved] = _messages(accepted_by)
    assert approved["Subject"].startswith("Qualification request approved") and "value 9" in approved["MessageText"]


def test_discovery_filters_hidden_hits_before_it_cuts_the_list(server: ServerProcess, mturk: Any) -> None:
    """More than one list's worth (100) of newer hidden HITs must not push a discoverable one out."""
    worker = new_worker(server)
    shown = mturk.create_hit(**hit_params(Title="Findable"))["HIT"]["HITId"]
    masters_only = [_integer(MASTERS, "Exists", guard="DiscoverPreviewAndAccept")]
    hidden = {
        mturk.create_hit(**hit_params(QualificationRequirements=masters_only))["HIT"]["HITId"] for _ in range(101)
    }
    seen = {hit["HITId"] for hit in worker.hits()}
    assert shown in seen and not seen & hidden
