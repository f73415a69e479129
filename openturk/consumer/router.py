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

Events of the types the reconciliation sweeper can make up are keyed by their ``occurrence``, which
the sweeper's twin of a real event shares, so the handlers run once whichever comes first. A real
event marks the occurrence with its delivery (``complete``'s mark): a second real event finding the
occurrence done by *another* delivery (same type, HIT, assignment and second: a HIT reviewable twice
within one second) is a distinct happening and runs, keyed by its delivery.

``Router(customer_id=...)`` refuses a document whose CustomerId differs (or is missing):
``handle_document`` raises ``ForeignCustomer`` before any handler runs, and the carriers treat it
like a failed message (SQS: never deleted, so it reaches the dead-letter queue).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from openturk.consumer.claims import ClaimKeeper
from openturk.consumer.dedup import DedupStore, Key, MemoryDedup, Verdict
from openturk.consumer.events import Document, Event

log = logging.getLogger("openturk.consumer")
Handler = Callable[[Event], object]
DELIVERED = "delivered:"  # an occurrence's mark when a real delivery of it completed it


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
        key = event.key
        verdict = self.dedup.claim(key, owner)
        if verdict is Verdict.DONE and self._another_real_happening(event):
            key = event.delivery
            verdict = self.dedup.claim(key, owner)
        if verdict is Verdict.DONE:
            outcome.skipped.append(event)
            return
        if verdict is Verdict.BUSY:
            raise HandlerFailed([(event, None)])
        with self._claims.held(self.dedup, key, owner):
            try:
                self._run(event, key, handlers, owner)
            except HandlerFailed:
                self.dedup.release(key, owner)
                raise
        mark = delivered(event) if key == event.occurrence and not event.synthesized else None
        if not self.dedup.complete(key, owner, mark):
            log.warning("%s[%s]: handled, but another consumer took the claim over", event.event_type, key)
        outcome.handled.append(event)

    def _another_real_happening(self, event: Event) -> bool:
        """Whether the occurrence key ``event`` found done was marked by a different real delivery:
        then ``event`` is a distinct happening that shares the key (and is keyed by its delivery)."""
        if event.synthesized or event.occurrence is None:
            return False
        mark = self.dedup.mark_of(event.occurrence)
        return mark is not None and mark != delivered(event)

    def _run(self, event: Event, key: Key, handlers: list[Handler], owner: str) -> None:
        """Run the handlers that have not succeeded before; record each success but the last."""
        steps = step_names(handlers)
        done = self.dedup.steps_done(key) if len(handlers) > 1 else set()
        for position, (step, handler) in enumerate(zip(steps, handlers, strict=True)):
            if step in done:
                continue
            try:
                handler(event)
            except Exception as exc:
                raise HandlerFailed([(event, exc)]) from exc
            if position < len(handlers) - 1:  # the last one's success is the event's completion
                self.dedup.complete_step(key, step, owner)

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


def delivered(event: Event) -> str:
    """The mark of an occurrence completed by this real delivery of it."""
    doc_id, index = event.delivery
    return f"{DELIVERED}{doc_id}#{index}"


def step_names(handlers: list[Handler]) -> list[str]:
    """Stable names for an event's handlers: module.qualname, with ``#n`` for the n-th repeat."""
    names: list[str] = []
    for handler in handlers:
        base = f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', type(handler).__name__)}"
        repeats = sum(1 for name in names if name.split("#", 1)[0] == base)
        names.append(f"{base}#{repeats}" if repeats else base)
    return names
