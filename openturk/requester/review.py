"""ListReviewPolicyResultsForHIT: what a HIT's review policies found and did."""

from __future__ import annotations

from typing import Any

from openturk.requester import hits as hits_ops
from openturk.requester import paging
from openturk.requester.context import Context
from openturk.requester.registry import operation
from openturk.store.repository import Repository
from openturk.store.review import ReviewRepository

LEVELS = ("Assignment", "HIT")


@operation("ListReviewPolicyResultsForHIT")
def list_review_policy_results_for_hit(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Results and actions in the order the policies wrote them, paged over both levels together.

    DECISION: PolicyLevels defaults to both levels, RetrieveActions and RetrieveResults to true.
    """
    levels = list(params.get("PolicyLevels") or LEVELS)
    kinds = [
        kind for kind, flag in (("Action", "RetrieveActions"), ("Result", "RetrieveResults")) if params.get(flag, True)
    ]
    with ctx.db.read() as conn:
        repo = Repository(conn)
        hit = hits_ops.owned_hit(repo, ctx, params["HITId"])
        reviews = ReviewRepository(conn)
        assignment_policy, hit_policy = reviews.policies(hit.hit_id)
        page, token = paging.paginate(
            params,
            "ListReviewPolicyResultsForHIT",
            lambda after, limit: reviews.page(hit.hit_id, levels, kinds, after, limit) if kinds else [],
            lambda item: item.item_id,
            paging.ROW_ID,
        )
    answer: dict[str, Any] = {"HITId": hit.hit_id, "NextToken": token}
    # "This contains only the PolicyName element" (the model's documentation of both members): the
    # parameters, AnswerKey included, are the requester's to keep, not to be read back here.
    if assignment_policy is not None:
        answer["AssignmentReviewPolicy"] = {"PolicyName": assignment_policy.get("PolicyName")}
    if hit_policy is not None:
        answer["HITReviewPolicy"] = {"PolicyName": hit_policy.get("PolicyName")}
    for level, report in (("Assignment", "AssignmentReviewReport"), ("HIT", "HITReviewReport")):
        if level in levels:
            answer[report] = {
                "ReviewResults": [i.body for i in page if i.policy_level == level and i.kind == "Result"],
                "ReviewActions": [i.body for i in page if i.policy_level == level and i.kind == "Action"],
            }
    return answer
