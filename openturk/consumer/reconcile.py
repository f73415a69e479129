"""Repair missed notifications: compare the server's state with what the consumer handled.

Push is fast, but no consumer should rely on it alone: a message can be lost to a deleted queue, a
wrong policy, a HIT type whose notification settings were never made, or a consumer outage longer
than the queue's retention. The sweeper lists the requester's Reviewable HITs (ListReviewableHITs)
and their assignments (ListAssignmentsForHIT), and for each happening the consumer has not handled
it makes up the event MTurk would have sent, with ``synthesized=True``, and runs it through the
router like any other:

- ``AssignmentSubmitted`` for every submitted assignment (Submitted, Approved or Rejected — a
  handler may thus meet an assignment already approved; ``extra["AssignmentStatus"]`` says which),
  then ``AssignmentApproved``/``AssignmentRejected`` for its current status;
- ``HITReviewable`` for the HIT, at the time it became reviewable (its last SubmitTime when every
  assignment was submitted, else its Expiration), so a HIT that becomes reviewable again after
  CreateAdditionalAssignmentsForHIT is repaired again, and a real notification from its first
  time does not hide the second.
Only event types the router has a handler for (and ``event_types`` names) are made up.

How it knows what was handled (DECISION): ``Reconciler.router`` wraps your router and records every
event it finishes in an ``ObservedStore`` — (EventType, HITId, AssignmentId) and the latest
EventTimestamp, all in server time, so the two clocks never meet. Give ``reconciler.router`` to your
consumer (SQS, SNS, Lambda) instead of the router itself; the sweeper and the consumer must share
the observed store (``MemoryObserved`` in one process, ``SQLObserved`` across processes).

Handled once: a made-up event has the same de-duplication key as the real one (``Event.key``:
(EventType, HITId, AssignmentId, EventTimestamp's second) for the types swept here), so the router
runs it once whichever comes first — the sweeper's event or a late real notification — and once
even if two sweepers race; once handled it is observed, so the next sweep does not make it again.
Its EventDocId (``reconcile:AssignmentSubmitted:<id>``, ``reconcile:HITReviewable:<HITId>:<epoch s>``)
only names it in logs. A HIT that became Reviewable by expiring is stamped with its Expiration,
as openturk stamps the real HITReviewable. Limit: a HIT whose last assignment in progress was
returned or abandoned after the Expiration becomes Reviewable at that later moment, which the
sweeper cannot see, so those two may both run. A handler that fails is retried at the next
sweep. A gap must persist ``grace_s`` (by this machine's monotonic clock) before it is repaired, so
a notification still in flight is not doubled.

Limits: only Reviewable HITs are swept (a submitted assignment of a HIT still open is repaired when
the HIT becomes reviewable); a HIT you moved to Reviewing or disposed is no longer looked at.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openturk.consumer.dedup import DedupStore
from openturk.consumer.events import Event
from openturk.consumer.observed import MemoryObserved, ObservedStore
from openturk.consumer.router import Handler, HandlerFailed, Outcome, Router

log = logging.getLogger("openturk.consumer.reconcile")

DEFAULT_EVENT_TYPES = ("AssignmentSubmitted", "AssignmentApproved", "AssignmentRejected", "HITReviewable")
PAGE_SIZE = 100
_ORDER = {name: position for position, name in enumerate(DEFAULT_EVENT_TYPES)}
_CURRENT = {"Approved": ("AssignmentApproved", "ApprovalTime"), "Rejected": ("AssignmentRejected", "RejectionTime")}


class ObservedRouter(Router):
    """``inner``'s handlers and de-duplication, recording in ``observed`` every event it finished
    (handled now, handled before, or with no handler); a failed event is not recorded."""

    def __init__(self, inner: Router, observed: ObservedStore) -> None:
        self.inner, self.observed = inner, observed
        super().__init__(dedup=inner.dedup, customer_id=inner.customer_id)

    @property
    def dedup(self) -> DedupStore:
        """The inner router's store: replacing it here (``consume --dedup``) replaces the one in use."""
        return self.inner.dedup

    @dedup.setter
    def dedup(self, store: DedupStore) -> None:
        self.inner.dedup = store

    def add(self, event_type: str, handler: Handler) -> None:
        self.inner.add(event_type, handler)

    def default(self, handler: Handler) -> Handler:
        return self.inner.default(handler)

    def handlers_for(self, event_type: str) -> list[Handler]:
        return self.inner.handlers_for(event_type)

    def handle_event(self, event: Event, outcome: Outcome | None = None) -> None:
        self.inner.handle_event(event, outcome)
        self.observed.record(event)


@dataclass
class Sweep:
    """What one ``run_once`` found and did."""

    hits: int = 0  # Reviewable HITs looked at
    synthesized: list[Event] = field(default_factory=list)  # made up and handled now
    failed: list[Event] = field(default_factory=list)  # made up, handler failed: tried again next sweep
    waiting: int = 0  # gaps younger than grace_s


class Reconciler:
    def __init__(
        self,
        mturk: Any,
        router: Router,
        *,
        hit_type_ids: Sequence[str] | None = None,
        interval_s: float = 60.0,
        grace_s: float = 120.0,
        seen: ObservedStore | None = None,
        event_types: Iterable[str] = DEFAULT_EVENT_TYPES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``hit_type_ids`` limits the sweep to those HIT types (default: all of the requester's)."""
        if isinstance(router, ObservedRouter):
            if seen is not None and seen is not router.observed:
                raise ValueError("the router already records into another observed store")
            self.router = router
        else:
            self.router = ObservedRouter(router, seen if seen is not None else MemoryObserved())
        self.observed = self.router.observed
        self.mturk, self.hit_type_ids = mturk, list(hit_type_ids) if hit_type_ids else None
        self.interval_s, self.grace_s, self.clock = interval_s, grace_s, clock
        self.event_types = tuple(event_types)
        self._noticed: dict[str, float] = {}  # EventDocId of a gap → when first seen

    def run(self, stop: threading.Event) -> None:
        """Sweep every ``interval_s`` until ``stop`` is set; a failed sweep is logged and retried."""
        while not stop.is_set():
            try:
                sweep = self.run_once()
                if sweep.synthesized or sweep.failed:
                    log.info("reconciled %d missed event(s), %d failed", len(sweep.synthesized), len(sweep.failed))
            except Exception:  # a sweep failing (server unreachable) must not end the sweeper
                log.exception("reconciliation sweep failed; trying again in %ss", self.interval_s)
            stop.wait(self.interval_s)

    def run_once(self) -> Sweep:
        sweep = Sweep()
        types = [name for name in self.event_types if self.router.handlers_for(name)]
        now, noticed = self.clock(), {}
        for hit in self._reviewable_hits():
            sweep.hits += 1
            for event in self.missing(hit, types):
                first = noticed[event.doc_id] = self._noticed.get(event.doc_id, now)
                if now - first < self.grace_s:
                    sweep.waiting += 1
                    continue
                outcome = Outcome()
                try:
                    self.router.handle_event(event, outcome)
                except HandlerFailed as failed:
                    log.warning("reconciled event failed, will be tried again: %s", failed)
                    sweep.failed.append(event)
                    continue
                sweep.synthesized.extend(outcome.handled)
        self._noticed = noticed
        return sweep

    def missing(self, hit: Mapping[str, Any], types: Sequence[str]) -> list[Event]:
        """The events of ``types`` this HIT's current state implies that the consumer never handled."""
        hit_id = str(hit["HITId"])
        assignments = list(self._assignments(hit_id))
        seen = self.observed.seen_for(hit_id)
        events: list[Event] = []
        for assignment in assignments:
            assignment_id, status = str(assignment["AssignmentId"]), str(assignment.get("AssignmentStatus"))
            happened = [("AssignmentSubmitted", assignment.get("SubmitTime"))]
            if status in _CURRENT:
                name, time_field = _CURRENT[status]
                happened.append((name, assignment.get(time_field)))
            for name, when in happened:
                if name in types and (name, assignment_id) not in seen:
                    events.append(
                        _event(
                            name,
                            hit,
                            assignment_id,
                            when,
                            f"reconcile:{name}:{assignment_id}",
                            {"AssignmentStatus": status},
                        )
                    )
        if "HITReviewable" in types:
            since = reviewable_since(hit, assignments)
            if since is not None and seen.get(("HITReviewable", None), -1) < int(since.timestamp()):
                doc_id = f"reconcile:HITReviewable:{hit_id}:{int(since.timestamp())}"
                events.append(_event("HITReviewable", hit, None, since, doc_id, {}))
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(events, key=lambda e: (e.event_timestamp or far, _ORDER.get(e.event_type, 9)))

    def _reviewable_hits(self) -> Iterator[Mapping[str, Any]]:
        every: list[str | None] = [None]  # no HITTypeId: all of the requester's HITs
        for hit_type_id in self.hit_type_ids or every:
            params: dict[str, Any] = {"Status": "Reviewable", "MaxResults": PAGE_SIZE}
            if hit_type_id is not None:
                params["HITTypeId"] = hit_type_id
            for listed in _pages(self.mturk.list_reviewable_hits, params, "HITs"):
                hit = self._hit(listed)
                if hit is not None:
                    yield hit

    def _hit(self, listed: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The whole HIT: ListReviewableHITs gives only its HITId (as MTurk did); None if it is gone."""
        if "MaxAssignments" in listed:
            return listed
        from botocore.exceptions import ClientError

        try:
            return dict(self.mturk.get_hit(HITId=listed["HITId"])["HIT"])
        except ClientError as exc:  # deleted between the list and now: nothing left to reconcile
            if exc.response.get("TurkErrorCode") == "AWS.MechanicalTurk.HITDoesNotExist":
                return None
            raise

    def _assignments(self, hit_id: str) -> Iterator[Mapping[str, Any]]:
        return _pages(self.mturk.list_assignments_for_hit, {"HITId": hit_id, "MaxResults": PAGE_SIZE}, "Assignments")


def reviewable_since(hit: Mapping[str, Any], assignments: Sequence[Mapping[str, Any]]) -> datetime | None:
    """When a Reviewable HIT became so — never later than the real HITReviewable's timestamp: its last
    SubmitTime when every assignment was submitted, else (it expired first) its Expiration."""
    submitted = [a["SubmitTime"] for a in assignments if a.get("SubmitTime") is not None]
    candidates = list(submitted)
    if len(submitted) < int(hit.get("MaxAssignments", 1)) and hit.get("Expiration") is not None:
        candidates.append(hit["Expiration"])
    return max(candidates) if candidates else None


def _event(
    name: str,
    hit: Mapping[str, Any],
    assignment_id: str | None,
    when: datetime | None,
    doc_id: str,
    extra: Mapping[str, Any],
) -> Event:
    return Event(
        event_type=name,
        event_timestamp=when.astimezone(UTC) if when is not None else None,
        hit_type_id=hit.get("HITTypeId"),
        hit_id=str(hit["HITId"]),
        assignment_id=assignment_id,
        doc_id=doc_id,
        index=0,
        extra=dict(extra),
        synthesized=True,
    )


def _pages(call: Callable[..., Any], params: dict[str, Any], items: str) -> Iterator[Mapping[str, Any]]:
    params = dict(params)
    while True:
        page = call(**params)
        yield from page.get(items, [])
        if not page.get("NextToken") or not page.get(items):
            return
        params["NextToken"] = page["NextToken"]


__all__ = ["ObservedRouter", "Reconciler", "Sweep", "reviewable_since"]
