"""Finding work: the HITs a worker may discover, grouped by HIT type, searched, sorted and paged.

A HIT is discoverable when it is Assignable and unexpired, the worker never accepted it, its
requester does not block the worker, and the worker meets every qualification requirement guarding
discovery (ActionsGuarded DiscoverPreviewAndAccept). Everything the worker may not discover is
dropped before the groups are counted and paged, so neither a count nor a page shows it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from openturk.clock import Clock
from openturk.domain import money, qualifications
from openturk.domain.model import HIT, HITType
from openturk.store import discovery as store
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.workers.actions import MAX_DISCOVERY_SCAN, _qualifies, _standing

Sort = Literal["newest", "reward", "available", "title"]
SORTS: tuple[Sort, ...] = ("newest", "reward", "available", "title")
PAGE_SIZES = (10, 20, 50, 100)


@dataclass(frozen=True)
class Search:
    words: str = ""
    min_reward_cents: int = 0
    sort: Sort = "newest"
    page_size: int = 20
    page: int = 1


@dataclass(frozen=True)
class HITGroup:
    hit_type_id: str
    title: str
    description: str
    keywords: str
    requester_id: str
    requester_name: str
    reward_cents: int
    assignment_duration_s: int
    hits_available: int
    qualified: bool  # meets every requirement guarding Accept
    newest: int  # creation time of its newest HIT, epoch ms

    @property
    def reward(self) -> str:
        return money.format_amount(self.reward_cents)


@dataclass(frozen=True)
class GroupPage:
    groups: list[HITGroup]
    total: int
    search: Search

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.search.page_size))


def find_groups(db: Database, clock: Clock, worker_id: str, search: Search) -> GroupPage:
    """One page of the HIT groups ``worker_id`` may discover that match ``search``."""
    with db.read() as conn:
        repo = Repository(conn)
        hits, types, standing = _discoverable(repo, clock.now_ms(), worker_id)
        names = store.requester_names(conn, {t.customer_id for t in types.values()})
    by_type: dict[str, list[HIT]] = {}
    for hit in hits:
        by_type.setdefault(hit.hit_type_id, []).append(hit)
    groups = [
        HITGroup(
            hit_type_id=type_id,
            title=types[type_id].title,
            description=types[type_id].description,
            keywords=types[type_id].keywords or "",
            requester_id=types[type_id].customer_id,
            requester_name=names.get(types[type_id].customer_id, types[type_id].customer_id),
            reward_cents=types[type_id].reward_cents,
            assignment_duration_s=types[type_id].assignment_duration_s,
            hits_available=len(group),
            qualified=_qualifies(types[type_id], standing, "Accept"),
            newest=max(hit.creation_time for hit in group),
        )
        for type_id, group in by_type.items()
    ]
    matching = [g for g in groups if g.reward_cents >= search.min_reward_cents and _matches(g, search.words)]
    matching.sort(key=_sort_key(search.sort))
    page = min(max(1, search.page), max(1, math.ceil(len(matching) / search.page_size)))
    start = (page - 1) * search.page_size
    return GroupPage(matching[start : start + search.page_size], len(matching), replace(search, page=page))


def next_hit(db: Database, clock: Clock, worker_id: str, hit_type_id: str, after: str | None = None) -> str | None:
    """The next HIT of the group the worker may discover: the oldest, or the first after ``after``
    (a HIT the worker skipped) in the group's order; None when there is none."""
    with db.read() as conn:
        hits, _, _ = _discoverable(Repository(conn), clock.now_ms(), worker_id, hit_type_id)
    ordered = sorted(hits, key=lambda hit: (hit.creation_time, hit.hit_id))
    if after is not None:
        skipped = next((hit for hit in ordered if hit.hit_id == after), None)
        if skipped is not None:
            ordered = [hit for hit in ordered if (hit.creation_time, hit.hit_id) > (skipped.creation_time, after)]
    return ordered[0].hit_id if ordered else None


def _discoverable(
    repo: Repository, now: int, worker_id: str, hit_type_id: str | None = None
) -> tuple[list[HIT], dict[str, HITType], qualifications.WorkerStanding]:
    hits = repo.open_hits_for_worker(worker_id, now, MAX_DISCOVERY_SCAN)
    if hit_type_id is not None:
        hits = [hit for hit in hits if hit.hit_type_id == hit_type_id]
    types = repo.hit_types_by_id({hit.hit_type_id for hit in hits})
    counts = repo.slot_counts([hit.hit_id for hit in hits])
    standing = _standing(repo, worker_id, types.values())
    visible = {type_id for type_id, t in types.items() if _qualifies(t, standing, "Discover")}
    found = [
        hit for hit in hits if hit.hit_type_id in visible and counts[hit.hit_id].available(hit.max_assignments) > 0
    ]
    return found, {type_id: types[type_id] for type_id in visible}, standing


def _matches(group: HITGroup, words: str) -> bool:
    """Every word of the search appears in the title, description or keywords (any case)."""
    text = f"{group.title}\n{group.description}\n{group.keywords}".casefold()
    return all(word in text for word in words.casefold().split())


def _sort_key(sort: Sort) -> Callable[[HITGroup], tuple[object, ...]]:
    if sort == "reward":
        return lambda g: (-g.reward_cents, -g.newest, g.hit_type_id)
    if sort == "available":
        return lambda g: (-g.hits_available, -g.newest, g.hit_type_id)
    if sort == "title":
        return lambda g: (g.title.casefold(), g.hit_type_id)
    return lambda g: (-g.newest, g.hit_type_id)
