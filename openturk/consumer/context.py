"""What a handler needs beyond the event: the HIT, its RequesterAnnotation, its assignments' answers.

    from openturk.consumer import context

    @router.on("HITReviewable")
    def review(event):
        key = context.requester_annotation(mturk, event)        # your own id, set at CreateHIT
        for assignment in context.assignments_for(mturk, event):
            save(key, assignment.worker_id, assignment.answers)  # answers parsed by parse_answers

Each helper takes a boto3 ``mturk`` client and a HIT id or an ``Event``; the module-level helpers
share one ``Context`` (a small cache) per client, or build your own ``Context(mturk, ...)``.

Cache rules (DECISION):
- ``RequesterAnnotation`` never changes after CreateHIT (no MTurk operation edits it), so it is
  kept until evicted (least recently used first, ``max_entries`` HITs).
- ``GetHIT`` and ``ListAssignmentsForHIT`` answers are kept ``ttl_s`` seconds (default 30), and an
  answer fetched before an event happened is never served for that event: given an ``Event``, an
  entry must have been fetched at least one second (timestamps are whole seconds) after its
  ``EventTimestamp`` by this machine's clock, so the HITReviewable that follows an
  AssignmentSubmitted of the same HIT sees every assignment. (A consumer whose clock runs ahead of
  the server's may see an answer up to ``ttl_s`` old; one behind it just fetches more often.)
- A change made through the same boto3 client (ApproveAssignment, RejectAssignment,
  CreateAdditionalAssignmentsForHIT, UpdateExpirationForHIT, UpdateHITReviewStatus,
  UpdateHITTypeOfHIT, DeleteHIT) forgets what it makes stale as soon as it succeeds (a botocore
  ``after-call`` hook): the HIT's entries, or every cached GetHIT when an approval names an
  assignment the cache has not seen. ``invalidate(hit_id)`` does it by hand (changes made elsewhere).
Errors (``HITDoesNotExist`` and the like, as botocore ``ClientError``) propagate and are not cached.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openturk.consumer.answers import Value, parse_answers
from openturk.consumer.events import Event

# Operations that change what GetHIT / ListAssignmentsForHIT answer, and the parameter naming the target.
CHANGES = {
    "ApproveAssignment": "AssignmentId",
    "RejectAssignment": "AssignmentId",
    "CreateAdditionalAssignmentsForHIT": "HITId",
    "UpdateExpirationForHIT": "HITId",
    "UpdateHITReviewStatus": "HITId",
    "UpdateHITTypeOfHIT": "HITId",
    "DeleteHIT": "HITId",
}
_CHANGED = "openturk_consumer_changed"
DEFAULT_TTL_S = 30.0
DEFAULT_MAX_ENTRIES = 1024
PAGE_SIZE = 100  # ListAssignmentsForHIT's largest page

HITRef = str | Event


@dataclass(frozen=True)
class Assignment:
    """One ListAssignmentsForHIT entry with its answers parsed (``raw`` is the entry as boto3 gave it)."""

    assignment_id: str
    worker_id: str
    hit_id: str
    status: str
    answers: Mapping[str, Value]
    accept_time: datetime | None
    submit_time: datetime | None
    raw: Mapping[str, Any]

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Assignment:
        return cls(
            assignment_id=str(raw["AssignmentId"]),
            worker_id=str(raw.get("WorkerId", "")),
            hit_id=str(raw.get("HITId", "")),
            status=str(raw.get("AssignmentStatus", "")),
            answers=parse_answers(raw),
            accept_time=raw.get("AcceptTime"),
            submit_time=raw.get("SubmitTime"),
            raw=raw,
        )


class _Cache:
    """Least-recently-used, with an optional time to live; thread-safe."""

    def __init__(self, max_entries: int, ttl_s: float | None, clock: Callable[[], float]) -> None:
        self.max_entries, self.ttl_s, self.clock = max_entries, ttl_s, clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, fetched_after: float | None = None) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            fetched_at, value = entry
            too_old = self.ttl_s is not None and self.clock() - fetched_at >= self.ttl_s
            if too_old or (fetched_after is not None and fetched_at < fetched_after):
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any, fetched_at: float) -> None:
        with self._lock:
            self._entries[key] = (fetched_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def values(self) -> list[Any]:
        with self._lock:
            return [value for _, value in self._entries.values()]

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        with self._lock:
            for key in [key for key in self._entries if match(key)]:
                del self._entries[key]


class Context:
    """Cached GetHIT / ListAssignmentsForHIT for one requester's ``mturk`` client (see module docs)."""

    def __init__(
        self,
        mturk: Any,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mturk, self.page_size, self.clock = mturk, page_size, clock
        self._hits = _Cache(max_entries, ttl_s, clock)
        self._annotations = _Cache(max_entries, None, clock)
        self._assignments = _Cache(max_entries, ttl_s, clock)
        events = getattr(getattr(mturk, "meta", None), "events", None)
        if events is not None:  # a boto3 client (test doubles without an event system are left alone)
            events.register("before-parameter-build.mturk", self._note_change)
            events.register("after-call.mturk", self._forget_changed)

    def _note_change(self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        name = CHANGES.get(getattr(model, "name", ""))
        if name is not None and isinstance(params.get(name), str):
            context[_CHANGED] = (name, params[name])

    def _forget_changed(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        changed = context.get(_CHANGED)
        if changed is None or getattr(http_response, "status_code", 500) >= 300:
            return
        name, target = changed
        if name == "HITId":
            self.invalidate(target)
            return
        hit_ids = {a.hit_id for found in self._assignments.values() for a in found if a.assignment_id == target}
        for hit_id in hit_ids:
            self.invalidate(hit_id)
        if not hit_ids:  # an assignment this cache never listed: its HIT's counts may be cached
            self._hits.forget(lambda _key: True)

    def hit(self, ref: HITRef) -> dict[str, Any]:
        """GetHIT's ``HIT``."""
        hit_id, fetched_after = _resolve(ref)
        cached = self._hits.get(hit_id, fetched_after)
        if cached is not None:
            return dict(cached)
        fetched_at = self.clock()
        hit = dict(self.mturk.get_hit(HITId=hit_id)["HIT"])
        self._hits.put(hit_id, hit, fetched_at)
        self._annotations.put(hit_id, (hit.get("RequesterAnnotation") or None,), fetched_at)
        return dict(hit)

    def requester_annotation(self, ref: HITRef) -> str | None:
        """The HIT's ``RequesterAnnotation`` (None when it has none)."""
        hit_id, _ = _resolve(ref)
        cached: tuple[str | None] | None = self._annotations.get(hit_id)
        if cached is not None:
            return cached[0]
        return self.hit(hit_id).get("RequesterAnnotation") or None

    def assignments_for(self, ref: HITRef, statuses: Iterable[str] | None = None) -> list[Assignment]:
        """Every assignment of the HIT (all pages), answers parsed; ``statuses`` filters
        (``Submitted``, ``Approved``, ``Rejected``; default all three, as MTurk)."""
        hit_id, fetched_after = _resolve(ref)
        wanted = tuple(sorted(set(statuses))) if statuses is not None else None
        key = (hit_id, wanted)
        cached: list[Assignment] | None = self._assignments.get(key, fetched_after)
        if cached is not None:
            return list(cached)
        fetched_at = self.clock()
        found: list[Assignment] = []
        params: dict[str, Any] = {"HITId": hit_id, "MaxResults": self.page_size}
        if wanted is not None:
            params["AssignmentStatuses"] = list(wanted)
        while True:
            page = self.mturk.list_assignments_for_hit(**params)
            found.extend(Assignment.from_wire(raw) for raw in page.get("Assignments", []))
            token = page.get("NextToken")
            if not token or not page.get("Assignments"):
                break
            params["NextToken"] = token
        self._assignments.put(key, found, fetched_at)
        return list(found)

    def invalidate(self, hit_id: str | None = None) -> None:
        """Forget one HIT's cached answers (its annotation stays: it cannot change), or everything."""
        if hit_id is None:
            for cache in (self._hits, self._assignments, self._annotations):
                cache.forget(lambda _key: True)
            return
        self._hits.forget(lambda key: key == hit_id)
        self._assignments.forget(lambda key: isinstance(key, tuple) and key[0] == hit_id)


def _resolve(ref: HITRef) -> tuple[str, float | None]:
    """The HIT id, and for an event the earliest fetch time whose answer may serve it."""
    if isinstance(ref, str):
        return ref, None
    if ref.hit_id is None:
        raise ValueError(f"{ref.event_type} event {ref.doc_id}#{ref.index} names no HIT")
    happened = ref.event_timestamp
    return ref.hit_id, (happened.timestamp() + 1.0 if happened is not None else None)


_contexts: weakref.WeakKeyDictionary[Any, Context] = weakref.WeakKeyDictionary()
_contexts_lock = threading.Lock()


def context_for(mturk: Any) -> Context:
    """The shared ``Context`` of this client (made on first use, dropped with the client)."""
    with _contexts_lock:
        found = _contexts.get(mturk)
        if found is None:
            # A weak proxy: the shared Context (held by this dict and by the client's event hooks)
            # must not keep its client alive, or the client would never be dropped.
            found = _contexts[mturk] = Context(weakref.proxy(mturk))
        return found


def hit(mturk: Any, ref: HITRef) -> dict[str, Any]:
    """GetHIT's ``HIT`` for a HIT id or an event, cached (see module docs)."""
    return context_for(mturk).hit(ref)


def requester_annotation(mturk: Any, ref: HITRef) -> str | None:
    """The HIT's ``RequesterAnnotation``, cached until evicted (it never changes)."""
    return context_for(mturk).requester_annotation(ref)


def assignments_for(mturk: Any, ref: HITRef, statuses: Iterable[str] | None = None) -> list[Assignment]:
    """Every assignment of the event's (or id's) HIT, all pages, with ``answers`` parsed; cached."""
    return context_for(mturk).assignments_for(ref, statuses)


__all__ = ["Assignment", "Context", "assignments_for", "context_for", "hit", "requester_annotation"]
