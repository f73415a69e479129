"""Chain two steps: when a caption HIT is done, post a HIT asking another worker to check the caption.

The seeds: "chain multiple Mechanical Turk steps together by triggering the next step when a HIT is
completed". Each HIT's RequesterAnnotation says which step it is and what it is about:
``{"step": "caption", "image": "img-1"}``, then ``{"step": "check", "image": "img-1", "parent": HITId}``.
One HITReviewable handler looks the step up in STEPS and runs it:
- ``caption``: approve the caption and create the ``check`` HIT that shows it. The create carries
  ``UniqueRequestToken=chain-<parent HITId>``, so a redelivered event cannot post the next step twice:
  the repeat fails with HitAlreadyExists, which means it is done already;
- ``check``: approve, and print the verified caption (the end of this chain).

    python examples/chain_hits.py --endpoint URL --aws-endpoint URL
"""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Callable
from typing import Any

from _demo import Demo, expect, html_question, parse_args
from botocore.exceptions import ClientError

from openturk.consumer import Event, MemoryDedup, Router, context
from openturk.consumer.context import Assignment

CAPTION_TYPE = {
    "Title": "Write a caption",
    "Description": "One sentence describing the picture",
    "Reward": "0.10",
    "AssignmentDurationInSeconds": 300,
    "AutoApprovalDelayInSeconds": 86400,
}
CHECK_TYPE = {**CAPTION_TYPE, "Title": "Check a caption", "Description": "Does the caption fit?", "Reward": "0.03"}


def approve_all(mturk: Any, assignments: list[Assignment]) -> None:
    for assignment in assignments:
        if assignment.status == "Submitted":  # a redelivered event finds them approved already
            mturk.approve_assignment(AssignmentId=assignment.assignment_id)


def make_router(mturk: Any, check_type_id: str, verified: dict[str, str]) -> Router:
    """``verified`` gets image → caption at the end of each chain."""

    def caption_done(event: Event, step: dict[str, str], assignments: list[Assignment]) -> None:
        assert event.hit_id is not None
        caption = str(assignments[0].answers["caption"])
        approve_all(mturk, assignments)
        try:
            check = mturk.create_hit_with_hit_type(
                HITTypeId=check_type_id,
                MaxAssignments=1,
                LifetimeInSeconds=3600,
                Question=html_question(
                    f"<p>Caption: <q>{html.escape(caption)}</q></p>"
                    "<label><input type='radio' name='fits' value='yes'>fits</label>"
                    "<label><input type='radio' name='fits' value='no'>does not fit</label>"
                ),
                RequesterAnnotation=json.dumps({"step": "check", "image": step["image"], "parent": event.hit_id}),
                UniqueRequestToken=f"chain-{event.hit_id}",
            )["HIT"]["HITId"]
        except ClientError as exc:
            if exc.response.get("TurkErrorCode") != "AWS.MechanicalTurk.HitAlreadyExists":
                raise
            return  # this event was handled before, up to the create: the next step exists
        print(f"{step['image']}: caption {caption!r} -> check HIT {check}", flush=True)

    def check_done(event: Event, step: dict[str, str], assignments: list[Assignment]) -> None:
        fits = assignments[0].answers.get("fits") == "yes"
        approve_all(mturk, assignments)
        parent = context.assignments_for(mturk, step["parent"])  # step 1's answer
        caption = str(parent[0].answers["caption"])
        if fits:
            verified[step["image"]] = caption
            print(f"{step['image']}: caption {caption!r} verified", flush=True)
        else:
            print(f"{step['image']}: caption {caption!r} refused (post a new caption HIT here)", flush=True)

    steps: dict[str, Callable[[Event, dict[str, str], list[Assignment]], None]] = {
        "caption": caption_done,
        "check": check_done,
    }
    router = Router(dedup=MemoryDedup())

    @router.on("HITReviewable")
    def next_step(event: Event) -> None:
        step = json.loads(context.requester_annotation(mturk, event) or "{}")
        assignments = context.assignments_for(mturk, event, statuses=["Submitted", "Approved"])
        if step.get("step") not in steps or not assignments:
            return  # not one of ours, or it expired with no work done
        steps[step["step"]](event, step, assignments)

    return router


def main(argv: list[str] | None = None) -> int:
    args = parse_args("Chain a check HIT to each finished caption HIT.", argv)
    with Demo("chain-hits", args) as demo:
        mturk = demo.mturk
        queue_url = demo.new_queue()
        caption_type = mturk.create_hit_type(**CAPTION_TYPE)["HITTypeId"]
        check_type = mturk.create_hit_type(**CHECK_TYPE)["HITTypeId"]
        for hit_type_id in (caption_type, check_type):  # notification settings belong to a HIT type
            demo.notify(hit_type_id, queue_url, ["HITReviewable"])
        captions = {"img-1": "A cat asleep on a red sofa", "img-2": "Two bikes chained to a fence"}
        for image in captions:
            mturk.create_hit_with_hit_type(
                HITTypeId=caption_type,
                MaxAssignments=1,
                LifetimeInSeconds=3600,
                Question=html_question(f"<img src='https://example.com/{image}.jpg'><input name='caption'>"),
                RequesterAnnotation=json.dumps({"step": "caption", "image": image}),
            )

        def open_hits(hit_type_id: str) -> list[str]:
            listed = mturk.list_hits(MaxResults=100)["HITs"]
            return [h["HITId"] for h in listed if h["HITTypeId"] == hit_type_id and h["HITStatus"] == "Assignable"]

        verified: dict[str, str] = {}
        with demo.consuming(queue_url, make_router(mturk, check_type, verified)):
            writer, checker = demo.worker(), demo.worker()
            for hit_id in open_hits(caption_type):
                image = json.loads(mturk.get_hit(HITId=hit_id)["HIT"]["RequesterAnnotation"])["image"]
                writer.do(hit_id, {"caption": captions[image]})
            demo.wait_for(lambda: len(open_hits(check_type)) == 2, "the two check HITs")
            for hit_id in open_hits(check_type):
                checker.do(hit_id, {"fits": "yes"})
            demo.wait_for(lambda: len(verified) == 2, "both chains finished")

        expect(verified == captions, f"verified {verified}")
        print("OK: each caption HIT triggered a check HIT; both captions verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
