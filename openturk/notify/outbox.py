"""The durable outbox, in SQL: events in, messages formed, claimed, finished, redriven.

Every step is one short transaction. Claims are leases (``lease_until``): a dispatcher that dies
mid-send leaves its messages to be claimed again when the lease runs out, and they are re-sent with
the same EventDocId and body. On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED`` so several
dispatchers never take the same message; on SQLite the write lock serialises them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.expression import Executable

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
_SPEC = notification_settings.c
_COMMA = literal_column("','", String)
# One event's outbox row, written only if its HIT type's active specification lists the event's type:
# the specification in force is read and the row written by one statement (a SELECT and an INSERT
# before; every statement is a round trip on PostgreSQL). Event types are names from the model (the
# parser refuses any other), without commas or LIKE's wildcards and none differing from another only
# by case (SQLite's LIKE ignores case, PostgreSQL's does not); ``event_types`` joins them with commas.
_INSERT_OUTBOX_IF_NOTIFIED = Prepared(
    insert(outbox).from_select(
        ["event_id", "customer_id", "transport", "destination", "version", "committed_at"],
        select(
            bindparam("event_id", type_=Integer),
            _SPEC.customer_id,
            _SPEC.transport,
            _SPEC.destination,
            _SPEC.version,
            bindparam("committed_at", type_=BigInteger),
        ).where(
            _SPEC.hit_type_id == bindparam("hit_type_id"),
            _SPEC.active == true(),
            (_COMMA + _SPEC.event_types + _COMMA).like(
                literal_column("'%,'", String) + bindparam("event_type", type_=String) + literal_column("',%'", String)
            ),
        ),
    )
)


def record_events(conn: Connection, new_events: Sequence[Event], committed_at: int) -> None:
    """Append events and, where the HIT type's active specification lists the type, their outbox rows.

    The specification is read in the same transaction, so the one in force when the event
    commits decides where it goes.
    """
    for event in new_events:
        event_id = _INSERT_EVENT.first(conn, event.__dict__).event_id
        queued = _INSERT_OUTBOX_IF_NOTIFIED.run(
            conn,
            {
                "event_id": event_id,
                "committed_at": committed_at,
                "hit_type_id": event.hit_type_id,
                "event_type": event.event_type,
            },
        )
        if queued:
            announce(conn, OUTBOX)


class _LeavingOut:
    """A statement that leaves out the busy destinations and the full requesters, built once per
    number of each.

    ``NOT IN (:busy_0, …)`` with one parameter per destination (``:full_0, …`` per requester): a list
    of any length would need an expanding parameter, which ``Prepared`` cannot run. Both are few (a
    busy destination has a send in flight at this dispatcher, so at most its ``max_sends``; a full
    requester has ``per_requester`` of them), and so are the variants.
    """

    def __init__(self, build: Callable[[_Filter, _Filter], Executable]) -> None:
        self._build = build
        self._by_count: dict[tuple[int, int], Prepared] = {}

    def prepared(
        self, busy: Collection[str], params: dict[str, Any], full: Collection[str] = ()
    ) -> tuple[Prepared, dict[str, Any]]:
        """The statement for ``len(busy)`` destinations and ``len(full)`` requesters, and ``params``
        with theirs added."""
        statement = self._by_count.get((len(busy), len(full)))
        if statement is None:
            statement = self._by_count[(len(busy), len(full))] = Prepared(
                self._build(_not_in("busy", len(busy)), _not_in("full", len(full)))
            )
        return statement, {
            **params,
            **{f"busy_{i}": d for i, d in enumerate(busy)},
            **{f"full_{i}": r for i, r in enumerate(full)},
        }


_Filter = Callable[[ColumnElement[str]], ColumnElement[bool]]


def _not_in(prefix: str, count: int) -> _Filter:
    names: list[BindParameter[str]] = [bindparam(f"{prefix}_{i}") for i in range(count)]

    def leave_out(column: ColumnElement[str]) -> ColumnElement[bool]:
        return column.not_in(names) if names else true()

    return leave_out


# One dispatcher forms messages at a time (PostgreSQL): a second one forming at the same moment would
# split the same waiting events into smaller messages (SKIP LOCKED shares the rows out), doubling
# the work per event. A transaction-level advisory lock ends with its transaction or its session, so
# a dispatcher killed mid-pass never keeps the others from forming.
_FORMING_LOCK_KEY = 0x6F74_6F62  # "otob": openturk outbox
_TAKE_FORMING_TURN = Prepared(select(func.pg_try_advisory_xact_lock(literal(_FORMING_LOCK_KEY)).label("taken")))

_WAITING_EVENTS = _LeavingOut(
    lambda not_busy, _not_full: (
        select(
            outbox,
            events.c.event_type,
            events.c.event_time,
            events.c.hit_type_id,
            events.c.hit_id,
            events.c.assignment_id,
        )
        .join(events, events.c.event_id == outbox.c.event_id)
        .where(not_busy(outbox.c.destination))
        .order_by(outbox.c.event_id)
        .limit(FORM_LIMIT)
        .with_for_update(of=outbox, skip_locked=True)
    )
)
_INSERT_MESSAGE = Prepared(insert(messages).returning(messages.c.message_id))
_EVENT_IN_MESSAGE = Prepared(
    update(events).where(events.c.event_id == bindparam("b_event_id")).values(message_id=bindparam("b_message_id"))
)
_FORMED = Prepared(delete(outbox).where(outbox.c.event_id == bindparam("event_id")))


_SENDING_ELSEWHERE = Prepared(
    select(messages.c.destination, func.count(messages.c.lease_owner.distinct()).label("senders"))
    .where(
        messages.c.state == "sending",
        messages.c.lease_until >= bindparam("now"),
        messages.c.lease_owner != bindparam("owner"),
    )
    .group_by(messages.c.destination)
)


def sending_elsewhere(conn: Connection, owner: str, now: int) -> dict[str, int]:
    """Per destination, how many other dispatchers are sending to it now (each has a send in flight
    under a live lease, at least one). A lapsed lease is not a send: its holder stopped renewing it."""
    return {row.destination: row.senders for row in _SENDING_ELSEWHERE.all(conn, {"now": now, "owner": owner})}


def take_forming_turn(conn: Connection) -> bool:
    """Whether this transaction may form messages now: on PostgreSQL, False while another
    dispatcher's transaction is forming (it forms what this one would have, and every event that
    commits after its look will wake it again); SQLite's write lock already serialises them."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(_TAKE_FORMING_TURN.first(conn, {}).taken)


def form_messages(conn: Connection, now: int, busy: Collection[str] = (), formed_for: set[str] | None = None) -> int:
    """Batch every waiting event into messages per (requester, transport, destination, version);
    returns how many messages, and adds each requester they are for to ``formed_for``.

    Events for ``busy`` destinations keep waiting: they go into fuller messages once one of that
    destination's sends ended, as they would have had the destination answered sooner.
    """
    waiting, params = _WAITING_EVENTS.prepared(busy, {})
    rows = waiting.all(conn, params)
    if not rows:
        return 0
    groups: dict[tuple[str, str, str, str], list[Any]] = {}
    for row in rows:
        groups.setdefault((row.customer_id, row.transport, row.destination, row.version), []).append(row)
    if formed_for is not None:
        formed_for.update(customer_id for customer_id, _, _, _ in groups)
    formed = 0
    joined: list[dict[str, Any]] = []
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
            message_id = _INSERT_MESSAGE.first(
                conn,
                {
                    "doc_id": doc_id,
                    "customer_id": customer_id,
                    "transport": transport,
                    "destination": destination,
                    "version": version,
                    "body": doc.document(doc_id, version, customer_id, batch),
                    "event_count": len(batch),
                    "event_types": ",".join(dict.fromkeys(e.event_type for e in batch)),
                    "hit_type_ids": ",".join(dict.fromkeys(e.hit_type_id for e in batch)),
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "first_committed_at": min(committed[e.event_id] for e in batch),
                    "created_at": now,
                    "is_test": False,
                },
            ).message_id
            joined.extend({"b_event_id": e.event_id, "b_message_id": message_id} for e in batch)
            formed += 1
    _EVENT_IN_MESSAGE.run_many(conn, joined)
    _FORMED.run_many(conn, [{"event_id": row.event_id} for row in rows])
    return formed


def _outgoing(row: Any) -> Outgoing:
    return Outgoing(
        row.message_id,
        row.doc_id,
        row.transport,
        row.destination,
        row.body,
        row.event_types,
        row.hit_type_ids,
        row.customer_id,
    )


def _next_in_its_fifo_line() -> ColumnElement[bool]:
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
            or_(older.c.state == "pending", older.c.state == "sending"),
        )
        .exists()
    )
    return or_(messages.c.destination.not_like("%.fifo"), ~waiting_before)


_DUE = _LeavingOut(
    lambda not_busy, not_full: (
        select(messages)
        .where(
            or_(
                and_(messages.c.state == "pending", messages.c.next_attempt_at <= bindparam("now")),
                and_(messages.c.state == "sending", messages.c.lease_until < bindparam("now")),
            ),
            _next_in_its_fifo_line(),
            not_busy(messages.c.destination),
            not_full(messages.c.customer_id),
        )
        .order_by(messages.c.next_attempt_at, messages.c.message_id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True, key_share=True)
    )
)
_LEASE = Prepared(
    update(messages)
    .where(messages.c.message_id == bindparam("b_message_id"))
    .values(state="sending", lease_owner=bindparam("owner"), lease_until=bindparam("until"))
)


@dataclass(frozen=True)
class Claim:
    """What one claim leased, and what it saw but left."""

    leased: list[Outgoing]
    # The claim's query found as many messages as it may take: more may be due.
    more: bool
    # Requesters some of whose due messages it left for want of room: another dispatcher may take them.
    left_for: frozenset[str]


def claim(
    conn: Connection, owner: str, now: int, lease_ms: int, limit: int, busy: Collection[str] = ()
) -> list[Outgoing]:
    """Lease up to ``limit`` messages that are due, or whose previous lease ran out unrenewed.

    Destinations in ``busy`` (those already sending as much as they may) are left for a later claim,
    so their messages are not held, leased and idle, while the destination answers slowly.
    """
    return claim_within(conn, owner, now, lease_ms, limit, busy).leased


def claim_within(
    conn: Connection,
    owner: str,
    now: int,
    lease_ms: int,
    limit: int,
    busy: Collection[str] = (),
    full: Collection[str] = (),
    room: Callable[[str], int] | None = None,
) -> Claim:
    """``claim``, leasing for each requester only messages to as many destinations as ``room`` says
    the claimant may still start sends to (one send per destination), and none of ``full``'s.

    What a dispatcher could not start at once it leaves unleased, due, for whichever dispatcher has
    room first (this one, when one of its sends ends, or another): several dispatchers share one
    requester's backlog rather than one of them holding all of it, leased, in a queue of its own.
    """
    due, params = _DUE.prepared(busy, {"now": now, "limit": limit}, full)
    rows = due.all(conn, params)
    taken, left_for = rows, set()
    if room is not None:
        taken = []
        sends: dict[str, set[str]] = {}  # requester -> destinations it will send to
        for row in rows:
            destinations = sends.setdefault(row.customer_id, set())
            if row.destination not in destinations:
                if len(destinations) >= room(row.customer_id):
                    left_for.add(row.customer_id)
                    continue
                destinations.add(row.destination)
            taken.append(row)
    _LEASE.run_many(conn, [{"b_message_id": r.message_id, "owner": owner, "until": now + lease_ms} for r in taken])
    return Claim([_outgoing(row) for row in taken], len(rows) >= limit, frozenset(left_for))


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


_ATTEMPTED = Prepared(
    select(messages.c.attempts, messages.c.state, messages.c.lease_owner).where(
        messages.c.message_id == bindparam("message_id")
    )
)
_INSERT_ATTEMPT = Prepared(insert(delivery_attempts))
_AFTER_ATTEMPT = {
    outcome: Prepared(
        update(messages)
        .where(messages.c.message_id == bindparam("b_message_id"))
        .values(
            attempts=bindparam("b_attempts"),
            lease_owner=null(),
            lease_until=null(),
            state=outcome_state,
            last_error=bindparam("b_error"),
            **({"delivered_at": bindparam("b_now")} if outcome == "delivered" else {}),
            **({"next_attempt_at": bindparam("b_next")} if outcome == "failed" else {}),
        )
    )
    for outcome, outcome_state in (("delivered", "delivered"), ("failed", "pending"), ("dead", "dead"))
}


def finish(conn: Connection, owner: str, results: Sequence[Result], policy: RetryPolicy, now: int) -> None:
    """Record each attempt and move its message to delivered, a later retry, or dead."""
    for result in results:
        current = _ATTEMPTED.first(conn, {"message_id": result.message_id})
        if current is None:
            continue
        attempts = current.attempts + 1
        mine = current.state == "sending" and current.lease_owner == owner
        if result.error is None:
            outcome = "delivered"
        elif policy.exhausted(attempts):
            outcome = "dead"
        else:
            outcome = "failed"
        _INSERT_ATTEMPT.run(
            conn,
            {
                "message_id": result.message_id,
                "started_at": result.started_at,
                "latency_ms": result.latency_ms,
                "outcome": outcome,
                "error": result.error,
                "dispatcher": owner,
            },
        )
        # A delivery always counts; a failure moves the message only if our lease still holds it.
        if result.error is None or mine:
            params: dict[str, Any] = {
                "b_message_id": result.message_id,
                "b_attempts": attempts,
                "b_error": result.error,
            }
            if outcome == "delivered":
                params["b_now"] = now
            elif outcome == "failed":
                params["b_next"] = now + policy.delay_ms(attempts)
            _AFTER_ATTEMPT[outcome].run(conn, params)


def message_states(conn: Connection, message_ids: Collection[int]) -> dict[int, str]:
    """The state of each of ``message_ids`` that exists."""
    query = select(messages.c.message_id, messages.c.state).where(messages.c.message_id.in_(list(message_ids)))
    return {row.message_id: row.state for row in conn.execute(query)}


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


_UNFORMED = _LeavingOut(
    lambda not_busy, _not_full: (
        select(func.count().label("waiting")).select_from(outbox).where(not_busy(outbox.c.destination))
    )
)
# A FIFO destination's message behind an older one (waiting for its retry) is not due, whatever its own
# time says: counting it would wake the loop at once, over and over, until the older one's retry.
_NEXT_DUE = _LeavingOut(
    lambda not_busy, not_full: select(func.min(messages.c.next_attempt_at).label("due")).where(
        messages.c.state == "pending",
        _next_in_its_fifo_line(),
        not_busy(messages.c.destination),
        not_full(messages.c.customer_id),
    )
)
# A lapsed lease to a destination this dispatcher is already sending its share to cannot be taken
# over now either: counting it would wake the loop at once, over and over.
_NEXT_LAPSE = _LeavingOut(
    lambda not_busy, not_full: select(func.min(messages.c.lease_until).label("lapse")).where(
        messages.c.state == "sending", not_busy(messages.c.destination), not_full(messages.c.customer_id)
    )
)


def pending_work(
    conn: Connection, now: int, busy: Collection[str] = (), full: Collection[str] = ()
) -> tuple[int, int | None]:
    """(events waiting to be batched, the earliest time a pending message falls due or a lease lapses).

    Events and messages for ``busy`` destinations are not counted: they wait for one of that
    destination's sends to end, not for a time; nor are the messages of ``full`` requesters, which
    wait for one of their sends to end.
    """
    unformed, params = _UNFORMED.prepared(busy, {})
    waiting = unformed.first(conn, params).waiting
    next_due, params = _NEXT_DUE.prepared(busy, {}, full)
    due = next_due.first(conn, params).due
    next_lapse, params = _NEXT_LAPSE.prepared(busy, {}, full)
    lapse = next_lapse.first(conn, params).lapse
    candidates = [t for t in (due, lapse) if t is not None]
    return int(waiting), (min(candidates) if candidates else None)
