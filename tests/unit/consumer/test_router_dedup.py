"""Routing and de-duplication without any queue."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import pytest

from openturk.consumer import Event, HandlerFailed, MemoryDedup, Router, SQLiteDedup, parse_document
from openturk.consumer.dedup import Verdict

DOC = parse_document({"EventDocId": "d1", "Events": [
    {"EventType": "HITCreated", "HITId": "H1"},
    {"EventType": "AssignmentSubmitted", "HITId": "H1", "AssignmentId": "A1"},
    {"EventType": "HITReviewable", "HITId": "H1"},
]})


def test_routes_by_type_with_default_and_runs_each_event_once() -> None:
    router = Router()
    seen: list[tuple[str, str]] = []

    @router.on("HITCreated", "HITReviewable")
    def hits(event: Event) -> None:
        seen.append(("hits", event.event_type))

    router.add("AssignmentSubmitted", lambda e: seen.append(("assignment", e.event_type)))
    outcome = router.handle_document(DOC)
    assert seen == [("hits", "HITCreated"), ("assignment", "AssignmentSubmitted"), ("hits", "HITReviewable")]
    assert len(outcome.handled) == 3
    again = router.handle_document(DOC)  # the same document delivered twice
    assert len(seen) == 3 and len(again.skipped) == 3


def test_default_catches_unnamed_types_and_unrouted_events_are_reported() -> None:
    router = Router()
    caught: list[str] = []
    assert router.handle_document(DOC).unrouted == list(DOC.events)
    router.default(lambda e: caught.append(e.event_type))
    router.handle_document(DOC)
    assert caught == ["HITCreated", "AssignmentSubmitted", "HITReviewable"]


def test_a_failing_handler_releases_its_claim_and_others_still_run() -> None:
    router = Router()
    calls: list[str] = []
    fail = {"on": True}

    def flaky(event: Event) -> None:
        calls.append(event.event_type)
        if fail["on"]:
            raise RuntimeError("database down")

    router.add("AssignmentSubmitted", flaky)
    router.default(lambda e: calls.append(e.event_type))
    with pytest.raises(HandlerFailed, match="database down"):
        router.handle_document(DOC)
    assert calls == ["HITCreated", "AssignmentSubmitted", "HITReviewable"]
    fail["on"] = False
    outcome = router.handle_document(DOC)  # the retry runs only what did not succeed
    assert [e.event_type for e in outcome.handled] == ["AssignmentSubmitted"]
    assert len(outcome.skipped) == 2


def test_memory_store_expiry_and_claims() -> None:
    store = MemoryDedup(expiry_s=0.0, claim_ttl_s=60)
    assert store.claim(("d", 0), "a") is Verdict.CLAIMED
    assert store.claim(("d", 0), "b") is Verdict.BUSY
    assert store.complete(("d", 0), "a")
    assert store.claim(("d", 0), "b") is Verdict.CLAIMED  # the record already expired


def _claim_many(path: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = SQLiteDedup(path)
    owner = uuid.uuid4().hex
    results.put([store.claim(("doc", i), owner) is Verdict.CLAIMED for i in range(200)])


def test_sqlite_store_never_grants_one_claim_twice_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "seen.db")
    SQLiteDedup(path)  # create the table before the race
    results: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    processes = [multiprocessing.Process(target=_claim_many, args=(path, results)) for _ in range(3)]
    for process in processes:
        process.start()
    won = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    per_key = [sum(claims[i] for claims in won) for i in range(200)]
    assert per_key == [1] * 200


def test_sqlite_store_persists_and_expires(tmp_path: Path) -> None:
    path = str(tmp_path / "seen.db")
    first = SQLiteDedup(path)
    assert first.claim(("d", 0), "a") is Verdict.CLAIMED
    assert first.complete(("d", 0), "a")
    assert SQLiteDedup(path).claim(("d", 0), "b") is Verdict.DONE  # a restarted consumer remembers
    other = SQLiteDedup(path)
    assert other.claim(("d", 1), "c") is Verdict.CLAIMED
    assert other.release(("d", 1), "c")
    assert first.claim(("d", 1), "d") is Verdict.CLAIMED
    short = SQLiteDedup(path, claim_ttl_s=0.0)
    assert short.claim(("d", 2), "e") is Verdict.CLAIMED
    assert first.claim(("d", 2), "f") is Verdict.CLAIMED  # an abandoned claim can be taken over
