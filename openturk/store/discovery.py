"""Queries of finding work that the repository does not have: requesters' display names."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select

from openturk.store.schema import requesters


def requester_names(conn: Connection, customer_ids: Collection[str]) -> dict[str, str]:
    """CustomerId → the name the requester was created with, for those that exist."""
    if not customer_ids:
        return {}
    query = select(requesters.c.customer_id, requesters.c.name).where(requesters.c.customer_id.in_(customer_ids))
    return {row.customer_id: row.name for row in conn.execute(query)}
