"""The durable outbox, in SQL: events in, messages formed, claimed, finished, redriven.

Every step is one short transaction. Claims are leases (``lease_until``): a dispatcher that dies
mid-send leaves its messages to be claimed again when the lease runs out, and they are re-sent with
the same EventDocId and body. On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` so several
dispatchers never take the same message; on SQLite the write lock serialises them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from openturk.domain.model import Event
from openturk.notify import message as doc
from openturk.notify.retry import RetryPolicy
from openturk.notify.transports.base import Outgoing, is_fifo
from openturk.store.database import OUTBOX, announce
from openturk.store.prepared import Prepared
from openturk.store.schema import delivery_attempts, events, messages, notification_settings, outbox

FORM_LIMIT = 5000


# Built once: these run inside every state-changing API call (see store/prepared.py).
_INSERT_EVENT = Prepared(insert(events).returning(events.c.event_id))
_SPEC_OF_TYPE = Prepared(
    select(notification_settings).where(notification_settings.c.hit_type_id == bindparam("hit_type_id"))
)
_INSERT_OUTBOX = Prepared(insert(outbox))


def record_events(conn: Connection, new_events: Sequence[Event], committed_at: int) -> None:
    """Append events and, where the HIT type's active specification lists the type, their outbox rows.

    The specification is read in the same transaction, so the one in force when the event
    commits decides where it goes.
    """
    specs: dict[str, Any] = {}
    for event in new_events:
        event_id = _INSERT_EVENT.first(conn, event.__dict__).event_id
        if event.hit_type_id not in specs:
            specs[event.hit_type_id] = _SPEC_OF_TYPE.first(conn, {"hit_type_id": event.hit_type_id})
        spec = specs[event.hit_type_id]
        if spec is not None and spec.active and event.event_type in spec.event_types.split(","):
            announce(conn, OUTBOX)
            _INSERT_OUTBOX.run(
                conn,
                {
                    "event_id": event_id,
                    "customer_id": spec.customer_id,
                    "transport": spec.transport,
                    "destination": spec.destination,
                    "version": spec.version,
                    "committed_at": committed_at,
                },
            )


def form_messages(conn: Connection, now: int, busy: Collection[str] = ()) -> int:
    """Batch every waiting event into messages per (requester, transport, destination, version).

    Events for ``busy`` destinations keep waiting: they go into fuller messages once one of that
    destination's sends ended, as they would have had the destination answered sooner.
    """
    query = select(
        outbox,
        events.c.event_type,
        events.c.event_time,
        events.c.hit_type_id,
        events.c.hit_id,
        events.c.assignment_id,
    ).join(events, events.c.event_id == outbox.c.event_id)
    if busy:
        query = query.where(outbox.c.destination.not_in(list(busy)))
    rows = conn.execute(
        query.order_by(outbox.c.event_id).limit(FORM_LIMIT).with_for_update(of=outbox, skip_locked=True)
    ).all()
    if not rows:
        return 0
    groups: dict[tuple[str, str, str, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row.customer_id, row.transport, row.destination, row.version), []).append(row)
    formed = 0
    for (customer_id, transport, destination, version), members in groups.items():
        committed = {row.event_id: row.committed_at for row in members}
        records = [
            doc.EventRecord(
                row.event_id, row.event_type, row.event_time, row.hit_type_id, row.hit_id, row.assignment_id
            )
            for row in members
        ]
        for batch in doc.batches(records, one_hit=is_fifo(destination)):
            doc_id = doc.new_doc_id()
            message_id = conn.execute(
                insert(messages)
                .values(
                    doc_id=doc_id,
                    customer_id=customer_id,
                    transport=transport,
                    destination=destination,
                    version=version,
                    body=doc.document(doc_id, version, customer_id, batch),
                    event_count=len(batch),
                    event_types=",".join(dict.fromkeys(e.event_type for e in batch)),
                    hit_type_ids=",".join(dict.fromkeys(e.hit_type_id for e in batch)),
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    first_committed_at=min(committed[e.event_id] for e in batch),
                    created_at=now,
                    is_test=False,
                )
                .returning(messages.c.message_id)
            ).scalar_one()
            ids = [e.event_id for e in batch]
            conn.execute(update(events).where(events.c.event_id.in_(ids)).values(message_id=message_id))
            formed += 1
    conn.execute(delete(outbox).where(outbox.c.event_id.in_([row.event_id for row in rows])))
    return formed


def _outgoing(row: Any) -> Outgoing:
    return Outgoing(
        row.message_id, row.doc_id, row.transport, row.destination, row.body, row.event_types, row.hit_type_ids
    )


def _next_in_its_fifo_line() -> Any:
    """A FIFO destination's messages go out one at a time, oldest first, across every dispatcher.

    ``MessageGroupId`` = HITId orders a HIT's messages by their arrival at SQS/SNS, so a message is
    claimed only when no older one to the same destination is still undelivered: in flight at any
    dispatcher, lapsed (it is claimed first) or waiting for its retry. Dead-lettered messages do
    not hold the line. Standard queues and topics are not ordered and skip the check.
    """
    older = messages.alias("older")
    waiting_before = (
        select(older.c.message_id)
        .where(
            older.c.destination == messages.c.destination,
            older.c.message_id < messages.c.message_id,
            older.c.state.in_(("pending", "sending")),
        )
        .exists()
    )
    return or_(messages.c.destination.not_like("%.fifo"), ~waiting_before)


def claim(
    conn: Connection, owner: str, now: int, lease_ms: int, limit: int, busy: Collection[str] = ()
) -> list[Outgoing]:
    """Lease up to ``limit`` messages that are due, or whose previous lease ran out unrenewed.

    Destinations in ``busy`` (those already sending as much as they may) are left for a later claim,
    so their messages are not held, leased and idle, while the destination answers slowly.
    """
    due = or_(
        and_(messages.c.state == "pending", messages.c.next_attempt_at <= now),
        and_(messages.c.state == "sending", messages.c.lease_until < now),
    )
    query = select(messages).where(due, _next_in_its_fifo_line())
    if busy:
        query = query.where(messages.c.destination.not_in(list(busy)))
    rows = conn.execute(
        query.order_by(messages.c.next_attempt_at, messages.c.message_id)
        .limit(limit)
        .with_for_update(skip_locked=True, key_share=True)
    ).all()
    if rows:
        conn.execute(
            update(messages)
            .where(messages.c.message_id.in_([r.message_id for r in rows]))
            .values(state="sending", lease_owner=owner, lease_until=now + lease_ms)
        )
    return [_outgoing(row) for row in rows]


def renew(conn: Connection, owner: str, message_ids: Collection[int], until: int) -> int:
    """Extend the leases ``owner`` still holds on ``message_ids`` to ``until``; returns how many.

    The heartbeat of a send in flight: a lease lapses, and another dispatcher may take the message
    over, only when its holder stopped renewing it (the process died or hung).
    """
    if not message_ids:
        return 0
    result = conn.execute(
        update(messages)
        .where(
            messages.c.message_id.in_(list(message_ids)),
            messages.c.state == "sending",
            messages.c.lease_owner == owner,
        )
        .values(lease_until=until)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Result:
    message_id: int
    error: str | None
    started_at: int
    latency_ms: int


def finish(conn: Connection, owner: str, results: Sequence[Result], policy: RetryPolicy, now: int) -> None:
    """Record each attempt and move its message to delivered, a later retry, or dead."""
    for result in results:
        current = conn.execute(
            select(messages.c.attempts, messages.c.state, messages.c.lease_owner).where(
                messages.c.message_id == result.message_id
            )
        ).first()
        if current is None:
            continue
        attempts = current.attempts + 1
        mine = current.state == "sending" and current.lease_owner == owner
        if result.error is None:
            outcome = "delivered"
            values: dict[str, Any] = {"state": "delivered", "delivered_at": now, "last_error": None}
        elif policy.exhausted(attempts):
            outcome, values = "dead", {"state": "dead", "last_error": result.error}
        else:
            outcome = "failed"
            values = {
                "state": "pending",
                "next_attempt_at": now + policy.delay_ms(attempts),
                "last_error": result.error,
            }
        conn.execute(
            insert(delivery_attempts).values(
                message_id=result.message_id,
                started_at=result.started_at,
                latency_ms=result.latency_ms,
                outcome=outcome,
                error=result.error,
                dispatcher=owner,
            )
        )
        # A delivery always counts; a failure moves the message only if our lease still holds it.
        if result.error is None or mine:
            conn.execute(
                update(messages)
                .where(messages.c.message_id == result.message_id)
                .values(attempts=attempts, lease_owner=None, lease_until=None, **values)
            )


def redrive(conn: Connection, now: int, message_ids: Sequence[int] | None = None) -> int:
    """Send dead-lettered messages again (same EventDocId and body); returns how many."""
    query = update(messages).where(messages.c.state == "dead")
    if message_ids is not None:
        query = query.where(messages.c.message_id.in_(message_ids))
    count = int(
        conn.execute(query.values(state="pending", attempts=0, next_attempt_at=now, last_error=None)).rowcount or 0
    )
    if count:
        announce(conn, OUTBOX)  # due now: wake the dispatchers once it commits
    return count


def pending_work(conn: Connection, now: int, busy: Collection[str] = ()) -> tuple[int, int | None]:
    """(events waiting to be batched, the earliest time a pending message falls due or a lease lapses).

    Events and messages for ``busy`` destinations are not counted: they wait for one of that
    destination's sends to end, not for a time.
    """
    unformed = select(func.count()).select_from(outbox)
    if busy:
        unformed = unformed.where(outbox.c.destination.not_in(list(busy)))
    waiting = conn.execute(unformed).scalar_one()
    pending = select(func.min(messages.c.next_attempt_at)).where(messages.c.state == "pending")
    if busy:
        pending = pending.where(messages.c.destination.not_in(list(busy)))
    next_due = conn.execute(pending).scalar_one_or_none()
    # A lapsed lease to a destination this dispatcher is already sending its share to cannot be
    # taken over now either: counting it would wake the loop at once, over and over.
    leased = select(func.min(messages.c.lease_until)).where(messages.c.state == "sending")
    if busy:
        leased = leased.where(messages.c.destination.not_in(list(busy)))
    lease_end = conn.execute(leased).scalar_one_or_none()
    candidates = [t for t in (next_due, lease_end) if t is not None]
    return int(waiting), (min(candidates) if candidates else None)
