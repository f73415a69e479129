"""What a ``Database``'s listening thread passes on: the channels it tells its listeners, in order."""

from __future__ import annotations

from collections.abc import Iterable

from openturk.store.database import Database


def record_told(db: Database) -> list[str]:
    """Make ``db`` record every channel its listening thread tells (call before ``db.listen()``); the
    listeners are still told. Returns the record, which grows as channels are told."""
    told: list[str] = []
    tell = db._tell

    def recording(channels: Iterable[str]) -> None:
        channels = list(channels)
        told.extend(channels)
        tell(channels)

    db._tell = recording  # type: ignore[method-assign]
    return told
