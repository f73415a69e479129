"""Which dispatcher forms messages: on PostgreSQL, one leader at a time, under a lease it renews.

Every commit that queues events announces it, and every dispatcher hearing that announcement would
wake and pass; only one can form (``outbox.take_forming_turn``), so the others' passes were empty,
and each LISTENing dispatcher cost PostgreSQL a notification per commit. With a lead, one dispatcher
(the leader) forms and hears commits; the others (followers) stop LISTENing to commits, claim and
send what is formed (woken by ``SPARE``, the end of their own sends, and, while sending, their poll;
an idle follower looks again as the lead would lapse), and look at the lead at each pass: once it
lapsed (its holder stopped renewing it: died, hung, or stepped down) the first to look takes it.

The lead is only about wake-ups and efficiency, never about correctness: two dispatchers that both
believe they lead (a lapse seen late) still form one at a time under the forming lock, and a claim
never overlaps another whatever the lead. SQLite has no announcements between processes, so there
every dispatcher leads.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from openturk.store.schema import forming_lead

_SINGLETON = 1
# Held by the transaction taking or renewing the lead: another that would take it at the same moment
# reads it instead of waiting on the row's lock for the rest of that pass.
_TAKING_LOCK_KEY = 0x6F74_6C64  # "otld": openturk lead


@dataclass(frozen=True)
class Lead:
    """Who holds the lead, and the wall time (ms) it lapses at unless renewed."""

    owner: str | None
    until: int

    def held_by(self, owner: str, now: int) -> bool:
        return self.owner == owner and now < self.until


def take(conn: Connection, owner: str, now: int, lead_ms: int) -> Lead:
    """Take the lead for ``owner`` until ``now + lead_ms`` if nobody holds it, it lapsed, or it is
    ``owner``'s already (a renewal); either way, return who holds it now. PostgreSQL only.

    Never waits: while another transaction is taking or renewing it, this returns the lead as
    committed (that one's outcome is seen at the next look)."""
    if not conn.execute(select(func.pg_try_advisory_xact_lock(literal(_TAKING_LOCK_KEY)))).scalar():
        return held(conn)
    proposed = insert(forming_lead).values(singleton=_SINGLETON, owner=owner, until_ms=now + lead_ms)
    taken = conn.execute(
        proposed.on_conflict_do_update(
            index_elements=[forming_lead.c.singleton],
            set_={"owner": proposed.excluded.owner, "until_ms": proposed.excluded.until_ms},
            where=or_(forming_lead.c.owner == owner, forming_lead.c.until_ms <= now),
        ).returning(forming_lead.c.owner, forming_lead.c.until_ms)
    ).first()
    if taken is not None:
        return Lead(taken.owner, taken.until_ms)
    return held(conn)


def held(conn: Connection) -> Lead:
    """Who holds the lead (``owner`` None: nobody ever took it), without taking it: a plain read, no lock."""
    row = conn.execute(select(forming_lead.c.owner, forming_lead.c.until_ms)).first()
    return Lead(None, 0) if row is None else Lead(row.owner, row.until_ms)


def step_down(conn: Connection, owner: str) -> None:
    """Give the lead up at once (a clean stop): the next follower to look takes it, not after the lapse."""
    conn.execute(update(forming_lead).where(forming_lead.c.owner == owner).values(until_ms=0))
