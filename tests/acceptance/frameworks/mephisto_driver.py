"""Run inside Mephisto 1.1.1's venv, under ``openturk exec --sandbox``: drive its real MTurk provider
functions (``mephisto.abstractions.providers.mturk.mturk_utils``) with a client made as Mephisto's
``MTurkDatastore`` makes one (a boto3 session for the requester's AWS profile).

    python mephisto_driver.py PROFILE FIRST_WORKER SECOND_WORKER
Writes one JSON object per line; after ``{"hit": ...}`` it reads one line from stdin (the test's
workers did the HIT). Python 3.8+, no openturk import.
"""

import json
import sys
import uuid

import boto3
from mephisto.abstractions.providers.mturk import mturk_utils
from omegaconf import OmegaConf


def say(**fields):
    print(json.dumps(fields, default=str), flush=True)


def main(profile, first, second):
    client = boto3.Session(profile_name=profile, region_name="us-east-1").client("mturk")
    say(sandbox=mturk_utils.client_is_sandbox(client), balance=mturk_utils.get_requester_balance(client))

    name = f"mephisto-{uuid.uuid4().hex[:8]}"
    qid = mturk_utils.find_or_create_qualification(client, name, "Did the pilot")
    again = mturk_utils.find_or_create_qualification(client, name, "Did the pilot")
    for worker in (first, second):
        mturk_utils.give_worker_qualification(client, worker, qid, 3)
    task = OmegaConf.create(
        {
            "task_title": "Mephisto task",
            "task_description": "A test of Mephisto against openturk",
            "task_tags": ["test", "mephisto"],
            "task_reward": 0.5,
            "assignment_duration_in_seconds": 600,
        }
    )
    requirement = {"QualificationTypeId": qid, "Comparator": "GreaterThanOrEqualTo", "IntegerValue": 3}
    hit_type_id = mturk_utils.create_hit_type(client, task, [requirement])
    link, hit_id, _ = mturk_utils.create_hit_with_hit_type(
        client, 400, "https://example.org/task?a=1&b=2", hit_type_id, num_assignments=2
    )
    say(qid=qid, again=again, hit_type=hit_type_id, hit=hit_id, link=link)
    sys.stdin.readline()  # both workers accepted and submitted

    assignments = mturk_utils.get_assignments_for_hit(client, hit_id)
    by_worker = {a["WorkerId"]: a["AssignmentId"] for a in assignments}
    mturk_utils.approve_work(client, by_worker[first])
    mturk_utils.reject_work(client, by_worker[second], "Answers were blank")
    paid = mturk_utils.pay_bonus(client, first, 0.75, by_worker[first], "Thorough work", str(uuid.uuid4()))
    emailed = mturk_utils.email_worker(client, first, "Thanks", "Thank you for taking part.")
    mturk_utils.block_worker(client, second, "Blank answers")
    blocked = mturk_utils.is_worker_blocked(client, second)
    mturk_utils.unblock_worker(client, second, "Appealed")
    unblocked = not mturk_utils.is_worker_blocked(client, second)
    mturk_utils.remove_worker_qualification(client, second, qid, "Blank answers")
    outstanding = mturk_utils.get_outstanding_hits(client)
    mturk_utils.expire_hit(client, hit_id)
    left = mturk_utils.expire_and_dispose_hits(client, [mturk_utils.get_hit(client, hit_id)["HIT"]], quiet=True)
    say(
        assignments=len(assignments),
        paid=paid,
        emailed=emailed,
        blocked=blocked,
        unblocked=unblocked,
        outstanding={k: [h["HITId"] for h in v] for k, v in outstanding.items()},
        not_disposed=len(left),
    )
    mturk_utils.delete_qualification(client, qid)
    say(done=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
