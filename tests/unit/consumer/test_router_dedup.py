"""Routing and de-duplication without any queue."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from pathlib import Path

import pytest

from openturk.consumer import Event, HandlerFailed, MemoryDedup, Router, SQLiteDedup, parse_document
from openturk.consumer.dedup import Verdict
from openturk.consumer.router import ForeignCustomer

DOC = parse_document(
    {
        "EventDocId": "d1",
        "Events": [
            {"EventType": "HITCreated", "HITId": "H1"},
            {"EventType": "AssignmentSubmitted", "HITId": "H1", "AssignmentId": "A1"},
            {"EventType": "HITReviewable", "HITId": "H1"},
        ],
    }
)


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


def test_a_later_handler_failing_does_not_rerun_the_ones_that_succeeded(tmp_path: Path) -> None:
    router = Router(dedup=SQLiteDedup(str(tmp_path / "seen.db")))
    calls: list[str] = []
    fail = {"second": True}

    def first(event: Event) -> None:
        calls.append("first")

    def second(event: Event) -> None:
        calls.append("second")
        if fail["second"]:
            raise RuntimeError("mail server down")

    router.add("HITCreated", first)
    router.add("HITCreated", second)
    doc = parse_document({"EventDocId": "d-steps", "Events": [{"EventType": "HITCreated", "HITId": "H1"}]})
    with pytest.raises(HandlerFailed, match="mail server down"):
        router.handle_document(doc)
    fail["second"] = False
    # The message comes back — here to a second consumer process sharing the store.
    again = Router(dedup=SQLiteDedup(str(tmp_path / "seen.db")))
    again.add("HITCreated", first)
    again.add("HITCreated", second)
    assert [e.event_type for e in again.handle_document(doc).handled] == ["HITCreated"]
    assert calls == ["first", "second", "second"]
    assert again.handle_document(doc).skipped == list(doc.events)


def test_a_long_handler_keeps_its_claim_so_no_other_consumer_runs_it() -> None:
    store = MemoryDedup(claim_ttl_s=0.3)  # renewed every 0.1 s while the handler runs
    started, finish = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow(event: Event) -> None:
        runs.append("slow")
        started.set()
        finish.wait(10)

    first, second = Router(dedup=store), Router(dedup=store)
    first.default(slow)
    second.default(lambda event: runs.append("second"))
    doc = parse_document({"EventDocId": "d-long", "Events": [{"EventType": "HITCreated", "HITId": "H1"}]})
    running = threading.Thread(target=first.handle_document, args=(doc,))
    running.start()
    assert started.wait(10)
    until = time.monotonic() + 1.2  # four claim TTLs: without renewal the claim lapses after 0.3 s
    while time.monotonic() < until:
        with pytest.raises(HandlerFailed, match="claimed by another consumer"):
            second.handle_document(doc)
        threading.Event().wait(0.05)
    finish.set()
    running.join(10)
    assert runs == ["slow"]
    assert second.handle_document(doc).skipped == list(doc.events)


def test_a_handler_outliving_a_lost_claim_does_not_mark_it_done() -> None:
    now = [1_800_000_000.0]
    store = MemoryDedup(claim_ttl_s=60, clock=lambda: now[0])
    taken_over: list[Verdict] = []

    def stalls(event: Event) -> None:
        now[0] += 120  # the process stalled past the TTL; another consumer takes the event over
        taken_over.append(store.claim(event.key, "other"))

    router = Router(dedup=store)
    router.default(stalls)
    event = DOC.events[0]
    router.handle_event(event)
    assert taken_over == [Verdict.CLAIMED]
    assert store.claim(event.key, "third") is Verdict.BUSY  # still the other's claim, not marked done
    assert store.complete(event.key, "other")


def test_a_router_for_one_customer_refuses_another_customers_documents() -> None:
    router = Router(customer_id="A1CUSTOMER")
    ran: list[str] = []
    router.default(lambda event: ran.append(event.event_type))
    event = {"EventType": "HITCreated", "HITId": "H1"}
    foreign = parse_document({"EventDocId": "f", "CustomerId": "A2OTHER", "Events": [event]})
    anonymous = parse_document({"EventDocId": "g", "Events": [event]})
    for document in (foreign, anonymous):
        with pytest.raises(ForeignCustomer, match="is not the expected 'A1CUSTOMER'"):
            router.handle_document(document)
    assert ran == []
    mine = parse_document({"EventDocId": "m", "CustomerId": "A1CUSTOMER", "Events": [event]})
    assert len(router.handle_document(mine).handled) == 1
    assert ran == ["HITCreated"]
