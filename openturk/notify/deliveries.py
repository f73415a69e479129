"""Seeing and repairing delivery: messages with their attempts, filtered; Prometheus metrics."""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import Connection, case, func, literal, select

from openturk.store.schema import ROW_ID_MAX, delivery_attempts, events, messages, outbox

STATES = ("pending", "sending", "delivered", "dead")
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
MAX_SINCE_S = 10**11  # epoch seconds, about the year 5100: beyond it a time is a typo (and no column holds it)


def since_ms(seconds: float) -> int:
    """A ``Since`` in epoch seconds as the log's milliseconds; ValueError when it is no time at all."""
    if not math.isfinite(seconds) or abs(seconds) > MAX_SINCE_S:
        raise ValueError(f"Since must be epoch seconds between -{MAX_SINCE_S} and {MAX_SINCE_S}.")
    return int(seconds * 1000)


def list_messages(
    conn: Connection,
    *,
    customer_id: str | None = None,
    hit_type_id: str | None = None,
    state: str | None = None,
    since_ms: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
    with_attempts: bool = True,
) -> list[dict[str, Any]]:
    """Messages newest first (``before_id``: older than that message, the next page), each with its
    attempt log; ``customer_id`` None lists every requester's."""
    query = select(messages)
    if customer_id:
        query = query.where(messages.c.customer_id == customer_id)
    if hit_type_id:
        # One of the comma-separated ids, whole: not a part of one, and % or _ are no wildcards.
        listed = literal(",") + messages.c.hit_type_ids + literal(",")
        query = query.where(listed.contains(f",{hit_type_id},", autoescape=True))
    if state:
        query = query.where(messages.c.state == state)
    if since_ms is not None:
        query = query.where(messages.c.created_at >= since_ms)
    if before_id is not None and before_id <= ROW_ID_MAX:  # beyond it, every message is before it
        query = query.where(messages.c.message_id < before_id)
    rows = conn.execute(query.order_by(messages.c.message_id.desc()).limit(limit)).all()
    result = []
    for row in rows:
        item = {
            "MessageId": row.message_id,
            "EventDocId": row.doc_id,
            "CustomerId": row.customer_id,
            "Transport": row.transport,
            "Destination": row.destination,
            "State": row.state,
            "Attempts": row.attempts,
            "EventCount": row.event_count,
            "EventTypes": row.event_types.split(","),
            "HITTypeIds": row.hit_type_ids.split(","),
            "CreatedAt": row.created_at / 1000,
            "DeliveredAt": row.delivered_at / 1000 if row.delivered_at else None,
            # End to end: from the commit of the first event it carries to the destination's acknowledgement.
            "LatencyMs": row.delivered_at - row.first_committed_at if row.delivered_at else None,
            "NextAttemptAt": row.next_attempt_at / 1000 if row.state == "pending" else None,
            "LastError": row.last_error,
            "Test": bool(row.is_test),
            "Body": json.loads(row.body),
        }
        if with_attempts:
            item["AttemptLog"] = [
                {
                    "StartedAt": a.started_at / 1000,
                    "LatencyMs": a.latency_ms,
                    "Outcome": a.outcome,
                    "Error": a.error,
                    "Dispatcher": a.dispatcher,
                }
                for a in conn.execute(
                    select(delivery_attempts)
                    .where(delivery_attempts.c.message_id == row.message_id)
                    .order_by(delivery_attempts.c.attempt_id)
                )
            ]
        result.append(item)
    return result


def metrics_text(conn: Connection) -> str:
    """Prometheus exposition, computed from the database so every process reports the same truth."""
    lines = [
        "# HELP openturk_events_total Lifecycle events recorded.",
        "# TYPE openturk_events_total counter",
        f"openturk_events_total {conn.execute(select(func.count()).select_from(events)).scalar_one()}",
    ]
    lines += ["# HELP openturk_messages Notification messages by state.", "# TYPE openturk_messages gauge"]
    by_state: dict[str, int] = dict(
        conn.execute(select(messages.c.state, func.count()).group_by(messages.c.state)).all()
    )
    lines += [f'openturk_messages{{state="{state}"}} {by_state.get(state, 0)}' for state in STATES]
    lines += [
        "# HELP openturk_delivery_attempts_total Delivery attempts by outcome.",
        "# TYPE openturk_delivery_attempts_total counter",
    ]
    outcomes: dict[str, int] = dict(
        conn.execute(select(delivery_attempts.c.outcome, func.count()).group_by(delivery_attempts.c.outcome)).all()
    )
    lines += [
        f'openturk_delivery_attempts_total{{outcome="{o}"}} {outcomes.get(o, 0)}'
        for o in ("delivered", "failed", "dead")
    ]
    waiting = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    lines += [
        "# HELP openturk_queue_depth Events waiting to be batched plus messages not yet delivered.",
        "# TYPE openturk_queue_depth gauge",
        f"openturk_queue_depth {waiting + by_state.get('pending', 0) + by_state.get('sending', 0)}",
    ]
    latency = messages.c.delivered_at - messages.c.first_committed_at
    # The whole histogram in one pass over the delivered messages: a scrape costs a few aggregate
    # queries, however many buckets there are.
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(latency), 0),
            *(func.coalesce(func.sum(case((latency <= bucket, 1), else_=0)), 0) for bucket in LATENCY_BUCKETS_MS),
        ).where(messages.c.state == "delivered")
    ).one()
    total, summed, counts = row[0], row[1], row[2:]
    lines += [
        "# HELP openturk_delivery_latency_ms From event commit to destination acknowledgement.",
        "# TYPE openturk_delivery_latency_ms histogram",
    ]
    lines += [
        f'openturk_delivery_latency_ms_bucket{{le="{bucket}"}} {count}'
        for bucket, count in zip(LATENCY_BUCKETS_MS, counts, strict=True)
    ]
    lines += [
        f'openturk_delivery_latency_ms_bucket{{le="+Inf"}} {total}',
        f"openturk_delivery_latency_ms_sum {summed}",
        f"openturk_delivery_latency_ms_count {total}",
    ]
    return "\n".join(lines) + "\n"
