"""UpdateNotificationSettings and SendTestEventNotification."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert, select, update

from openturk.errors import InvalidParameterValue, RequestError
from openturk.notify import message as doc
from openturk.notify import specification
from openturk.notify.transports.base import Outgoing
from openturk.requester.context import Context
from openturk.requester.hits import owned_hit_type
from openturk.requester.registry import operation
from openturk.store.repository import Repository
from openturk.store.schema import delivery_attempts, messages, notification_settings

# Placeholder ids of the right shape that name nothing real (DECISION, as MTurk's test events did).
TEST_HIT_TYPE_ID = "1" + "TESTHITTYPE" + "0" * 18
TEST_HIT_ID = "1" + "TESTHIT" + "0" * 22
TEST_ASSIGNMENT_ID = "1" + "TESTASSIGNMENT" + "0" * 15


@operation("UpdateNotificationSettings")
def update_notification_settings(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """A new Notification replaces the old; Active alone toggles an existing one.

    DECISION: a Notification without Active is active on a HIT type that had none, and keeps the
    previous flag on one that had a specification.
    """
    notification, active = params.get("Notification"), params.get("Active")
    if notification is None and active is None:
        raise InvalidParameterValue("Give Notification, Active, or both.")
    spec = specification.parse(notification) if notification is not None else None
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        hit_type = owned_hit_type(repo, ctx, params["HITTypeId"])
        table = notification_settings
        existing = conn.execute(select(table).where(table.c.hit_type_id == hit_type.hit_type_id)).first()
        if spec is None:
            if existing is None:
                raise InvalidParameterValue(
                    f"HIT type {hit_type.hit_type_id} has no notification specification for Active to change."
                )
            conn.execute(
                update(table).where(table.c.hit_type_id == hit_type.hit_type_id).values(active=active, updated_at=now)
            )
            return {}
        values = dict(
            customer_id=ctx.customer_id,
            transport=spec.transport,
            destination=spec.destination,
            version=spec.version,
            event_types=",".join(spec.event_types),
            updated_at=now,
            active=active if active is not None else (existing.active if existing else True),
        )
        if existing is None:
            conn.execute(insert(table).values(hit_type_id=hit_type.hit_type_id, **values))
        else:
            conn.execute(update(table).where(table.c.hit_type_id == hit_type.hit_type_id).values(**values))
    return {}


@operation("SendTestEventNotification")
def send_test_event_notification(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Send one message with one event of TestEventType now, unfiltered by the specification."""
    spec = specification.parse(params["Notification"], allow_ping=True)
    event_type = params["TestEventType"]
    now = ctx.clock.now_ms()
    assignment_id = TEST_ASSIGNMENT_ID if event_type.startswith("Assignment") else None
    record = doc.EventRecord(0, event_type, now, TEST_HIT_TYPE_ID, TEST_HIT_ID, assignment_id)
    doc_id = doc.new_doc_id()
    body = doc.document(doc_id, spec.version, ctx.customer_id, [record])
    outgoing = Outgoing(0, doc_id, spec.transport, spec.destination, body, event_type, TEST_HIT_TYPE_ID)
    started, began = int(time.time() * 1000), time.perf_counter()
    error = ctx.transports[spec.transport].send([outgoing])[0]
    if error is not None:
        raise RequestError(f"The test notification could not be sent to {spec.destination}: {error}")
    latency_ms = int((time.perf_counter() - began) * 1000)
    wall = started + latency_ms  # when the destination acknowledged it
    with ctx.db.write() as conn:
        message_id = conn.execute(
            insert(messages)
            .values(
                doc_id=doc_id,
                customer_id=ctx.customer_id,
                transport=spec.transport,
                destination=spec.destination,
                version=spec.version,
                body=body,
                event_count=1,
                event_types=event_type,
                hit_type_ids=TEST_HIT_TYPE_ID,
                state="delivered",
                attempts=1,
                next_attempt_at=started,
                first_committed_at=started,
                created_at=started,
                delivered_at=wall,
                is_test=True,
            )
            .returning(messages.c.message_id)
        ).scalar_one()
        conn.execute(
            insert(delivery_attempts).values(
                message_id=message_id,
                started_at=started,
                latency_ms=latency_ms,
                outcome="delivered",
                dispatcher="SendTestEventNotification",
            )
        )
    return {}
