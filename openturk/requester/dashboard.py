"""What the requester dashboard shows, as queries scoped by the requester who asks (no HTTP here).

Every function takes ``customer_id``: a requester's id finds that requester's objects only (another's
answers like a missing one), None is the admin, who sees every requester's. Changes go through the
requester operations themselves (``act_as``), so a page approves, rejects and sends test events by
exactly the path the API takes: same checks, same errors, same events and ledger entries.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from openturk.clock import Clock
from openturk.consumer.answers import UploadedFile, parse_answers
from openturk.domain.model import HIT, Assignment, HITType, SlotCounts
from openturk.notify import outbox
from openturk.notify.transports.base import Transport
from openturk.requester.assignments import VISIBLE
from openturk.requester.context import Context
from openturk.settings import Settings
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.store.schema import hit_types, hits, messages, notification_settings

# The HIT types page lists this many, newest first (a requester with more uses the API to page).
MAX_HIT_TYPES = 500
# Assignments read per query when all of a HIT's are needed (its page, its results).
ASSIGNMENT_BATCH = 500


@dataclass(frozen=True)
class NotificationView:
    transport: str
    destination: str
    version: str
    event_types: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class HITTypeView:
    hit_type: HITType
    hit_count: int
    notification: NotificationView | None


@dataclass(frozen=True)
class HITView:
    hit: HIT
    hit_type: HITType
    counts: SlotCounts

    @property
    def available(self) -> int:
        return self.counts.available(self.hit.max_assignments)


@dataclass(frozen=True)
class AssignmentView:
    assignment: Assignment
    # (QuestionIdentifier, answer as text), in the order of the document.
    answers: tuple[tuple[str, str], ...]
    answers_unreadable: bool = False


def hit_types_of(conn: Connection, customer_id: str | None) -> list[HITTypeView]:
    """HIT types newest first (at most ``MAX_HIT_TYPES``), with their HIT counts and specification."""
    query = select(hit_types.c.hit_type_id).order_by(hit_types.c.created_at.desc(), hit_types.c.hit_type_id)
    if customer_id is not None:
        query = query.where(hit_types.c.customer_id == customer_id)
    return _hit_type_views(conn, [row[0] for row in conn.execute(query.limit(MAX_HIT_TYPES))])


def hit_type_of(conn: Connection, customer_id: str | None, hit_type_id: str) -> HITTypeView | None:
    """One HIT type the requester owns (any, for the admin), else None."""
    views = _hit_type_views(conn, [hit_type_id])
    return views[0] if views and _owns(customer_id, views[0].hit_type.customer_id) else None


def _hit_type_views(conn: Connection, ids: list[str]) -> list[HITTypeView]:
    if not ids:
        return []
    counts: dict[str, int] = {
        hit_type_id: int(number)
        for hit_type_id, number in conn.execute(
            select(hits.c.hit_type_id, func.count()).where(hits.c.hit_type_id.in_(ids)).group_by(hits.c.hit_type_id)
        )
    }
    specs = {
        row.hit_type_id: NotificationView(
            row.transport, row.destination, row.version, tuple(row.event_types.split(",")), bool(row.active)
        )
        for row in conn.execute(select(notification_settings).where(notification_settings.c.hit_type_id.in_(ids)))
    }
    types = Repository(conn).hit_types_by_id(ids)
    return [HITTypeView(types[i], counts.get(i, 0), specs.get(i)) for i in ids if i in types]


def hits_page(conn: Connection, customer_id: str | None, page: int, per_page: int) -> tuple[list[HITView], bool]:
    """One page (1-based) of HITs, newest first, and whether another page follows."""
    query = select(hits.c.hit_id).order_by(hits.c.creation_time.desc(), hits.c.hit_id.desc())
    if customer_id is not None:
        query = query.where(hits.c.customer_id == customer_id)
    ids = [row[0] for row in conn.execute(query.offset((page - 1) * per_page).limit(per_page + 1))]
    return _hit_views(conn, ids[:per_page]), len(ids) > per_page


def hit_of(conn: Connection, customer_id: str | None, hit_id: str) -> HITView | None:
    """One HIT the requester owns (any, for the admin), else None."""
    views = _hit_views(conn, [hit_id])
    return views[0] if views and _owns(customer_id, views[0].hit.customer_id) else None


def hits_of_type(conn: Connection, hit_type_id: str) -> list[HITView]:
    """Every HIT of a HIT type (the caller checked the type is the requester's), oldest first."""
    query = select(hits.c.hit_id).where(hits.c.hit_type_id == hit_type_id)
    ids = [row[0] for row in conn.execute(query.order_by(hits.c.creation_time, hits.c.hit_id))]
    return _hit_views(conn, ids)


def assignments_of(conn: Connection, hit_id: str) -> list[AssignmentView]:
    """The HIT's submitted, approved and rejected assignments (those a requester sees, as
    ListAssignmentsForHIT), in submission order, with their answers parsed."""
    repo = Repository(conn)
    found: list[Assignment] = []
    after: tuple[int, str] | None = None
    while True:  # ends: each pass reads past the last one, and a short page is the last
        batch = repo.assignments_page(hit_id, VISIBLE, after, ASSIGNMENT_BATCH)
        found.extend(batch)
        if len(batch) < ASSIGNMENT_BATCH:
            break
        last = batch[-1]
        after = (last.submit_time or 0, last.assignment_id)
    return [_assignment_view(assignment) for assignment in found]


def assignment_of(conn: Connection, customer_id: str | None, hit_id: str, assignment_id: str) -> Assignment | None:
    """An assignment of ``hit_id`` the requester may decide on (one they see), else None."""
    found = Repository(conn).assignment_with_hit(assignment_id)
    if found is None:
        return None
    assignment, hit = found
    if hit.hit_id != hit_id or not _owns(customer_id, hit.customer_id) or assignment.status not in VISIBLE:
        return None
    return assignment


def answer_text(value: str | list[str] | UploadedFile) -> str:
    """An answer as one line of text: selections joined with ``|`` (as MTurk's batch results did)."""
    if isinstance(value, UploadedFile):
        return f"{value.key} ({value.size_in_bytes} bytes)"
    if isinstance(value, list):
        return "|".join(value)
    return value


def owner_of_message(conn: Connection, customer_id: str | None, message_id: int) -> tuple[str, str] | None:
    """(owner, state) of a notification message the requester may see, else None."""
    row = conn.execute(
        select(messages.c.customer_id, messages.c.state).where(messages.c.message_id == message_id)
    ).first()
    if row is None or not _owns(customer_id, row.customer_id):
        return None
    return str(row.customer_id), str(row.state)


def send_again(conn: Connection, customer_id: str | None, message_id: int, now: int) -> str | None:
    """Send a dead-lettered message again (same EventDocId and body) through ``outbox.redrive``, the
    path of ``openturk deliveries redrive``; the reason it cannot, or None once it is queued."""
    found = owner_of_message(conn, customer_id, message_id)
    if found is None:
        return "missing"
    if found[1] != "dead":
        return f"Message {message_id} is {found[1]}: only a dead letter can be sent again."
    outbox.redrive(conn, now, [message_id])
    return None


def act_as(
    db: Database, clock: Clock, settings: Settings, transports: Mapping[str, Transport], customer_id: str
) -> Context:
    """The operation context of ``customer_id``, for a page acting on that requester's objects (the
    admin acts as the owner of the object)."""
    return Context(
        db=db,
        clock=clock,
        settings=settings,
        customer_id=customer_id,
        request_id=str(uuid.uuid4()),
        transports=transports,
    )


def _owns(customer_id: str | None, owner: str) -> bool:
    return customer_id is None or customer_id == owner


def _hit_views(conn: Connection, hit_ids: list[str]) -> list[HITView]:
    repo = Repository(conn)
    found = [hit for hit in (repo.hit(hit_id) for hit_id in hit_ids) if hit is not None]
    types = repo.hit_types_by_id(hit.hit_type_id for hit in found)
    counts = repo.slot_counts([hit.hit_id for hit in found])
    return [HITView(hit, types[hit.hit_type_id], counts[hit.hit_id]) for hit in found]


def _assignment_view(assignment: Assignment) -> AssignmentView:
    try:
        parsed = parse_answers(assignment.answer or "")
    except ET.ParseError:
        # Not a QuestionFormAnswers document: shown as it is rather than hidden.
        return AssignmentView(assignment, (("Answer", assignment.answer or ""),), answers_unreadable=True)
    return AssignmentView(assignment, tuple((name, answer_text(value)) for name, value in parsed.items()))
