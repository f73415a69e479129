"""Run inside Dallinger 12.4.0's venv, under ``openturk exec --sandbox --local-aws``: drive its real
``MTurkService`` (qualifications, HIT create/extend/expire/delete) and its SNS notification path,
with an HTTP listener that answers SNS as Dallinger's ``/mturk-sns-listener`` route does.

    python dallinger_driver.py ACCESS_KEY WORKER_ID
Writes one JSON object per line to stdout; after ``{"hit": ...}`` it reads one line from stdin (the
test's worker did the HIT), then waits for the notifications. Python 3.11+, no openturk import.
"""

import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dallinger.mturk import MTurkQualificationRequirements, MTurkQuestions, MTurkService

EVENTS_WANTED = {"AssignmentAccepted", "AssignmentSubmitted", "HITReviewable"}
EVENTS_DEADLINE_S = 30.0


def say(**fields):
    print(json.dumps(fields, default=str), flush=True)


def main(access_key, worker_id):
    service = MTurkService(access_key, "secret", "us-east-1", sandbox=True, max_wait_secs=5)
    received = {"confirmations": [], "events": []}
    arrived = threading.Condition()

    class SNSListener(BaseHTTPRequestHandler):
        """What ``dallinger.recruiters.mturk_recruiter_notify`` does with each POST."""

        def do_POST(self):
            content = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if content.get("Type") == "SubscriptionConfirmation":
                service.confirm_subscription(token=content["Token"], topic=content["TopicArn"])
                key, value = "confirmations", content["TopicArn"]
            else:
                key, value = "events", json.loads(content["Message"])["Events"]
            with arrived:
                received[key].append(value)
                arrived.notify_all()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), SNSListener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    notification_url = f"http://127.0.0.1:{listener.server_address[1]}/mturk-sns-listener"

    say(endpoint=service.mturk.meta.endpoint_url, balance=service.account_balance())

    name = f"dallinger-{uuid.uuid4().hex[:8]}"
    qtype = service.create_qualification_type(name, "Took part before")
    found = service.get_qualification_type_by_name(name)
    service.assign_qualification(qtype["id"], worker_id, 5)
    incremented = service.increment_qualification_score(qtype["id"], worker_id)
    named = service.increment_named_qualification_score(name, worker_id)
    say(
        qtype=qtype["id"],
        found=found["id"] if found else None,
        incremented=incremented["score"],
        named=named["score"],
        score=service.current_qualification_score(qtype["id"], worker_id),
        holders=list(service.get_workers_with_qualification(qtype["id"])),
    )

    experiment_id = f"exp-{uuid.uuid4().hex[:8]}"
    hit = service.create_hit(
        experiment_id=experiment_id,
        title="Dallinger experiment",
        description="A test of Dallinger against openturk",
        keywords=["test"],
        reward=0.5,
        duration_hours=1,
        lifetime_days=1,
        question=MTurkQuestions.external("https://example.org/ad"),
        max_assignments=1,
        notification_url=notification_url,
        qualifications=[MTurkQualificationRequirements.must_have(qtype["id"])],
    )
    say(hit=hit["id"], confirmations=received["confirmations"], qualification_type_ids=hit["qualification_type_ids"])
    sys.stdin.readline()  # the worker accepted and submitted

    deadline = time.monotonic() + EVENTS_DEADLINE_S
    with arrived:
        while not {e["EventType"] for batch in received["events"] for e in batch} >= EVENTS_WANTED:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            arrived.wait(left)
    say(events=[(e["EventType"], e["HITId"]) for batch in received["events"] for e in batch])

    extended = service.extend_hit(hit["id"], number=1, duration_hours=1)
    say(extended_max=extended["max_assignments"], extended_expiration=extended["expiration"])
    service.revoke_qualification(qtype["id"], worker_id, "done")
    after_revoke = service.current_named_qualification_score(name, worker_id)["score"]
    service.expire_hit(hit["id"])
    expired = service.get_hit(hit["id"])
    deleted = service.disable_hit(hit["id"], experiment_id)
    service.dispose_qualification_type(qtype["id"])
    say(after_revoke=after_revoke, expired_status=expired["status"], deleted=deleted)
    listener.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:3])
