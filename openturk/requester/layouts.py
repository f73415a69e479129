"""HIT layouts of a requester: stored by ``openturk layouts create``, used by CreateHIT's HITLayoutId.

MTurk had no API to make layouts (they came from its Requester website), so this is not an
operation handler module: the CLI and, later, the requester dashboard call it.
"""

from __future__ import annotations

from openturk.domain import ids, layouts
from openturk.domain.layouts import HITLayout
from openturk.store.database import Database
from openturk.store.repository import Repository


def create_hit_layout(
    db: Database, customer_id: str, name: str, template: str, frame_height: int, now: int
) -> HITLayout:
    """Store a layout for ``customer_id``; raises ``ValueError`` for an unusable template or requester."""
    if frame_height < 0:
        raise ValueError("The frame height must be 0 (fit the page) or more pixels.")
    layouts.check_template(template, frame_height)
    layout = HITLayout(ids.entity_id(), customer_id, name, template, frame_height)
    with db.write() as conn:
        repo = Repository(conn)
        if not repo.requester_exists(customer_id):
            raise ValueError(f"There is no requester {customer_id}.")
        repo.insert_hit_layout(layout, now)
    return layout


def hit_layouts_of(db: Database, customer_id: str) -> list[HITLayout]:
    with db.read() as conn:
        return Repository(conn).hit_layouts_of(customer_id)
