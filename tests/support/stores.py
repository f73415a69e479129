"""Which store the suite runs on: ``OPENTURK_TEST_DB=sqlite`` (the default) or ``postgresql``.

Under ``postgresql`` the session starts one throwaway cluster (``TemporaryPostgres``) and names it
in ``OPENTURK_TEST_POSTGRES``, so every ``ServerProcess`` made without a database URL — in this
process or in a subprocess it starts — gets a brand-new database of its own on it; unit tests that
open a ``Database`` take one from ``scratch_database_url``. Tests that exercise something only
SQLite has are marked ``sqlite_only(reason)`` and skipped there.
"""

from __future__ import annotations

import os
from pathlib import Path

from openturk.testing import POSTGRES_ENV, copy_migrated_sqlite, create_scratch_database, drop_scratch_database
from tests.support.postgres import TemporaryPostgres

STORES = ("sqlite", "postgresql")


def store() -> str:
    """The store this run tests; a misspelt value fails the run rather than quietly testing SQLite."""
    value = os.environ.get("OPENTURK_TEST_DB", "sqlite")
    if value not in STORES:
        raise RuntimeError(f"OPENTURK_TEST_DB={value!r}: expected one of {', '.join(STORES)}")
    return value


def on_postgres() -> bool:
    return store() == "postgresql"


def start_session_cluster() -> TemporaryPostgres | None:
    """Start the session's cluster under ``postgresql`` and name it for every ServerProcess; else None."""
    if not on_postgres():
        return None
    cluster = TemporaryPostgres().start()
    os.environ[POSTGRES_ENV] = cluster.url
    return cluster


def stop_session_cluster(cluster: TemporaryPostgres | None) -> None:
    if cluster is not None:
        os.environ.pop(POSTGRES_ENV, None)
        cluster.stop()


def scratch_database_url(folder: Path, name: str = "store.db", *, migrated: bool = False) -> str:
    """A new database on this run's store: a SQLite file in ``folder``, or a database of its own on the
    session's cluster (drop it with ``release_scratch_database``). Empty, or with ``migrated`` already
    at the newest revision (a copy of a template migrated once per process)."""
    if on_postgres():
        return create_scratch_database(os.environ[POSTGRES_ENV], migrated=migrated)
    if migrated:
        copy_migrated_sqlite(folder / name)
    return f"sqlite:///{folder / name}"


def release_scratch_database(url: str) -> None:
    if not url.startswith("sqlite"):
        drop_scratch_database(url)
