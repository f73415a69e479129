"""``db copy`` moves the deployment, not the state of the processes that ran on the source."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select

from openturk.store import copy
from openturk.store.database import Database
from openturk.store.schema import forming_lead


def test_the_forming_lead_is_neither_copied_nor_counted(tmp_path: Path) -> None:
    """The lead belongs to a dispatcher running on the source (its lapse time moves while it runs, and
    is zeroed as it stops): carried over it would be a stale row, and a source whose dispatcher
    stopped after the sums were read would no longer match them."""
    source, target = Database(f"sqlite:///{tmp_path / 'a.db'}"), Database(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        source.migrate()
        with source.write() as conn:
            conn.execute(insert(forming_lead).values(singleton=1, owner="host:1:a", until_ms=123))
        target.migrate()
        with target.write() as conn:  # a dispatcher ran on the target once: it is still empty
            conn.execute(insert(forming_lead).values(singleton=1, owner="host:2:b", until_ms=0))
        sums = copy.copy(source, target)
        assert "forming_lead" not in {entry.table for entry in sums}
        with target.read() as conn:
            assert conn.execute(select(forming_lead.c.owner)).scalars().all() == ["host:2:b"]
    finally:
        source.dispose()
        target.dispose()
