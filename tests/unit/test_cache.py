"""The bounded cache behind everything a process remembers about callers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openturk.cache import LRU


@given(keys=st.lists(st.integers(0, 50), max_size=200), size=st.integers(1, 10))
def test_an_lru_never_holds_more_than_its_size_and_keeps_the_most_recent(keys: list[int], size: int) -> None:
    cache: LRU[int, str] = LRU(size)
    for key in keys:
        if cache.get(key) is None:
            cache.put(key, str(key))
    assert len(cache) <= size
    recent = list(dict.fromkeys(reversed(keys)))[:size]
    assert all(cache.get(key) == str(key) for key in recent)


def test_reading_an_entry_saves_it_from_eviction() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert "a" in cache and "c" in cache and "b" not in cache
