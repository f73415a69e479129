"""The claims' heartbeat renews a claim while its block runs, and stops when it ends or is lost."""

from __future__ import annotations

import threading

from openturk.consumer.claims import ClaimKeeper
from tests.support.queues import wait_for


class RecordingStore:
    """Counts renewals; answers them with ``keep`` (False: the claim was lost)."""

    claim_ttl_s = 0.15

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.renewals: list[tuple[tuple[str, int], str]] = []
        self._lock = threading.Lock()

    def renew(self, key: tuple[str, int], owner: str) -> bool:
        with self._lock:
            self.renewals.append((key, owner))
        return self.keep

    def count(self) -> int:
        with self._lock:
            return len(self.renewals)


def test_a_held_claim_is_renewed_until_its_block_ends() -> None:
    keeper, store = ClaimKeeper(), RecordingStore()
    with keeper.held(store, ("d", 0), "me"):  # type: ignore[arg-type]
        wait_for(lambda: store.count() >= 3, timeout=10, what="three renewals")
    ended = store.count()
    quiet = threading.Event()
    assert not quiet.wait(0.3)  # two TTLs after the block: no renewal came
    assert store.count() <= ended + 1  # at most one already under way as the block ended
    assert set(store.renewals) == {(("d", 0), "me")}


def test_a_lost_claim_is_no_longer_renewed() -> None:
    keeper, store = ClaimKeeper(), RecordingStore(keep=False)
    with keeper.held(store, ("d", 1), "me"):  # type: ignore[arg-type]
        wait_for(lambda: store.count() >= 1, timeout=10, what="a renewal")
        assert not threading.Event().wait(0.3)
        assert store.count() == 1
