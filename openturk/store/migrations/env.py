"""Alembic environment: runs on the connection ``Database.migrate`` hands in, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from openturk.store.database import normalise_url
from openturk.store.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(normalise_url(config.get_main_option("sqlalchemy.url") or "sqlite:///openturk.db"))
    with engine.connect() as conn:
        _run(conn)
