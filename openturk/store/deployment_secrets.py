"""Secrets made once per deployment and kept in its database, so every process signs alike.

A task token issued by the server that rendered the work page is checked by whichever server the
task frame's request reaches, and a GetFileUploadURL URL by whichever serves the download: behind a
proxy with several servers a key drawn per process would fail half of them, and a restart would end
every page in progress.
"""

from __future__ import annotations

import secrets

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from openturk.store.database import Database
from openturk.store.schema import deployment_secrets

URL_SIGNING = "url_signing"


def shared_secret(db: Database, name: str = URL_SIGNING) -> str:
    """The deployment's secret ``name``, made now if no process made it yet (hex, 256 bits)."""
    query = select(deployment_secrets.c.value).where(deployment_secrets.c.name == name)
    with db.read() as conn:
        found = conn.execute(query).scalar_one_or_none()
    if found is not None:
        return str(found)
    try:
        with db.write() as conn:
            conn.execute(insert(deployment_secrets).values(name=name, value=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another process made it first: theirs is the deployment's
    with db.read() as conn:
        return str(conn.execute(query).scalar_one())
