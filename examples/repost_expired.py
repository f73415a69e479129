"""Treat HITExpired as a dead-letter signal: repost the HIT at a higher reward, or sideline it.

The seeds: "the HITExpired event ... can be treated as a dead letter queue, letting you act on tasks
that weren't completed by workers ... you might sideline tasks to be completed by members of your
team, or attempt to repost them at a higher reward amount."

On HITExpired, ``repost``:
- reads the expired HIT (``context.hit``: GetHIT) and works out the assignments nobody did;
- if the raised reward (RAISE times the old one) stays within MAX_REWARD, reposts the same Question
  for those assignments. The reward belongs to the HIT type, so this means a new HIT type (same
  title, description, durations and qualifications) -- and a new HIT type has no notification
  settings: they must be set again, or the repost's own expiry would go unnoticed. The create
  carries ``UniqueRequestToken=repost-<expired HITId>``, so a redelivered event reposts nothing twice;
- otherwise sidelines the task (here: prints it; hand it to your team).
On AssignmentSubmitted, ``done`` approves the work and prints the reward it took.

The demo makes HITs expire at once by moving openturk's virtual clock (``POST /api/clock/advance``).

    python examples/repost_expired.py --endpoint URL --aws-endpoint URL
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from _demo import Demo, expect, html_question, parse_args
from botocore.exceptions import ClientError

from openturk.consumer import Event, MemoryDedup, Router, context

RAISE = Decimal("2")
MAX_REWARD = Decimal("0.50")
LIFETIME_S = 60
EVENTS = ["HITExpired", "AssignmentSubmitted"]


def make_router(mturk: Any, notify: dict[str, Any], outcome: dict[str, str]) -> Router:
    """``notify`` is the Notification to set on each new HIT type; ``outcome`` gets item → what happened."""
    router = Router(dedup=MemoryDedup())

    @router.on("HITExpired")
    def repost(event: Event) -> None:
        hit = context.hit(mturk, event)
        task = json.loads(hit["RequesterAnnotation"])
        # Assignments still pending may yet be submitted after the expiry: repost only the rest.
        missing = hit["MaxAssignments"] - hit["NumberOfAssignmentsCompleted"] - hit["NumberOfAssignmentsPending"]
        if missing <= 0:
            return
        reward = (Decimal(hit["Reward"]) * RAISE).quantize(Decimal("0.01"))
        if reward > MAX_REWARD:
            outcome[task["item"]] = "sidelined"
            print(f"{task['item']}: expired at ${hit['Reward']}; ${reward} is over the limit -> sidelined", flush=True)
            return
        hit_type = {
            "Title": hit["Title"],
            "Description": hit["Description"],
            "Reward": str(reward),
            "AssignmentDurationInSeconds": hit["AssignmentDurationInSeconds"],
            "AutoApprovalDelayInSeconds": hit["AutoApprovalDelayInSeconds"],
            "QualificationRequirements": hit.get("QualificationRequirements") or [],
        }
        if hit.get("Keywords"):
            hit_type["Keywords"] = hit["Keywords"]
        hit_type_id = mturk.create_hit_type(**hit_type)["HITTypeId"]  # the same type again for equal values
        mturk.update_notification_settings(HITTypeId=hit_type_id, Notification=notify, Active=True)
        try:
            new_hit = mturk.create_hit_with_hit_type(
                HITTypeId=hit_type_id,
                MaxAssignments=missing,
                LifetimeInSeconds=LIFETIME_S,
                Question=hit["Question"],
                RequesterAnnotation=json.dumps({**task, "reposts": task.get("reposts", 0) + 1}),
                UniqueRequestToken=f"repost-{event.hit_id}",
            )["HIT"]["HITId"]
        except ClientError as exc:
            if exc.response.get("TurkErrorCode") != "AWS.MechanicalTurk.HitAlreadyExists":
                raise
            return  # reposted already, by an earlier delivery of this event
        print(f"{task['item']}: expired at ${hit['Reward']} -> reposted as {new_hit} at ${reward}", flush=True)

    @router.on("AssignmentSubmitted")
    def done(event: Event) -> None:
        hit = context.hit(mturk, event)
        task = json.loads(hit["RequesterAnnotation"])
        assignment = mturk.get_assignment(AssignmentId=event.assignment_id)["Assignment"]
        if assignment["AssignmentStatus"] == "Submitted":
            mturk.approve_assignment(AssignmentId=event.assignment_id)
        outcome[task["item"]] = f"done at ${hit['Reward']}"
        print(f"{task['item']}: done at ${hit['Reward']} after {task.get('reposts', 0)} repost(s)", flush=True)

    return router


def main(argv: list[str] | None = None) -> int:
    args = parse_args("Repost expired HITs at a higher reward; sideline them past a limit.", argv)
    with Demo("repost-expired", args) as demo:
        mturk = demo.mturk
        queue_url = demo.new_queue()
        notify = {"Destination": queue_url, "Transport": "SQS", "Version": "2014-08-15", "EventTypes": EVENTS}
        hit_type_id = mturk.create_hit_type(
            Title="Summarise a contract clause",
            Description="Two sentences in plain English",
            Reward="0.10",
            AssignmentDurationInSeconds=300,
            AutoApprovalDelayInSeconds=86400,
        )["HITTypeId"]
        mturk.update_notification_settings(HITTypeId=hit_type_id, Notification=notify, Active=True)
        for item in ("clause-1", "clause-2"):
            mturk.create_hit_with_hit_type(
                HITTypeId=hit_type_id,
                MaxAssignments=1,
                LifetimeInSeconds=LIFETIME_S,
                Question=html_question("<textarea name='summary'></textarea>"),
                RequesterAnnotation=json.dumps({"item": item}),
            )

        def open_hits(reward: str) -> dict[str, str]:
            """item → HITId of the assignable HITs at ``reward``."""
            listed = mturk.list_hits(MaxResults=100)["HITs"]
            return {
                json.loads(h["RequesterAnnotation"])["item"]: h["HITId"]
                for h in listed
                if h["HITStatus"] == "Assignable" and h["Reward"] == reward
            }

        def both_open_at(reward: str) -> Callable[[], bool]:
            return lambda: len(open_hits(reward)) == 2

        outcome: dict[str, str] = {}
        with demo.consuming(queue_url, make_router(mturk, notify, outcome)):
            # Nobody takes either HIT: let both expire twice, so each is reposted at $0.20, then $0.40.
            for reward in ("0.20", "0.40"):
                demo.advance_clock(LIFETIME_S + 1)
                demo.wait_for(both_open_at(reward), f"both reposted at ${reward}")
            # $0.40 gets clause-1 done; clause-2 expires once more, and $0.80 is over the limit.
            demo.worker().do(open_hits("0.40")["clause-1"], {"summary": "The tenant pays for repairs."})
            demo.advance_clock(LIFETIME_S + 1)
            demo.wait_for(lambda: len(outcome) == 2, "both tasks settled")

        expect(outcome == {"clause-1": "done at $0.40", "clause-2": "sidelined"}, f"outcome {outcome}")
        print("OK: clause-1 done after two reposts at $0.40; clause-2 sidelined when $0.80 passed the limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
