"""Route events to handlers by type, de-duplicated, acknowledging a message only on full success.

    router = Router(dedup=SQLiteDedup("seen.db"))

    @router.on("AssignmentSubmitted", "AssignmentReturned")
    def on_assignment(event: Event) -> None: ...

    @router.default
    def everything_else(event: Event) -> None: ...

A handler takes one ``Event``. ``handle_document`` runs every handler of every event and returns
normally only if all succeeded (or were already done); otherwise it raises ``HandlerFailed`` and
the caller must not acknowledge (delete) the message, so it is delivered again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from openturk.consumer.dedup import DedupStore, MemoryDedup, Verdict
from openturk.consumer.events import Document, Event

log = logging.getLogger("openturk.consumer")
Handler = Callable[[Event], object]


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


@dataclass
class Outcome:
    handled: list[Event] = field(default_factory=list)
    skipped: list[Event] = field(default_factory=list)  # already done (duplicates)
    unrouted: list[Event] = field(default_factory=list)  # no handler for the type


class Router:
    def __init__(self, dedup: DedupStore | None = None) -> None:
        self.dedup: DedupStore = dedup if dedup is not None else MemoryDedup()
        self._handlers: dict[str, list[Handler]] = {}
        self._default: list[Handler] = []

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
        verdict = self.dedup.claim(event.key)
        if verdict is Verdict.DONE:
            outcome.skipped.append(event)
            return
        if verdict is Verdict.BUSY:
            raise HandlerFailed([(event, None)])
        try:
            for handler in handlers:
                handler(event)
        except Exception as exc:
            self.dedup.release(event.key)
            raise HandlerFailed([(event, exc)]) from exc
        self.dedup.complete(event.key)
        outcome.handled.append(event)

    def handle_document(self, document: Document) -> Outcome:
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
