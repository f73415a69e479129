"""Named queries of review policy output: the results and actions a HIT's policies wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from openturk.store.schema import hits, review_items


@dataclass(frozen=True)
class ReviewItem:
    item_id: int
    policy_level: str  # Assignment | HIT
    kind: str  # Result | Action
    body: dict[str, Any]


class ReviewRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def policies(self, hit_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        row = self.conn.execute(
            select(hits.c.assignment_review_policy, hits.c.hit_review_policy).where(hits.c.hit_id == hit_id)
        ).one()
        return (
            json.loads(row.assignment_review_policy) if row.assignment_review_policy else None,
            json.loads(row.hit_review_policy) if row.hit_review_policy else None,
        )

    def add(self, hit_id: str, policy_level: str, kind: str, body: dict[str, Any]) -> None:
        self.conn.execute(
            insert(review_items).values(hit_id=hit_id, policy_level=policy_level, kind=kind, body=json.dumps(body))
        )

    def page(self, hit_id: str, levels: list[str], kinds: list[str], after: int | None, limit: int) -> list[ReviewItem]:
        query = select(review_items).where(
            review_items.c.hit_id == hit_id,
            review_items.c.policy_level.in_(levels),
            review_items.c.kind.in_(kinds),
        )
        if after is not None:
            query = query.where(review_items.c.item_id > after)
        rows = self.conn.execute(query.order_by(review_items.c.item_id).limit(limit))
        return [ReviewItem(r.item_id, r.policy_level, r.kind, json.loads(r.body)) for r in rows]

    def known_answer_scores(self, hit_id: str) -> dict[str, int]:
        """Each assignment's KnownAnswerScore, as ScoreMyKnownAnswers reported it."""
        rows = self.conn.execute(
            select(review_items.c.body).where(
                review_items.c.hit_id == hit_id,
                review_items.c.policy_level == "Assignment",
                review_items.c.kind == "Result",
            )
        )
        scores: dict[str, int] = {}
        for row in rows:
            body = json.loads(row.body)
            if body.get("Key") == "KnownAnswerScore":
                scores[body["SubjectId"]] = int(body["Value"])
        return scores
