"""Route events to handlers by type, de-duplicated, acknowledging a message only on full success.

    router = Router(dedup=SQLiteDedup("seen.db"))

    @router.on("AssignmentSubmitted", "AssignmentReturned")
    def on_assignment(event: Event) -> None: ...

    @router.default
    def everything_else(event: Event) -> None: ...

A handler takes one ``Event``. ``handle_document`` runs every handler of every event and returns
normally only if all succeeded (or were already done); otherwise it raises ``HandlerFailed`` and
the caller must not acknowledge (delete) the message, so it is delivered again.

Once per event across every consumer sharing the store: each handling claims the event's key under
a fresh owner token, the claim is renewed while the handlers run (``ClaimKeeper``), and only that
owner may complete or release it. When an event has several handlers, each one's success is
recorded as a step of the claim, so a retry after a later handler failed runs only the handlers that
did not succeed (a handler's step name is its module and qualified name, numbered when repeated:
rename a handler and it counts as new).

A real event of a type the reconciliation sweeper can make up also claims its ``occurrence`` key,
which the sweeper's twin of it is keyed by: if the twin ran first the real event is skipped, and
once the real one ran (marked by a ``DELIVERED`` step) the twin is skipped. An occurrence already
marked by another *real* event (same type, HIT, assignment and second: a HIT reviewable twice within
one second) is a distinct happening and runs.

``Router(customer_id=...)`` refuses a document whose CustomerId differs (or is missing):
``handle_document`` raises ``ForeignCustomer`` before any handler runs, and the carriers treat it
like a failed message (SQS: never deleted, so it reaches the dead-letter queue).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from openturk.consumer.claims import ClaimKeeper
from openturk.consumer.dedup import DedupStore, MemoryDedup, Verdict
from openturk.consumer.events import Document, Event

log = logging.getLogger("openturk.consumer")
Handler = Callable[[Event], object]
DELIVERED = "openturk:delivered"  # the step marking an occurrence handled for a real event
TwinHandled = Literal["twin handled"]  # _claim_twin's answer: the sweeper's twin of this event ran


class HandlerFailed(Exception):
    """Some event of a document was not handled; the message must be retried, not deleted."""

    def __init__(self, failures: list[tuple[Event, BaseException | None]]) -> None:
        self.failures = failures
        parts = [
            f"{event.event_type}[{event.doc_id}#{event.index}]: "
            + (f"{type(error).__name__}: {error}" if error else "claimed by another consumer")
            for event, error in failures
        ]
        super().__init__("; ".join(parts))


class ForeignCustomer(Exception):
    """The document's CustomerId is not the one the router serves; none of its handlers ran."""

    def __init__(self, document: Document, expected: str) -> None:
        self.document, self.expected = document, expected
        super().__init__(
            f"document {document.doc_id}: CustomerId {document.customer_id!r} is not the expected {expected!r}"
        )


@dataclass
class Outcome:
    handled: list[Event] = field(default_factory=list)
    skipped: list[Event] = field(default_factory=list)  # already done (duplicates)
    unrouted: list[Event] = field(default_factory=list)  # no handler for the type


class Router:
    def __init__(self, dedup: DedupStore | None = None, *, customer_id: str | None = None) -> None:
        self.dedup: DedupStore = dedup if dedup is not None else MemoryDedup()
        self.customer_id = customer_id
        self._handlers: dict[str, list[Handler]] = {}
        self._default: list[Handler] = []
        self._claims = ClaimKeeper()

    def add(self, event_type: str, handler: Handler) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        if not event_types:
            raise ValueError("name at least one event type")

        def register(handler: Handler) -> Handler:
            for event_type in event_types:
                self.add(event_type, handler)
            return handler

        return register

    def default(self, handler: Handler) -> Handler:
        """Handle every event type no ``on``/``add`` names."""
        self._default.append(handler)
        return handler

    def handlers_for(self, event_type: str) -> list[Handler]:
        return self._handlers.get(event_type) or self._default

    def handle_event(self, event: Event, outcome: Outcome | None = None) -> None:
        """Run the event's handlers once across every consumer sharing the dedup store."""
        outcome = outcome if outcome is not None else Outcome()
        handlers = self.handlers_for(event.event_type)
        if not handlers:
            outcome.unrouted.append(event)
            return
        owner = uuid.uuid4().hex
        verdict = self.dedup.claim(event.key, owner)
        if verdict is Verdict.DONE:
            outcome.skipped.append(event)
            return
        if verdict is Verdict.BUSY:
            raise HandlerFailed([(event, None)])
        claimed = [event.key]
        with contextlib.ExitStack() as renewing:
            renewing.enter_context(self._claims.held(self.dedup, event.key, owner))
            twin = self._claim_twin(event, owner)
            if twin == "twin handled":
                self._complete(event, claimed, owner)
                outcome.skipped.append(event)
                return
            if isinstance(twin, tuple):
                claimed.append(twin)
                renewing.enter_context(self._claims.held(self.dedup, twin, owner))
            try:
                self._run(event, handlers, owner)
            except HandlerFailed:
                for key in claimed:
                    self.dedup.release(key, owner)
                raise
        if len(claimed) > 1:  # mark the occurrence as a real event's, not the sweeper's twin's
            self.dedup.complete_step(claimed[1], DELIVERED, owner)
        self._complete(event, reversed(claimed), owner)
        outcome.handled.append(event)

    def _claim_twin(self, event: Event, owner: str) -> tuple[str, int] | TwinHandled | None:
        """For a real event, claim its ``occurrence`` too, shared with the sweeper's twin of it.

        Returns the occurrence key (claimed), None (nothing to share, or an earlier *real* event
        holds it: a distinct happening with the same key, which runs), or "twin handled" (the sweeper's
        twin ran: skip). Raises HandlerFailed, the event's own claim released, while another
        consumer runs the occurrence.
        """
        occurrence = None if event.synthesized else event.occurrence
        if occurrence is None:
            return None
        verdict = self.dedup.claim(occurrence, owner)
        if verdict is Verdict.CLAIMED:
            return occurrence
        if verdict is Verdict.DONE:
            return None if DELIVERED in self.dedup.steps_done(occurrence) else "twin handled"
        self.dedup.release(event.key, owner)
        raise HandlerFailed([(event, None)])

    def _complete(self, event: Event, keys: Iterable[tuple[str, int]], owner: str) -> None:
        for key in keys:
            if not self.dedup.complete(key, owner):
                log.warning("%s[%s]: handled, but another consumer took the claim over", event.event_type, key)

    def _run(self, event: Event, handlers: list[Handler], owner: str) -> None:
        """Run the handlers that have not succeeded before; record each success but the last."""
        steps = step_names(handlers)
        done = self.dedup.steps_done(event.key) if len(handlers) > 1 else set()
        for position, (step, handler) in enumerate(zip(steps, handlers, strict=True)):
            if step in done:
                continue
            try:
                handler(event)
            except Exception as exc:
                raise HandlerFailed([(event, exc)]) from exc
            if position < len(handlers) - 1:  # the last one's success is the event's completion
                self.dedup.complete_step(event.key, step, owner)

    def handle_document(self, document: Document) -> Outcome:
        """Handle a document's events; raise ForeignCustomer (running nothing) for another customer's."""
        if self.customer_id is not None and document.customer_id != self.customer_id:
            log.warning("refused: %s", ForeignCustomer(document, self.customer_id))
            raise ForeignCustomer(document, self.customer_id)
        return self.handle_events(document.events)

    def handle_events(self, events: Iterable[Event]) -> Outcome:
        """Handle each event (a failure does not stop the others); raise if any failed."""
        outcome = Outcome()
        failures: list[tuple[Event, BaseException | None]] = []
        for event in events:
            try:
                self.handle_event(event, outcome)
            except HandlerFailed as failed:
                log.warning("handler failed: %s", failed)
                failures.extend(failed.failures)
        if failures:
            raise HandlerFailed(failures)
        return outcome


def step_names(handlers: list[Handler]) -> list[str]:
    """Stable names for an event's handlers: module.qualname, with ``#n`` for the n-th repeat."""
    names: list[str] = []
    for handler in handlers:
        base = f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', type(handler).__name__)}"
        repeats = sum(1 for name in names if name.split("#", 1)[0] == base)
        names.append(f"{base}#{repeats}" if repeats else base)
    return names
