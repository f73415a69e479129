"""The context helpers' cache rules, against an in-memory twin of the two MTurk calls they make."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from openturk.consumer import context, parse_document
from openturk.consumer.context import Context

ANSWER = (
    '<QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/'
    'QuestionFormAnswers.xsd"><Answer><QuestionIdentifier>label</QuestionIdentifier><FreeText>{}</FreeText>'
    "</Answer></QuestionFormAnswers>"
)
T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC).timestamp()


class FakeMTurk:
    def __init__(self, assignments: int = 3) -> None:
        self.calls: list[str] = []
        self.annotation = "row-42"
        self.assignments = [
            {
                "AssignmentId": f"A{n}",
                "WorkerId": f"W{n}",
                "HITId": "H1",
                "AssignmentStatus": "Submitted",
                "Answer": ANSWER.format(f"cat{n}"),
            }
            for n in range(assignments)
        ]

    def get_hit(self, HITId: str) -> dict[str, Any]:
        self.calls.append("GetHIT")
        return {"HIT": {"HITId": HITId, "HITStatus": "Reviewable", "RequesterAnnotation": self.annotation}}

    def list_assignments_for_hit(
        self, HITId: str, MaxResults: int, NextToken: str | None = None, AssignmentStatuses: list[str] | None = None
    ) -> dict[str, Any]:
        self.calls.append(f"List:{NextToken}")
        wanted = AssignmentStatuses
        chosen = [a for a in self.assignments if wanted is None or a["AssignmentStatus"] in wanted]
        start = int(NextToken or 0)
        page = chosen[start : start + MaxResults]
        more = start + MaxResults < len(chosen)
        token = {"NextToken": str(start + MaxResults)} if more else {}
        return {"Assignments": page, "NumResults": len(page), **token}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def event(event_type: str, at: str) -> Any:
    return parse_document(
        {
            "EventDocId": "d",
            "Events": [{"EventType": event_type, "EventTimestamp": at, "HITTypeId": "T", "HITId": "H1"}],
        }
    ).events[0]


def test_assignments_come_from_every_page_with_answers_parsed() -> None:
    mturk = FakeMTurk(assignments=5)
    found = Context(mturk, page_size=2).assignments_for("H1")
    assert [a.assignment_id for a in found] == ["A0", "A1", "A2", "A3", "A4"]
    assert found[3].answers == {"label": "cat3"} and found[3].worker_id == "W3"
    assert found[3].raw["AssignmentStatus"] == "Submitted"
    assert mturk.calls == ["List:None", "List:2", "List:4"]


def test_statuses_filter_and_are_part_of_the_cache_key() -> None:
    mturk = FakeMTurk()
    mturk.assignments[0]["AssignmentStatus"] = "Approved"
    helpers = Context(mturk)
    assert [a.assignment_id for a in helpers.assignments_for("H1", ["Approved"])] == ["A0"]
    assert len(helpers.assignments_for("H1")) == 3
    assert len(helpers.assignments_for("H1", ("Approved",))) == 1
    assert len(mturk.calls) == 2


def test_answers_are_kept_for_the_ttl_then_fetched_again() -> None:
    mturk, clock = FakeMTurk(), Clock()
    helpers = Context(mturk, ttl_s=30, clock=clock)
    helpers.assignments_for("H1")
    clock.now += 29
    helpers.assignments_for("H1")
    assert len(mturk.calls) == 1
    clock.now += 1
    helpers.assignments_for("H1")
    assert len(mturk.calls) == 2


def test_an_answer_fetched_before_the_event_is_not_served_for_it() -> None:
    mturk, clock = FakeMTurk(assignments=1), Clock()
    helpers = Context(mturk, clock=clock)
    submitted = event("AssignmentSubmitted", "2026-11-23T10:00:00Z")
    clock.now = T0 + 0.5  # handled half a second after the submission
    assert len(helpers.assignments_for(submitted)) == 1
    mturk.assignments = FakeMTurk(assignments=2).assignments  # a second worker submits: HITReviewable
    reviewable = event("HITReviewable", "2026-11-23T10:00:03Z")
    clock.now = T0 + 5
    assert len(helpers.assignments_for(reviewable)) == 2, "the cached answer predates the event"
    assert len(helpers.assignments_for(reviewable)) == 2 and len(mturk.calls) == 2  # now cached for it
    clock.now = T0 + 3.5  # within the second of the event: timestamps are whole seconds, so refetch
    helpers.invalidate("H1")
    helpers.assignments_for(reviewable)
    helpers.assignments_for(reviewable)
    assert len(mturk.calls) == 4


def test_the_annotation_is_kept_until_evicted_and_hit_for_the_ttl() -> None:
    mturk, clock = FakeMTurk(), Clock()
    helpers = Context(mturk, ttl_s=30, max_entries=2, clock=clock)
    assert helpers.requester_annotation("H1") == "row-42"
    clock.now += 3600
    assert helpers.requester_annotation(event("HITReviewable", "2026-11-23T10:59:00Z")) == "row-42"
    assert mturk.calls == ["GetHIT"]
    assert helpers.hit("H1")["HITStatus"] == "Reviewable"  # the HIT itself expired from the cache
    assert mturk.calls == ["GetHIT", "GetHIT"]
    helpers.hit("H2")
    helpers.hit("H3")  # evicts H1, least recently used
    helpers.requester_annotation("H1")
    assert mturk.calls.count("GetHIT") == 5


def test_invalidate_forgets_one_hit_and_an_event_without_a_hit_is_refused() -> None:
    mturk = FakeMTurk()
    helpers = Context(mturk)
    helpers.hit("H1")
    helpers.assignments_for("H1")
    helpers.invalidate("H1")
    helpers.hit("H1")
    helpers.assignments_for("H1")
    helpers.requester_annotation("H1")
    assert mturk.calls == ["GetHIT", "List:None", "GetHIT", "List:None"]
    ping = parse_document({"EventDocId": "p", "Events": [{"EventType": "Ping"}]}).events[0]
    with pytest.raises(ValueError, match="names no HIT"):
        helpers.hit(ping)


def test_module_helpers_share_one_cache_per_client() -> None:
    one, two = FakeMTurk(), FakeMTurk()
    two.annotation = "other"
    assert context.requester_annotation(one, "H1") == "row-42"
    assert context.requester_annotation(two, "H1") == "other"
    assert context.requester_annotation(one, "H1") == "row-42"
    assert context.hit(one, "H1")["HITId"] == "H1"
    assert context.assignments_for(one, "H1")[0].answers == {"label": "cat0"}
    assert one.calls == ["GetHIT", "List:None"] and two.calls == ["GetHIT"]


def _stubbed_client() -> tuple[Any, Any]:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "mturk", region_name="us-east-1", aws_access_key_id="AKIDTEST", aws_secret_access_key="secret"
    )
    return client, Stubber(client)


def _listing(status: str) -> dict[str, Any]:
    assignment = {"AssignmentId": "A0", "WorkerId": "W0", "HITId": "H1", "AssignmentStatus": status}
    return {"Assignments": [assignment], "NumResults": 1}


def test_own_changes_through_the_client_forget_what_they_make_stale() -> None:
    client, stubber = _stubbed_client()
    ctx = Context(client)
    listing = {"HITId": "H1", "MaxResults": 100}
    with stubber:
        stubber.add_response("list_assignments_for_hit", _listing("Submitted"), listing)
        assert [a.status for a in ctx.assignments_for("H1")] == ["Submitted"]
        assert [a.status for a in ctx.assignments_for("H1")] == ["Submitted"]  # cached: no second call
        stubber.add_response("approve_assignment", {}, {"AssignmentId": "A0"})
        client.approve_assignment(AssignmentId="A0")
        stubber.add_response("list_assignments_for_hit", _listing("Approved"), listing)
        assert [a.status for a in ctx.assignments_for("H1")] == ["Approved"]
        # A failed change forgets nothing.
        stubber.add_client_error(
            "approve_assignment", "RequestError", "no", 400, expected_params={"AssignmentId": "A0"}
        )
        with pytest.raises(client.exceptions.RequestError):
            client.approve_assignment(AssignmentId="A0")
        assert [a.status for a in ctx.assignments_for("H1")] == ["Approved"]
        # A change naming the HIT forgets its GetHIT answer too.
        stubber.add_response("get_hit", {"HIT": {"HITId": "H1", "HITStatus": "Reviewable"}}, {"HITId": "H1"})
        assert ctx.hit("H1")["HITStatus"] == "Reviewable"
        stubber.add_response("update_expiration_for_hit", {}, {"HITId": "H1", "ExpireAt": datetime(2030, 1, 1)})
        client.update_expiration_for_hit(HITId="H1", ExpireAt=datetime(2030, 1, 1))
        stubber.add_response("get_hit", {"HIT": {"HITId": "H1", "HITStatus": "Assignable"}}, {"HITId": "H1"})
        assert ctx.hit("H1")["HITStatus"] == "Assignable"
        stubber.assert_no_pending_responses()


def test_shared_context_does_not_keep_its_client_alive() -> None:
    import gc
    import weakref

    client = _stubbed_client()[0]
    context.context_for(client)
    gone = weakref.ref(client)
    del client
    gc.collect()
    assert gone() is None
