"""Paging as MTurk paged: frameworks' own loops, written the way they read ``NextToken``.

Mephisto's ``get_outstanding_hits`` (mturk_utils.py) and oTree's ``get_all_assignments`` read
``NextToken`` unconditionally after every non-empty page and stop at the first empty page; the
loops below follow their logic line for line. Before openturk put a token on every non-empty page
both raised ``KeyError`` on the last page (oTree's payments page broke with a single assignment).
"""

from __future__ import annotations

from typing import Any

from openturk.testing import ServerProcess
from tests.conftest import hit_params, new_worker


def mephisto_style_outstanding_hits(client: Any) -> dict[str, list[dict[str, Any]]]:
    new_hits = client.list_hits(MaxResults=100)
    all_hits = new_hits["HITs"]
    while len(new_hits["HITs"]) > 0:
        new_hits = client.list_hits(MaxResults=100, NextToken=new_hits["NextToken"])
        all_hits += new_hits["HITs"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for hit in all_hits:
        by_type.setdefault(hit["HITTypeId"], []).append(hit)
    return by_type


def otree_style_all_assignments(client: Any, hit_id: str, page_size: int = 100) -> list[dict[str, Any]]:
    assignments: list[dict[str, Any]] = []
    args: dict[str, Any] = {
        "HITId": hit_id,
        "MaxResults": page_size,
        "AssignmentStatuses": ["Submitted", "Approved", "Rejected"],
    }
    while True:
        response = client.list_assignments_for_hit(**args)
        if not response["Assignments"]:
            break
        assignments.extend(response["Assignments"])
        args["NextToken"] = response["NextToken"]
    return assignments


def test_mephisto_loop_lists_every_hit(mturk: Any) -> None:
    created = [mturk.create_hit(**hit_params())["HIT"] for _ in range(3)]
    by_type = mephisto_style_outstanding_hits(mturk)
    assert sorted(h["HITId"] for hits in by_type.values() for h in hits) == sorted(h["HITId"] for h in created)


def test_otree_loop_reads_one_assignment(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=3))["HIT"]
    worker = new_worker(server)
    assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
    worker.submit(assignment_id, {"answer": "cat"}).raise_for_status()
    assert [a["AssignmentId"] for a in otree_style_all_assignments(mturk, hit["HITId"])] == [assignment_id]


def test_otree_loop_over_several_pages(server: ServerProcess, mturk: Any) -> None:
    hit = mturk.create_hit(**hit_params(MaxAssignments=5))["HIT"]
    submitted = []
    for _ in range(5):
        worker = new_worker(server)
        assignment_id = worker.accept(hit["HITId"]).json()["AssignmentId"]
        worker.submit(assignment_id, {"answer": "cat"}).raise_for_status()
        submitted.append(assignment_id)
    listed = otree_style_all_assignments(mturk, hit["HITId"], page_size=2)
    assert [a["AssignmentId"] for a in listed] == submitted


def test_empty_lists_have_no_token_and_paginators_end(mturk: Any) -> None:
    first = mturk.list_hits(MaxResults=5)
    assert first["NumResults"] == 0 and "NextToken" not in first
    for _ in range(4):
        mturk.create_hit(**hit_params())
    pages = list(mturk.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["HITs"]) for p in pages] == [2, 2, 0]
    assert all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
