"""The virtual clock's stored offset, read for every reading of the time.

``--virtual-clock`` deployments with several processes (servers, dispatchers) must tell one time: an
advance through one server has to be seen by the next request to another. So the offset is not
cached; each read is one tiny query on a connection kept for it alone, never a pool checkout (a
request that reads the time inside its own transaction must not wait for a second pooled connection).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from openturk.store.database import Database

log = logging.getLogger("openturk.clock")
_QUERY = "SELECT offset_ms FROM clock_state WHERE singleton = 1"


class StoredOffset:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._connection: Any = None
        self._last = 0

    def __call__(self) -> int:
        """The stored offset in ms (0 when none is stored); the last one read if the database fails."""
        with self._lock:
            for attempt in (1, 2):  # a connection the server closed is replaced once
                try:
                    if self._connection is None:
                        self._connection = self.db.engine.raw_connection()
                    cursor = self._connection.cursor()
                    try:
                        cursor.execute(_QUERY)
                        row = cursor.fetchone()
                    finally:
                        cursor.close()
                    self._connection.commit()  # no transaction left open between readings
                    self._last = int(row[0]) if row is not None else 0
                    return self._last
                except Exception:
                    self._drop()
                    if attempt == 2:
                        log.warning("cannot read the stored clock offset; using the last one", exc_info=True)
            return self._last

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
            except Exception:
                log.debug("closing a broken clock connection failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
