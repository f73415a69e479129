"""Runs inside oTree 6.0.15's own venv, in a minimal oTree project folder: oTree's MTurk client and its
payments view's assignment loop, called as oTree's views call them (argv: WORKER_ID).

Prints one JSON line per step; waits for a "go" line on stdin while the test's worker does the HIT.
"""

import json
import sys
from datetime import datetime

from otree.mturk_client import TurkClient
from otree.views.mturk import get_all_assignments

HTML = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">'
    "<HTMLContent><![CDATA[<!DOCTYPE html><html><body><form><input name='answer'></form></body></html>]]>"
    "</HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>"
)


def say(**values):
    print(json.dumps(values), flush=True)


worker_id = sys.argv[1]
# MTurkCreateHIT.post's parameters, as oTree builds them for the sandbox (no requirements there).
hit = TurkClient.create_hit(
    {
        "Title": "An oTree study",
        "Description": "Play a game",
        "Keywords": "game, study",
        "MaxAssignments": 2,
        "Reward": str(float("0.50")),
        "AssignmentDurationInSeconds": 60 * 30,
        "LifetimeInSeconds": (60 * 60 * 24),
        "UniqueRequestToken": "otree_sessioncode1",
        "Question": HTML,
    },
    use_sandbox=True,
)["HIT"]
say(hit=hit["HITId"], group=hit["HITGroupId"], expiration=hit["Expiration"])
sys.stdin.readline()

found = get_all_assignments(hit["HITId"], use_sandbox=True)  # reads NextToken after every page
say(assignments=[[a.worker_id, a.assignment_id, a.status] for a in found])
mine = next(a for a in found if a.worker_id == worker_id)
TurkClient.send_bonus(
    {
        "WorkerId": worker_id,
        "AssignmentId": mine.assignment_id,
        "BonusAmount": f"{0.25:.2f}",
        "UniqueRequestToken": f"{worker_id}_{mine.assignment_id}",
        "Reason": "Thank you",
    },
    use_sandbox=True,
)
TurkClient.approve_assignment({"AssignmentId": mine.assignment_id}, use_sandbox=True)
TurkClient.update_expiration({"HITId": hit["HITId"], "ExpireAt": datetime(2015, 1, 1).timestamp()}, use_sandbox=True)
say(done=True)
