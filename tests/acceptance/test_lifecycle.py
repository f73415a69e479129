"""Every lifecycle transition, driven by workers and the virtual clock, with the event rows it writes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from openturk.testing import ServerProcess, Worker
from tests.conftest import error_code, events_of, hit_params, new_worker


def test_accept_submit_approve(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]
    accepted = worker.accept(hit["HITId"])
    assert accepted.status_code == 200
    assignment_id = accepted.json()["AssignmentId"]
    in_progress = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (in_progress["NumberOfAssignmentsPending"], in_progress["NumberOfAssignmentsAvailable"]) == (1, 1)
    # In progress work is invisible to the requester, as on MTurk.
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"] == []
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.get_assignment(AssignmentId=assignment_id)
    assert error_code(excinfo) == "AWS.MechanicalTurk.AssignmentDoesNotExist"

    assert worker.submit(assignment_id, {"label": "cat", "tags": ["a", "b"]}).status_code == 200
    got = mturk.get_assignment(AssignmentId=assignment_id)
    assignment = got["Assignment"]
    assert got["HIT"]["HITId"] == hit["HITId"]
    assert assignment["AssignmentStatus"] == "Submitted"
    assert assignment["WorkerId"] == worker.worker_id
    assert "<QuestionIdentifier>label</QuestionIdentifier><FreeText>cat</FreeText>" in assignment["Answer"]
    assert (
        "<SelectionIdentifier>a</SelectionIdentifier><SelectionIdentifier>b</SelectionIdentifier>"
        in assignment["Answer"]
    )
    assert assignment["Answer"].startswith('<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns=')
    delay = (assignment["AutoApprovalTime"] - assignment["SubmitTime"]).total_seconds()
    assert delay == pytest.approx(86400, abs=1)

    mturk.approve_assignment(AssignmentId=assignment_id, RequesterFeedback="Thanks!")
    approved = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert approved["AssignmentStatus"] == "Approved"
    assert approved["RequesterFeedback"] == "Thanks!"
    assert "ApprovalTime" in approved
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.approve_assignment(AssignmentId=assignment_id)
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert "Submitted" in excinfo.value.response["Error"]["Message"]
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["NumberOfAssignmentsCompleted"] == 1
    assert events_of(server, hit["HITId"]) == [
        ("HITCreated", None),
        ("AssignmentAccepted", assignment_id),
        ("AssignmentSubmitted", assignment_id),
        ("AssignmentApproved", assignment_id),
    ]


def test_last_submission_makes_hit_reviewable(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]
    first, second = new_worker(server), new_worker(server)
    a1 = first.accept(hit["HITId"]).json()["AssignmentId"]
    a2 = second.accept(hit["HITId"]).json()["AssignmentId"]
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Unassignable"
    assert new_worker(server).accept(hit["HITId"]).status_code == 409
    first.submit(a1, {"x": "1"}).raise_for_status()
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Unassignable"
    second.submit(a2, {"x": "2"}).raise_for_status()
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    assert events_of(server, hit["HITId"])[-2:] == [("AssignmentSubmitted", a2), ("HITReviewable", None)]
    listed = mturk.list_assignments_for_hit(HITId=hit["HITId"], MaxResults=1)
    assert listed["NumResults"] == 1 and listed["NextToken"]
    rest = mturk.list_assignments_for_hit(HITId=hit["HITId"], MaxResults=1, NextToken=listed["NextToken"])
    assert [a["AssignmentId"] for a in listed["Assignments"] + rest["Assignments"]] == [a1, a2]
    after_last = mturk.list_assignments_for_hit(HITId=hit["HITId"], MaxResults=1, NextToken=rest["NextToken"])
    assert after_last["NumResults"] == 0 and "NextToken" not in after_last
    mturk.reject_assignment(AssignmentId=a2, RequesterFeedback="Wrong")
    assert [
        a["AssignmentId"]
        for a in mturk.list_assignments_for_hit(HITId=hit["HITId"], AssignmentStatuses=["Rejected"])["Assignments"]
    ] == [a2]


def test_reject_then_override(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    assignment_id = worker.do(hit["HITId"])
    with pytest.raises(ParamValidationError):
        mturk.reject_assignment(AssignmentId=assignment_id)  # RequesterFeedback is required
    mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="Did not follow instructions")
    rejected = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert rejected["AssignmentStatus"] == "Rejected" and "RejectionTime" in rejected
    # Rejection does not reopen the slot.
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["NumberOfAssignmentsAvailable"] == 0
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.approve_assignment(AssignmentId=assignment_id)
    assert error_code(excinfo) == "AWS.MechanicalTurk.InvalidAssignmentState"
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="again")
    before = mturk.get_account_balance()["AvailableBalance"]
    mturk.approve_assignment(AssignmentId=assignment_id, OverrideRejection=True)
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"
    assert float(mturk.get_account_balance()["AvailableBalance"]) == pytest.approx(float(before) - 0.60)
    kinds = [e for e, _ in events_of(server, hit["HITId"])]
    assert kinds[-2:] == ["AssignmentRejected", "AssignmentApproved"]


def test_feedback_validation(mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    assignment_id = worker.do(hit["HITId"])
    for feedback in ("x" * 1025, "bad\x01char"):
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            mturk.approve_assignment(AssignmentId=assignment_id, RequesterFeedback=feedback)
        assert "RequesterFeedback" in excinfo.value.response["Error"]["Message"]
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Submitted"


def test_return_reopens_the_slot(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params())["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Unassignable"
    assert worker.return_(assignment_id).status_code == 200
    reopened = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (reopened["HITStatus"], reopened["NumberOfAssignmentsAvailable"]) == ("Assignable", 1)
    # A worker accepts a HIT once, even after returning it.
    assert worker.accept(hit["HITId"]).status_code == 409
    assert worker.submit(assignment_id, {"x": "1"}).status_code == 409
    assert events_of(server, hit["HITId"])[-1] == ("AssignmentReturned", assignment_id)


def test_worker_errors(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=2))["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    again = worker.accept(hit["HITId"])
    assert again.status_code == 409 and again.json()["Error"] == "AlreadyAccepted"
    intruder = new_worker(server)
    stolen = intruder.submit(assignment_id, {"x": "1"})
    assert stolen.status_code == 403 and stolen.json()["Error"] == "NotYourAssignment"
    assert intruder.return_(assignment_id).status_code == 403
    assert worker.accept("3NOSUCHHIT00000000000000000000").status_code == 404
    assert worker.submit("3NOSUCHASSIGNMENT0000000000000", {}).status_code == 404
    bad = worker.http.post(f"/api/worker/hits/{hit['HITId']}/accept", json={"WorkerId": "not-a-worker"})
    assert bad.status_code == 400
    garbage = worker.http.post(f"/api/worker/assignments/{assignment_id}/submit", content=b"{nope")
    assert garbage.status_code == 400
    wrong_answers = worker.http.post(
        f"/api/worker/assignments/{assignment_id}/submit",
        json={"WorkerId": worker.worker_id, "Answers": {"x": {"bad": 1}}},
    )
    assert wrong_answers.status_code == 400
    assert [e for e, _ in events_of(server, hit["HITId"])] == ["HITCreated", "AssignmentAccepted"]


def test_worker_hit_listing(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(Title="Findable HIT"))["HIT"]
    someone = new_worker(server)
    listed = {h["HITId"]: h for h in someone.hits()}
    assert listed[hit["HITId"]]["Title"] == "Findable HIT"
    someone.accept(hit["HITId"]).raise_for_status()
    assert hit["HITId"] not in {h["HITId"] for h in someone.hits()}
    assert hit["HITId"] not in {h["HITId"] for h in new_worker(server).hits()}  # no slot left


def test_expiry_with_no_work_via_virtual_clock(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(LifetimeInSeconds=120))["HIT"]
    server.advance(119)
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Assignable"
    server.advance(2)
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    assert events_of(server, hit["HITId"]) == [("HITCreated", None), ("HITExpired", None), ("HITReviewable", None)]


def test_expiry_waits_for_work_in_progress(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(LifetimeInSeconds=60, AssignmentDurationInSeconds=300, MaxAssignments=3))["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    server.advance(61)
    expired = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert expired["HITStatus"] == "Unassignable"
    assert new_worker(server).accept(hit["HITId"]).status_code == 410
    # Work accepted before expiry stays submittable until its own deadline.
    worker.submit(assignment_id, {"x": "late but in time"}).raise_for_status()
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    assert [e for e, _ in events_of(server, hit["HITId"])] == [
        "HITCreated",
        "AssignmentAccepted",
        "HITExpired",
        "AssignmentSubmitted",
        "HITReviewable",
    ]


def test_abandonment_returns_the_slot(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(AssignmentDurationInSeconds=60, LifetimeInSeconds=3600))["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    server.advance(61)
    after = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (after["HITStatus"], after["NumberOfAssignmentsAvailable"], after["NumberOfAssignmentsPending"]) == (
        "Assignable",
        1,
        0,
    )
    late = worker.submit(assignment_id, {"x": "too late"})
    assert late.status_code == 409
    assert events_of(server, hit["HITId"])[-1] == ("AssignmentAbandoned", assignment_id)


def test_abandonment_after_expiry_makes_hit_reviewable(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(AssignmentDurationInSeconds=300, LifetimeInSeconds=60))["HIT"]
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    server.advance(400)  # expiry at 60 s, then the deadline at 300 s, fired in that order
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    assert events_of(server, hit["HITId"]) == [
        ("HITCreated", None),
        ("AssignmentAccepted", assignment_id),
        ("HITExpired", None),
        ("AssignmentAbandoned", assignment_id),
        ("HITReviewable", None),
    ]


def test_auto_approval(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit = mturk.create_hit(**hit_params(AutoApprovalDelayInSeconds=3600))["HIT"]
    assignment_id = worker.do(hit["HITId"])
    server.advance(3599)
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Submitted"
    server.advance(2)
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"
    assert events_of(server, hit["HITId"])[-1] == ("AssignmentApproved", assignment_id)
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="too late to reject")


def test_a_zero_auto_approval_delay_approves_in_the_submit_itself(
    server: ServerProcess, mturk: Any, worker: Worker
) -> None:
    """No timer pass in between: the HIT can be deleted right after (Dallinger's disable_hit does)."""
    hit = mturk.create_hit(**hit_params(AutoApprovalDelayInSeconds=0))["HIT"]
    assignment_id = worker.do(hit["HITId"])
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved"
    assert assignment["ApprovalTime"] == assignment["SubmitTime"] == assignment["AutoApprovalTime"]
    assert [e for e, _ in events_of(server, hit["HITId"])][-3:] == [
        "AssignmentSubmitted",
        "HITReviewable",
        "AssignmentApproved",
    ]
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=0)
    mturk.delete_hit(HITId=hit["HITId"])
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Disposed"


def test_timers_fire_in_due_order_across_hits(server: ServerProcess, mturk: Any) -> None:
    early = mturk.create_hit(**hit_params(LifetimeInSeconds=100))["HIT"]
    late = mturk.create_hit(**hit_params(LifetimeInSeconds=50))["HIT"]
    server.advance(200)
    order = [
        row[0]
        for row in server.sql(
            "SELECT hit_id FROM events WHERE event_type = 'HITExpired' AND hit_id IN (:early, :late) ORDER BY event_id",
            early=early["HITId"],
            late=late["HITId"],
        )
    ]
    assert order == [late["HITId"], early["HITId"]]


DAY = 86400


def _event_time(server: ServerProcess, hit_id: str, event_type: str) -> int:
    [row] = server.sql(
        "SELECT max(event_time) FROM events WHERE hit_id = :hit_id AND event_type = :event_type",
        hit_id=hit_id,
        event_type=event_type,
    )
    assert row[0] is not None, f"{hit_id} has no {event_type}"
    return int(row[0])


def test_hits_are_disposed_120_days_after_creation(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    quiet = mturk.create_hit(**hit_params(LifetimeInSeconds=3600))["HIT"]  # in review after an hour, nothing to decide
    long_lived = mturk.create_hit(**hit_params(LifetimeInSeconds=130 * DAY))["HIT"]  # still open on day 120
    late = mturk.create_hit(
        **hit_params(
            LifetimeInSeconds=119 * DAY, AssignmentDurationInSeconds=2 * DAY, AutoApprovalDelayInSeconds=30 * DAY
        )
    )["HIT"]
    server.advance(119 * DAY - 60)
    assignment_id = worker.do(late["HITId"])  # submitted a minute before expiry: undecided until day 149
    server.advance(DAY + 120)

    def status(hit: dict[str, Any]) -> str:
        return str(mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"])

    assert (status(quiet), status(long_lived), status(late)) == ("Disposed", "Assignable", "Reviewable")
    created_ms = _event_time(server, quiet["HITId"], "HITCreated")
    assert _event_time(server, quiet["HITId"], "HITDisposed") - created_ms == 120 * DAY * 1000
    assert events_of(server, quiet["HITId"])[-1] == ("HITDisposed", None)
    listed = {hit["HITId"] for hit in mturk.list_hits(MaxResults=100)["HITs"]}
    assert quiet["HITId"] not in listed and late["HITId"] in listed

    # Each of the others is disposed as soon as it can be: right after expiry, right after auto-approval.
    server.advance(30 * DAY)
    assert (status(long_lived), status(late)) == ("Disposed", "Disposed")
    assert _event_time(server, long_lived["HITId"], "HITDisposed") == _event_time(
        server, long_lived["HITId"], "HITReviewable"
    )
    assert [e for e, _ in events_of(server, late["HITId"])][-2:] == ["AssignmentApproved", "HITDisposed"]
    assert _event_time(server, late["HITId"], "HITDisposed") == _event_time(server, late["HITId"], "AssignmentApproved")
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == "Approved"
