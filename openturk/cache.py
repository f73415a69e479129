"""A bounded least-recently-used map: what a process may remember about callers it cannot trust.

Open mode names a requester after any access key a caller invents, so anything remembered per key
(or per object a caller can create) must have a size limit, or memory grows with every new name.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` entries; storing one more forgets the least recently used.

    Shared by threads as a cache only: a race between two threads can at worst forget an entry
    (``get`` then answers None and the caller looks the value up again), never return a wrong one.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an LRU needs room for at least one entry")
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        try:
            self._entries.move_to_end(key)
            return self._entries[key]
        except KeyError:
            return None

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            try:
                self._entries.popitem(last=False)
            except KeyError:  # another thread emptied it first
                break

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
