"""The outbox in SQL on a real SQLite file: FIFO messages hold one HIT, claims skip busy destinations, renewals."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, insert, select, update

from openturk.domain.model import Event, HITType
from openturk.notify import outbox
from openturk.notify.retry import RetryPolicy
from openturk.requester import account
from openturk.store.database import OUTBOX, Database
from openturk.store.repository import Repository
from openturk.store.schema import events, messages, notification_settings
from openturk.store.schema import outbox as outbox_rows

QUEUE = "http://127.0.0.1:4566/000000000000/events"
FIFO_QUEUE = "http://127.0.0.1:4566/000000000000/events.fifo"
NOW = 1_800_000_000_000


@pytest.fixture
def db(migrated_store_url: str) -> Iterator[Database]:
    database = Database(migrated_store_url)
    yield database
    database.dispose()


def queue_events(db: Database, destination: str, hit_ids: list[str], customer_id: str = "C1") -> None:
    """One HITCreated-like event per HIT id, in this commit order, waiting in the outbox for ``destination``."""
    with db.write() as conn:
        for hit_id in hit_ids:
            event_id = conn.execute(
                insert(events)
                .values(
                    customer_id=customer_id, event_type="HITReviewable", event_time=NOW, hit_type_id="T1", hit_id=hit_id
                )
                .returning(events.c.event_id)
            ).scalar_one()
            conn.execute(
                insert(outbox_rows).values(
                    event_id=event_id,
                    customer_id=customer_id,
                    transport="SQS",
                    destination=destination,
                    version="2014-08-15",
                    committed_at=NOW,
                )
            )


def formed_hits(db: Database) -> list[list[str]]:
    """The HIT ids of each formed message's events, in message order."""
    with db.write() as conn:
        outbox.form_messages(conn, NOW)
    with db.read() as conn:
        bodies = conn.execute(select(messages.c.body).order_by(messages.c.message_id)).scalars()
        return [[e["HITId"] for e in json.loads(body)["Events"]] for body in bodies]


def test_a_fifo_destination_gets_one_hit_per_message_in_commit_order(db: Database) -> None:
    queue_events(db, FIFO_QUEUE, ["H1", "H2", "H1", "H3", "H2"])
    assert formed_hits(db) == [["H1", "H1"], ["H2", "H2"], ["H3"]]


def test_a_standard_queue_batches_across_hits(db: Database) -> None:
    queue_events(db, QUEUE, ["H1", "H2", "H1"])
    assert formed_hits(db) == [["H1", "H2", "H1"]]


def test_busy_destinations_are_neither_formed_nor_claimed_nor_waited_for(db: Database) -> None:
    """A destination sending its full share keeps its events unbatched and its messages unclaimed."""
    other = QUEUE + "-other"
    queue_events(db, QUEUE, ["H1"])
    queue_events(db, other, ["H2"])
    with db.write() as conn:
        assert outbox.form_messages(conn, NOW, busy=[QUEUE]) == 1
        assert outbox.pending_work(conn, NOW, busy=[QUEUE]) == (0, NOW)
        assert outbox.pending_work(conn, NOW) == (1, NOW)
        outbox.form_messages(conn, NOW)
        claimed = outbox.claim(conn, "me", NOW, 1000, 10, busy=[QUEUE])
        assert [m.destination for m in claimed] == [other]
        assert outbox.pending_work(conn, NOW, busy=[QUEUE]) == (0, NOW + 1000)  # only the lease's end
        assert outbox.pending_work(conn, NOW) == (0, NOW)


def test_a_claim_within_room_leases_what_its_claimant_can_start_and_leaves_the_rest_to_any_other(
    db: Database,
) -> None:
    """One requester's many destinations: a claimant with room for two sends leases two destinations'
    messages (every message of each: they go in one send) and leaves the third due, unleased, for
    another dispatcher; a requester with no room is neither claimed nor waited for."""
    first, second, third = (f"{QUEUE}-{n}" for n in range(3))
    for destination in (first, second, third):
        queue_events(db, destination, ["H1"], customer_id="C1")
        with db.write() as conn:
            outbox.form_messages(conn, NOW)
    queue_events(db, first, ["H2"], customer_id="C1")  # a second message to a destination already taken
    queue_events(db, QUEUE, ["H3"], customer_id="C2")
    with db.write() as conn:
        outbox.form_messages(conn, NOW)
        claim = outbox.claim_within(conn, "me", NOW, 1000, 10, room=lambda requester: 2 if requester == "C1" else 1)
        assert sorted(m.destination for m in claim.leased) == sorted([first, first, second, QUEUE])
        assert claim.left_for == {"C1"} and not claim.more
        assert outbox.pending_work(conn, NOW, full=["C1"]) == (0, NOW + 1000)  # only the leases' end
        assert outbox.pending_work(conn, NOW) == (0, NOW)  # the third is due
        assert outbox.claim_within(conn, "other", NOW, 1000, 10, full=["C1"]).leased == []
        [taken] = outbox.claim_within(conn, "other", NOW, 1000, 10).leased
        assert taken.destination == third


def test_a_lapsed_lease_to_a_busy_destination_does_not_wake_the_dispatcher(db: Database) -> None:
    """Another dispatcher died holding a message to a destination this one already sends its share
    to: that message cannot be taken over now, so it must not make the loop wake at once (a spin of
    write transactions); it is waited for once the destination frees a slot."""
    queue_events(db, QUEUE, ["H1"])
    with db.write() as conn:
        outbox.form_messages(conn, NOW)
        assert len(outbox.claim(conn, "dead", NOW, 1000, 10)) == 1
        lapsed = NOW + 5000
        assert outbox.pending_work(conn, lapsed, busy=[QUEUE]) == (0, None)
        assert outbox.pending_work(conn, lapsed) == (0, NOW + 1000)


def test_a_fifo_message_behind_a_retry_does_not_wake_the_dispatcher(db: Database) -> None:
    """The older message to a FIFO queue failed and waits for its retry; the younger one cannot go
    before it, so the next due time is the retry's, not the younger one's (which woke the loop at once,
    over and over, until the retry)."""
    for hit_id in ("H1", "H2"):
        queue_events(db, FIFO_QUEUE, [hit_id])
        with db.write() as conn:
            outbox.form_messages(conn, NOW)
    with db.write() as conn:
        [older] = outbox.claim(conn, "a", NOW, 1000, 10)
        outbox.finish(conn, "a", [outbox.Result(older.message_id, "throttled", NOW, 5)], RetryPolicy(), NOW)
        retry_at = conn.execute(select(messages.c.next_attempt_at).where(messages.c.message_id == older.message_id))
        assert outbox.pending_work(conn, NOW) == (0, retry_at.scalar_one())
        assert outbox.claim(conn, "a", NOW, 1000, 10) == []


def test_a_renewed_lease_is_not_taken_over_and_only_its_owner_renews(db: Database) -> None:
    queue_events(db, QUEUE, ["H1"])
    with db.write() as conn:
        outbox.form_messages(conn, NOW)
        [mine] = outbox.claim(conn, "me", NOW, 1000, 10)
        assert outbox.renew(conn, "someone-else", [mine.message_id], NOW + 9000) == 0
        assert outbox.renew(conn, "me", [mine.message_id], NOW + 3000) == 1
    with db.write() as conn:
        assert outbox.claim(conn, "other", NOW + 2000, 1000, 10) == []  # past the first lease, within the renewal
        [taken] = outbox.claim(conn, "other", NOW + 3001, 1000, 10)  # renewals stopped: the lease lapsed
    assert taken.message_id == mine.message_id


def test_a_fifo_destinations_messages_go_out_one_at_a_time_across_dispatchers(db: Database) -> None:
    """Per-HIT order on a FIFO queue holds with several dispatchers: a message is claimed only when
    no older one to that destination is in flight anywhere or waiting for its retry."""
    for _ in range(3):
        queue_events(db, FIFO_QUEUE, ["H1"])
        with db.write() as conn:
            outbox.form_messages(conn, NOW)
    with db.write() as conn:
        [first] = outbox.claim(conn, "a", NOW, 1000, 10)
        assert outbox.claim(conn, "b", NOW, 1000, 10) == []  # the second waits for the first, at any dispatcher
        outbox.finish(conn, "a", [outbox.Result(first.message_id, "throttled", NOW, 5)], RetryPolicy(), NOW)
        assert outbox.claim(conn, "b", NOW, 1000, 10) == []  # nor does it overtake the first's retry
    later = NOW + 3_600_000
    with db.write() as conn:
        [retried] = outbox.claim(conn, "b", later, 1000, 10)
        assert retried.message_id == first.message_id
        outbox.finish(conn, "b", [outbox.Result(retried.message_id, None, later, 5)], RetryPolicy(), later)
        [second] = outbox.claim(conn, "a", later, 1000, 10)
        assert second.message_id > first.message_id
    # A standard queue is not held in line.
    queue_events(db, QUEUE, ["H1"])
    with db.write() as conn:
        outbox.form_messages(conn, later)
        assert [m.destination for m in outbox.claim(conn, "c", later, 1000, 10)] == [QUEUE]


def test_a_redrive_wakes_this_processs_dispatcher_once_it_commits(db: Database) -> None:
    """A dead letter sent again from the dashboard goes out at once, not on the dispatcher's next poll."""
    queue_events(db, QUEUE, ["H1"])
    with db.write() as conn:
        outbox.form_messages(conn, NOW)
        conn.execute(update(messages).values(state="dead"))
    woken: list[bool] = []
    db.on_commit(OUTBOX, lambda: woken.append(True))
    with db.write() as conn:
        assert outbox.redrive(conn, NOW) == 1
        assert woken == []  # not before the commit
    assert woken == [True]
    with db.write() as conn:
        assert outbox.redrive(conn, NOW) == 0  # nothing dead: nothing to wake for
    assert woken == [True]


def test_an_event_is_queued_only_if_its_hit_types_active_specification_lists_its_type(db: Database) -> None:
    customer_id = account.create_requester(db, "r", NOW, 0)
    with db.write() as conn:
        repo = Repository(conn)
        for hit_type_id in ("T1", "T2"):
            repo.insert_hit_type(HITType(hit_type_id, customer_id, "t", "d", None, 1, 60, 60), hit_type_id, NOW)
        conn.execute(
            insert(notification_settings).values(
                hit_type_id="T1",
                customer_id=customer_id,
                transport="SQS",
                destination=QUEUE,
                version="2014-08-15",
                event_types="AssignmentSubmitted,HITExpired",
                active=True,
                updated_at=NOW,
            )
        )
    woken: list[str] = []
    db.on_commit(OUTBOX, lambda: woken.append("outbox"))

    def queued(event_type: str, hit_type_id: str = "T1") -> list[tuple[str, str]]:
        with db.write() as conn:
            outbox.record_events(conn, [Event(event_type, NOW, customer_id, hit_type_id, "H1")], NOW)
        with db.read() as conn:
            rows = conn.execute(
                select(events.c.event_type, outbox_rows.c.destination)
                .join(outbox_rows, outbox_rows.c.event_id == events.c.event_id)
                .order_by(events.c.event_id)
            )
            return [(row[0], row[1]) for row in rows]

    assert queued("HITExpired") == [("HITExpired", QUEUE)]
    assert woken == ["outbox"]
    # Not listed (nor a part of a listed name), or another HIT type: recorded, not queued, nobody woken.
    for event_type, hit_type_id in (("HITCreated", "T1"), ("Submitted", "T1"), ("HITExpired", "T2")):
        assert queued(event_type, hit_type_id) == [("HITExpired", QUEUE)]
    assert woken == ["outbox"]
    with db.write() as conn:
        conn.execute(update(notification_settings).values(active=False))
    assert queued("AssignmentSubmitted") == [("HITExpired", QUEUE)]
    with db.write() as conn:
        conn.execute(update(notification_settings).values(active=True))
    assert queued("AssignmentSubmitted") == [("HITExpired", QUEUE), ("AssignmentSubmitted", QUEUE)]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 6  # every one recorded
