"""The Prometheus text: right counts, from a few aggregate queries however many buckets there are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, insert

from openturk.notify import deliveries
from openturk.store.database import Database
from openturk.store.schema import messages


@pytest.fixture
def db(migrated_store_url: str) -> Iterator[Database]:
    database = Database(migrated_store_url)
    yield database
    database.dispose()


def _message(n: int, state: str, latency_ms: int | None) -> dict[str, Any]:
    return {
        "doc_id": f"doc-{n}",
        "customer_id": "A1",
        "transport": "SQS",
        "destination": "http://127.0.0.1/1/q",
        "version": "2014-08-15",
        "body": "{}",
        "event_count": 1,
        "event_types": "AssignmentSubmitted",
        "hit_type_ids": "[]",
        "state": state,
        "attempts": 1,
        "next_attempt_at": 0,
        "first_committed_at": 1_000,
        "created_at": 1_000,
        "delivered_at": None if latency_ms is None else 1_000 + latency_ms,
        "is_test": False,
    }


def test_metrics_histogram_counts_and_query_count(db: Database) -> None:
    rows = [_message(0, "delivered", 3), _message(1, "delivered", 40), _message(2, "delivered", 70_000)]
    rows.append(_message(3, "pending", None))
    with db.write() as conn:
        conn.execute(insert(messages), rows)
    selects: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.read() as conn:
            text = deliveries.metrics_text(conn)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # Once one query per latency bucket (18 in all): a scrape scanned the messages table that often.
    assert len(selects) <= 5, selects
    lines = set(text.splitlines())
    assert 'openturk_delivery_latency_ms_bucket{le="5"} 1' in lines
    assert 'openturk_delivery_latency_ms_bucket{le="50"} 2' in lines
    assert 'openturk_delivery_latency_ms_bucket{le="60000"} 2' in lines
    assert 'openturk_delivery_latency_ms_bucket{le="+Inf"} 3' in lines
    assert "openturk_delivery_latency_ms_sum 70043" in lines
    assert "openturk_delivery_latency_ms_count 3" in lines
    assert 'openturk_messages{state="pending"} 1' in lines
    assert "openturk_queue_depth 1" in lines


def test_listing_pages_newest_first_scoped_by_requester_with_end_to_end_latency(db: Database) -> None:
    rows = [_message(n, "delivered", 25 + n) for n in range(5)]
    rows.append({**_message(5, "pending", None), "customer_id": "A2"})
    with db.write() as conn:
        conn.execute(insert(messages), rows)
    with db.read() as conn:
        first = deliveries.list_messages(conn, customer_id="A1", limit=2, with_attempts=False)
        older = deliveries.list_messages(
            conn, customer_id="A1", before_id=first[-1]["MessageId"], limit=10, with_attempts=False
        )
        everyone = deliveries.list_messages(conn, limit=10, with_attempts=False)
    assert [m["EventDocId"] for m in first] == ["doc-4", "doc-3"]
    assert [m["EventDocId"] for m in older] == ["doc-2", "doc-1", "doc-0"]
    assert [m["LatencyMs"] for m in first + older] == [29, 28, 27, 26, 25]
    assert everyone[0]["EventDocId"] == "doc-5" and everyone[0]["LatencyMs"] is None


def test_the_hit_type_filter_matches_a_whole_id_of_the_list_and_no_wildcard(db: Database) -> None:
    rows = [
        {**_message(0, "delivered", 5), "hit_type_ids": "3ABC,3XYZ"},
        {**_message(1, "delivered", 5), "hit_type_ids": "3AB"},
        {**_message(2, "delivered", 5), "hit_type_ids": "13ABC1"},
        {**_message(3, "delivered", 5), "hit_type_ids": "3A_C"},
    ]
    with db.write() as conn:
        conn.execute(insert(messages), rows)

    def found(hit_type_id: str) -> list[str]:
        with db.read() as conn:
            listed = deliveries.list_messages(conn, hit_type_id=hit_type_id, limit=10, with_attempts=False)
        return sorted(m["EventDocId"] for m in listed)

    assert found("3ABC") == ["doc-0"]
    assert found("3XYZ") == ["doc-0"]
    assert found("3AB") == ["doc-1"]
    assert found("3A_C") == ["doc-3"]  # _ is the character, not any one character
    assert found("%") == [] and found("3") == []


@pytest.mark.parametrize("seconds", [float("inf"), float("nan"), 1e17, -1e300])
def test_since_must_be_a_time(seconds: float) -> None:
    with pytest.raises(ValueError, match="epoch seconds"):
        deliveries.since_ms(seconds)
    assert deliveries.since_ms(1_700_000_000.5) == 1_700_000_000_500


def test_paging_from_a_message_id_past_any_row_is_an_empty_page_on_every_store(db: Database) -> None:
    """The API takes Before up to 18 digits; PostgreSQL's integer column must not see it unclamped."""
    with db.write() as conn:
        conn.execute(insert(messages), [_message(0, "delivered", 5)])
    with db.read() as conn:
        assert len(deliveries.list_messages(conn, before_id=10**17, limit=10)) == 1
        assert deliveries.list_messages(conn, before_id=1, limit=10) == []
