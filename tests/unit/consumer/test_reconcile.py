"""The sweeper's rules against an in-memory twin of ListReviewableHITs / ListAssignmentsForHIT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from openturk.consumer import Event, MemoryDedup, Router, parse_document
from openturk.consumer.dedup import Verdict
from openturk.consumer.observed import MemoryObserved, SQLObserved
from openturk.consumer.reconcile import Reconciler

T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


class FakeMTurk:
    def __init__(self) -> None:
        self.hits: dict[str, dict[str, Any]] = {}
        self.assignments: dict[str, list[dict[str, Any]]] = {}

    def add(self, hit_id: str, submitted: list[tuple[str, str, int]], max_assignments: int = 1) -> None:
        self.hits[hit_id] = {
            "HITId": hit_id,
            "HITTypeId": "T1",
            "MaxAssignments": max_assignments,
            "Expiration": T0 + timedelta(hours=1),
        }
        self.assignments[hit_id] = [
            {
                "AssignmentId": aid,
                "HITId": hit_id,
                "AssignmentStatus": status,
                "SubmitTime": T0 + timedelta(seconds=at),
                "ApprovalTime": T0 + timedelta(seconds=at + 60),
            }
            for aid, status, at in submitted
        ]

    def list_reviewable_hits(self, Status: str, MaxResults: int, **_: Any) -> dict[str, Any]:
        return {"HITs": [{"HITId": hit_id} for hit_id in self.hits]}  # only the ids, as MTurk answers

    def get_hit(self, HITId: str) -> dict[str, Any]:
        if HITId not in self.hits:
            raise ClientError(
                {"Error": {"Code": "RequestError"}, "TurkErrorCode": "AWS.MechanicalTurk.HITDoesNotExist"}, "GetHIT"
            )
        return {"HIT": self.hits[HITId]}

    def list_assignments_for_hit(self, HITId: str, MaxResults: int, **_: Any) -> dict[str, Any]:
        return {"Assignments": self.assignments[HITId]}


def recording_router() -> tuple[Router, list[Event]]:
    router, handled = Router(dedup=MemoryDedup()), list[Event]()
    router.add("AssignmentSubmitted", handled.append)
    router.add("HITReviewable", handled.append)
    return router, handled


def real(event_type: str, hit_id: str, at: datetime, assignment_id: str | None = None) -> Event:
    item = {
        "EventType": event_type,
        "EventTimestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "HITTypeId": "T1",
        "HITId": hit_id,
        **({"AssignmentId": assignment_id} if assignment_id else {}),
    }
    return parse_document({"EventDocId": f"real-{event_type}-{hit_id}", "Events": [item]}).events[0]


def test_missed_events_are_made_up_once_in_order_and_only_for_handled_types() -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5), ("A2", "Approved", 9)], max_assignments=2)
    router, handled = recording_router()
    reconciler = Reconciler(mturk, router, grace_s=0)
    sweep = reconciler.run_once()
    assert [(e.event_type, e.assignment_id) for e in handled] == [
        ("AssignmentSubmitted", "A1"),
        ("AssignmentSubmitted", "A2"),
        ("HITReviewable", None),
    ]
    assert all(e.synthesized for e in handled) and sweep.synthesized == handled
    assert handled[1].extra == {"AssignmentStatus": "Approved"}  # no AssignmentApproved handler: not made up
    assert handled[2].event_timestamp == T0 + timedelta(seconds=9)
    assert handled[2].doc_id == f"reconcile:HITReviewable:H1:{int((T0 + timedelta(seconds=9)).timestamp())}"
    assert reconciler.run_once().synthesized == [] and len(handled) == 3


def test_what_real_notifications_delivered_is_not_made_up_and_a_second_reviewable_is() -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5)])
    router, handled = recording_router()
    reconciler = Reconciler(mturk, router, grace_s=0)
    for event in (
        real("AssignmentSubmitted", "H1", T0 + timedelta(seconds=5), "A1"),
        real("HITReviewable", "H1", T0 + timedelta(seconds=5)),
    ):
        reconciler.router.handle_event(event)
    assert reconciler.run_once().synthesized == []
    # CreateAdditionalAssignmentsForHIT, a second worker submits, that HITReviewable is lost:
    mturk.add("H1", [("A1", "Submitted", 5), ("A3", "Submitted", 300)], max_assignments=2)
    reconciler.router.handle_event(real("AssignmentSubmitted", "H1", T0 + timedelta(seconds=300), "A3"))
    [again] = reconciler.run_once().synthesized
    assert (again.event_type, again.event_timestamp) == ("HITReviewable", T0 + timedelta(seconds=300))
    assert sum(e.synthesized for e in handled) == 1


def test_an_expired_hit_became_reviewable_at_its_expiration() -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5)], max_assignments=3)
    router, handled = recording_router()
    Reconciler(mturk, router, grace_s=0).run_once()
    assert handled[-1].event_timestamp == T0 + timedelta(hours=1)


def test_a_gap_must_outlive_the_grace_period() -> None:
    mturk, now = FakeMTurk(), [0.0]
    mturk.add("H1", [("A1", "Submitted", 5)])
    router, handled = recording_router()
    reconciler = Reconciler(mturk, router, grace_s=60, clock=lambda: now[0])
    assert reconciler.run_once().waiting == 2
    now[0] = 30
    reconciler.router.handle_event(real("HITReviewable", "H1", T0 + timedelta(seconds=5)))  # it arrives late
    assert reconciler.run_once().waiting == 1
    now[0] = 61
    assert [e.event_type for e in reconciler.run_once().synthesized] == ["AssignmentSubmitted"]
    assert [e.synthesized for e in handled] == [False, True]


def test_a_failing_handler_is_tried_again_at_the_next_sweep() -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5)])
    router, attempts = Router(dedup=MemoryDedup()), []

    def flaky(event: Event) -> None:
        attempts.append(event.doc_id)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    router.add("AssignmentSubmitted", flaky)
    reconciler = Reconciler(mturk, router, grace_s=0)
    assert len(reconciler.run_once().failed) == 1
    assert len(reconciler.run_once().synthesized) == 1
    assert reconciler.run_once().synthesized == []
    assert attempts == ["reconcile:AssignmentSubmitted:A1"] * 2


def test_the_observed_store_is_shared_through_sqlite(tmp_path: Path) -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5)])
    consumer_router, _ = recording_router()
    consumer = Reconciler(mturk, consumer_router, seen=SQLObserved(str(tmp_path / "seen.db"))).router
    consumer.handle_event(real("AssignmentSubmitted", "H1", T0 + timedelta(seconds=5), "A1"))
    consumer.handle_event(real("HITReviewable", "H1", T0 + timedelta(seconds=5)))
    sweeper_router, handled = recording_router()
    sweeper = Reconciler(mturk, sweeper_router, seen=SQLObserved(f"sqlite:///{tmp_path / 'seen.db'}"), grace_s=0)
    assert sweeper.run_once().synthesized == [] and handled == []
    assert SQLObserved(str(tmp_path / "seen.db")).seen_for("H1")[("AssignmentSubmitted", "A1")] == int(
        (T0 + timedelta(seconds=5)).timestamp()
    )


def test_a_router_already_observed_into_another_store_is_refused() -> None:
    router, _ = recording_router()
    observed = Reconciler(FakeMTurk(), router).router
    assert Reconciler(FakeMTurk(), observed).router is observed
    with pytest.raises(ValueError, match="another observed store"):
        Reconciler(FakeMTurk(), observed, seen=MemoryObserved())


def test_a_real_notification_arriving_after_its_synthesised_twin_does_not_run_handlers_again() -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5)])
    router, handled = recording_router()
    reconciler = Reconciler(mturk, router, grace_s=0)
    assert len(reconciler.run_once().synthesized) == 2  # AssignmentSubmitted A1, HITReviewable H1
    late = [
        real("AssignmentSubmitted", "H1", T0 + timedelta(seconds=5), "A1"),
        real("HITReviewable", "H1", T0 + timedelta(seconds=5)),
    ]
    for event in late:  # the real ones, delayed past grace_s, arrive after all
        reconciler.router.handle_event(event)
    assert [e.synthesized for e in handled] == [True, True]


def test_a_synthesised_event_for_a_real_one_the_sweeper_did_not_see_does_not_run_handlers_again() -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5)])
    router, handled = recording_router()
    # A consumer wired to the bare router (not reconciler.router): the sweeper's observed store
    # never hears of what it handled, only the shared de-duplication store does.
    for event in (
        real("AssignmentSubmitted", "H1", T0 + timedelta(seconds=5), "A1"),
        real("HITReviewable", "H1", T0 + timedelta(seconds=5)),
    ):
        router.handle_event(event)
    reconciler = Reconciler(mturk, router, grace_s=0)
    assert reconciler.run_once().synthesized == []
    assert [e.synthesized for e in handled] == [False, False]


def test_two_real_events_sharing_an_occurrence_key_both_run_and_a_later_twin_does_not() -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5)])
    router, handled = recording_router()
    # Reviewable, CreateAdditionalAssignmentsForHIT, reviewable again — all within one second (as
    # under a virtual clock): two real HITReviewable documents with one (type, HIT, time).
    at = T0 + timedelta(seconds=5)
    for doc_id in ("first", "second"):
        item = {"EventType": "HITReviewable", "EventTimestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "HITId": "H1"}
        router.handle_event(parse_document({"EventDocId": doc_id, "Events": [item]}).events[0])
    assert [e.doc_id for e in handled] == ["first", "second"]
    mturk.hits["H1"]["MaxAssignments"] = 1
    reconciler = Reconciler(mturk, router, grace_s=0)
    assert [e.event_type for e in reconciler.run_once().synthesized] == ["AssignmentSubmitted"]


def test_replacing_the_observed_routers_store_replaces_the_one_in_use() -> None:
    router, _ = recording_router()
    reconciler = Reconciler(FakeMTurk(), router, grace_s=0)
    store = MemoryDedup()
    reconciler.router.dedup = store  # what `consume --dedup` does to the Router it loads
    event = real("AssignmentSubmitted", "H1", T0, "A1")
    reconciler.router.handle_event(event)
    assert store.claim(event.key, "other") is Verdict.DONE


def test_a_hit_deleted_between_the_list_and_its_get_is_skipped() -> None:
    mturk = FakeMTurk()
    mturk.add("H1", [("A1", "Submitted", 5)])
    mturk.add("H2", [("A2", "Submitted", 7)])
    listed = mturk.list_reviewable_hits

    def list_then_delete(**params: Any) -> dict[str, Any]:
        page = listed(**params)
        del mturk.hits["H1"]
        return page

    mturk.list_reviewable_hits = list_then_delete  # type: ignore[method-assign]
    router, handled = recording_router()
    sweep = Reconciler(mturk, router, grace_s=0).run_once()
    assert sweep.hits == 1
    assert {e.hit_id for e in handled} == {"H2"}
