"""Notification settings, every event type to SQS / SNS→SQS / Email, batching, test events."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from openturk.api.spec import service_model
from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess
from tests.conftest import HTML_QUESTION, error_code, hit_params, new_worker
from tests.support.queues import drain, events_in, sns_client, sqs_client
from tests.support.smtp import SMTPServer

# Every event type of the service model except Ping, which only SendTestEventNotification sends.
ALL_EVENTS = [e for e in service_model().shape_for("EventType").enum if e != "Ping"]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TYPE_PARAMS = {
    "Title": "Notify me",
    "Description": "d",
    "Reward": "0.10",
    "AssignmentDurationInSeconds": 60,
    "AutoApprovalDelayInSeconds": 3600,
}


def customer_of(server: ServerProcess, mturk: Any) -> str:
    key = mturk._request_signer._credentials.access_key
    [[customer_id]] = server.sql("SELECT customer_id FROM access_keys WHERE access_key_id = :key", key=key)
    return str(customer_id)


def new_queue(local_aws: LocalAWS) -> str:
    return str(sqs_client(local_aws.url).create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"])


def spec(
    destination: str, transport: str = "SQS", events: list[str] | None = None, version: str = "2014-08-15"
) -> dict[str, Any]:
    return {"Destination": destination, "Transport": transport, "Version": version, "EventTypes": events or ALL_EVENTS}


def drive_every_event(server: ServerProcess, mturk: Any, type_id: str) -> dict[str, str]:
    """Make each of the eleven lifecycle events happen at least once; return ids by role."""
    make = lambda **kw: mturk.create_hit_with_hit_type(
        HITTypeId=type_id,
        LifetimeInSeconds=kw.get("life", 3600),
        MaxAssignments=kw.get("slots", 1),
        Question=HTML_QUESTION,
    )["HIT"]["HITId"]
    main = make(slots=3)
    approved = new_worker(server).do(main)  # Accepted, Submitted
    rejected = new_worker(server).do(main)
    returner = new_worker(server)
    returned = returner.accept(main).json()["AssignmentId"]
    returner.return_(returned).raise_for_status()  # Returned
    abandoner = new_worker(server)
    abandoned = abandoner.accept(main).json()["AssignmentId"]
    server.advance(61)  # Abandoned
    mturk.approve_assignment(AssignmentId=approved)  # Approved
    mturk.reject_assignment(AssignmentId=rejected, RequesterFeedback="no")  # Rejected
    new_worker(server).do(main)  # third slot: Reviewable
    mturk.create_additional_assignments_for_hit(HITId=main, NumberOfAdditionalAssignments=1)  # Extended
    short = make(life=30)
    server.advance(31)  # Expired, Reviewable
    mturk.delete_hit(HITId=short)  # Disposed
    return {
        "main": main,
        "short": short,
        "approved": approved,
        "rejected": rejected,
        "returned": returned,
        "abandoned": abandoned,
    }


def check_documents(documents: list[dict[str, Any]], customer_id: str, type_id: str, version: str) -> None:
    for document in documents:
        assert set(document) - {"_attributes", "_subject"} == {"EventDocVersion", "EventDocId", "CustomerId", "Events"}
        assert document["EventDocVersion"] == version
        assert document["CustomerId"] == customer_id
        assert re.fullmatch(r"[0-9a-f]{32}", document["EventDocId"])
        for event in document["Events"]:
            expected = {"EventType", "EventTimestamp", "HITTypeId", "HITId"}
            if event["EventType"].startswith("Assignment"):
                expected.add("AssignmentId")
            assert set(event) == expected, event
            assert TIMESTAMP.match(event["EventTimestamp"])
            assert event["HITTypeId"] == type_id
    assert len({d["EventDocId"] for d in documents}) == len(documents)


def covers_every_event(documents: list[dict[str, Any]]) -> bool:
    return set(ALL_EVENTS) <= {e["EventType"] for e in events_in(documents)}


def test_every_event_type_arrives_at_sqs(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    queue = new_queue(local_aws)
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(queue), Active=True)
    ids = drive_every_event(server, mturk, type_id)
    documents = drain(sqs_client(local_aws.url), queue, covers_every_event)
    check_documents(documents, customer_of(server, mturk), type_id, "2014-08-15")
    seen = {(e["EventType"], e.get("AssignmentId")) for e in events_in(documents)}
    assert ("AssignmentReturned", ids["returned"]) in seen
    assert ("AssignmentAbandoned", ids["abandoned"]) in seen
    assert ("AssignmentApproved", ids["approved"]) in seen
    assert ("AssignmentRejected", ids["rejected"]) in seen
    by_hit = [(e["EventType"], e["HITId"]) for e in events_in(documents)]
    assert ("HITExpired", ids["short"]) in by_hit and ("HITDisposed", ids["short"]) in by_hit
    attributes = documents[0]["_attributes"]
    assert attributes["HITTypeId"] == {"DataType": "String.Array", "StringValue": json.dumps([type_id])}
    assert attributes["EventTypes"]["DataType"] == "String.Array"
    event_types = json.loads(attributes["EventTypes"]["StringValue"])
    assert event_types == list(dict.fromkeys(e["EventType"] for e in documents[0]["Events"]))


def test_every_event_type_arrives_through_sns(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    sns, sqs = sns_client(local_aws.url), sqs_client(local_aws.url)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    queue = new_queue(local_aws)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(topic, "SNS", version="2006-05-05"))
    started_ms = time.time() * 1000
    drive_every_event(server, mturk, type_id)
    documents = drain(sqs, queue, covers_every_event, unwrap_sns=True)
    check_documents(documents, customer_of(server, mturk), type_id, "2006-05-05")
    for document in documents:  # as MTurk's: the moment of publishing, in epoch milliseconds
        assert re.fullmatch(r"[0-9]{13}", document["_subject"])
        assert started_ms - 1000 <= int(document["_subject"]) <= time.time() * 1000


def test_sns_filter_policy_on_event_types_sees_batched_messages(
    server: ServerProcess, mturk: Any, local_aws: LocalAWS
) -> None:
    """A subscription filtering on one event type receives a message that batches it with another."""
    sns, sqs = sns_client(local_aws.url), sqs_client(local_aws.url)
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    reviewable, everything = new_queue(local_aws), new_queue(local_aws)
    for queue, policy in ((reviewable, {"EventTypes": ["HITReviewable"]}), (everything, None)):
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes = {"FilterPolicy": json.dumps(policy)} if policy else {}
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    mturk.update_notification_settings(
        HITTypeId=type_id, Notification=spec(topic, "SNS", events=["HITExpired", "HITReviewable"])
    )
    hit_id = mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)["HIT"][
        "HITId"
    ]
    # One transaction makes both events, so they share one message.
    mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=0)
    [unfiltered] = drain(sqs, everything, lambda d: len(events_in(d)) >= 2, unwrap_sns=True)
    assert [e["EventType"] for e in unfiltered["Events"]] == ["HITExpired", "HITReviewable"]
    [filtered] = drain(sqs, reviewable, lambda d: len(d) >= 1, unwrap_sns=True)
    assert filtered["EventDocId"] == unfiltered["EventDocId"]


def test_every_event_type_arrives_by_email(server: ServerProcess, mturk: Any, smtp: SMTPServer) -> None:
    address = f"lab-{uuid.uuid4().hex[:8]}@example.org"
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(address, "Email"))
    drive_every_event(server, mturk, type_id)
    deadline = time.monotonic() + 20
    documents: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        mails = [m for m in smtp.inbox.received() if m["To"] == address]
        texts = [m.get_payload(decode=True).decode() for m in mails]  # type: ignore[union-attr]
        documents = [json.loads(t[t.index('{"EventDocVersion"') :].strip()) for t in texts]
        if covers_every_event(documents):
            break
        time.sleep(0.1)
    assert covers_every_event(documents)
    check_documents(documents, customer_of(server, mturk), type_id, "2014-08-15")
    mails = [m for m in smtp.inbox.received() if m["To"] == address]
    # RFC 5322's Date; a Message-ID (some receivers refuse mail without one) named after the EventDocId.
    assert all(parsedate_to_datetime(m["Date"]).tzinfo is not None for m in mails)
    assert [m["Message-ID"].split("@")[0] for m in mails] == [f"<notification.{m['X-MTurk-EventDocId']}" for m in mails]
    assert "A worker submitted an assignment" in "".join(
        m.get_payload(decode=True).decode() for m in smtp.inbox.received() if m["To"] == address
    )  # type: ignore[union-attr]


def test_events_committed_together_share_a_message(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    queue = new_queue(local_aws)
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(queue, events=["HITCreated"]))
    clients = [server.client(mturk._request_signer._credentials.access_key) for _ in range(8)]

    def create(i: int) -> str:
        return str(
            clients[i % 8].create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)[
                "HIT"
            ]["HITId"]
        )

    with ThreadPoolExecutor(8) as pool:
        hit_ids = set(pool.map(create, range(120)))
    documents = drain(sqs_client(local_aws.url), queue, lambda d: len(events_in(d)) >= 120)
    assert {e["HITId"] for e in events_in(documents)} == hit_ids
    assert len(events_in(documents)) == 120
    assert max(len(d["Events"]) for d in documents) > 1, "under load, several events share one message"
    assert len(documents) < 120


def test_a_fifo_queue_gets_one_hit_per_message_grouped_by_that_hit(
    server: ServerProcess, mturk: Any, local_aws: LocalAWS
) -> None:
    """Under the same load that batches a standard queue's events, each FIFO message holds one HIT, its group."""
    sqs = sqs_client(local_aws.url)
    queue = str(
        sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    )
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(queue, events=["HITCreated"]))
    clients = [server.client(mturk._request_signer._credentials.access_key) for _ in range(8)]

    def create(i: int) -> str:
        return str(
            clients[i % 8].create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)[
                "HIT"
            ]["HITId"]
        )

    with ThreadPoolExecutor(8) as pool:
        hit_ids = set(pool.map(create, range(60)))
    groups: dict[str, set[str]] = {}  # MessageGroupId -> the HITs of its messages' events
    deadline = time.monotonic() + 30
    while {hit_id for hits in groups.values() for hit_id in hits} != hit_ids:
        assert time.monotonic() < deadline, f"not every HIT arrived: {len(groups)} groups"
        response = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["MessageGroupId"]
        )
        for message in response.get("Messages", []):
            events = json.loads(message["Body"])["Events"]
            groups.setdefault(message["Attributes"]["MessageGroupId"], set()).update(e["HITId"] for e in events)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert groups == {hit_id: {hit_id} for hit_id in hit_ids}


def test_replace_and_active_toggle(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    first, second = new_queue(local_aws), new_queue(local_aws)
    sqs = sqs_client(local_aws.url)
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    create = lambda: mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)[
        "HIT"
    ]["HITId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(first, events=["HITCreated"]))
    one = create()
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(second, events=["HITCreated"]))
    two = create()
    mturk.update_notification_settings(HITTypeId=type_id, Active=False)
    silent = create()
    mturk.update_notification_settings(HITTypeId=type_id, Active=True)
    three = create()
    got_first = drain(sqs, first, lambda d: len(events_in(d)) >= 1)
    got_second = drain(sqs, second, lambda d: len(events_in(d)) >= 2)
    assert [e["HITId"] for e in events_in(got_first)] == [one]
    # Separate messages may arrive in either order (spec: no ordering between messages).
    assert sorted(e["HITId"] for e in events_in(got_second)) == sorted([two, three])
    assert silent not in {e["HITId"] for e in events_in(got_first + got_second)}
    # A new Notification keeps the previous Active flag (DECISION): off stays off.
    mturk.update_notification_settings(HITTypeId=type_id, Active=False)
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(first, events=["HITCreated"]))
    create()
    assert sqs.receive_message(QueueUrl=first, WaitTimeSeconds=1).get("Messages") is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"Notification": spec("not-a-url")}, "Destination"),
        ({"Notification": spec("arn:aws:sns:us-east-1:123456789012:topic")}, "Destination"),
        ({"Notification": spec("http://127.0.0.1:1/123456789012/q", "SNS")}, "Destination"),
        ({"Notification": spec("two@example.org,three@example.org", "Email")}, "Destination"),
        ({"Notification": spec("http://127.0.0.1:1/123456789012/q", version="2017-01-17")}, "Version"),
        ({"Notification": spec("http://127.0.0.1:1/123456789012/q", events=["HITCreated", "Ping"])}, "Ping"),
        ({"Notification": spec("http://127.0.0.1:1/123456789012/q", events=["Nope"])}, "EventTypes"),
        ({"Notification": {**spec("http://127.0.0.1:1/123456789012/q"), "Transport": "Pigeon"}}, "Transport"),
        ({"Active": True}, "Active"),
        ({}, "Active"),
    ],
)
def test_settings_validation_names_the_field_and_stores_nothing(
    server: ServerProcess, mturk: Any, change: dict[str, Any], field: str
) -> None:
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.update_notification_settings(HITTypeId=type_id, **change)
    assert field in excinfo.value.response["Error"]["Message"]
    assert server.sql("SELECT count(*) FROM notification_settings WHERE hit_type_id = :id", id=type_id) == [(0,)]


def test_only_the_owner_changes_settings(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    stranger = server.client("AKIDNOTIFYSTRANGER")
    with pytest.raises(stranger.exceptions.RequestError) as excinfo:
        stranger.update_notification_settings(HITTypeId=type_id, Notification=spec(new_queue(local_aws)))
    assert error_code(excinfo) == "AWS.MechanicalTurk.HITTypeDoesNotExist"


def test_test_events(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    queue = new_queue(local_aws)
    sqs = sqs_client(local_aws.url)
    for event_type in ("Ping", "AssignmentSubmitted"):
        # The specification lists only HITCreated: test events are not filtered by it.
        mturk.send_test_event_notification(Notification=spec(queue, events=["HITCreated"]), TestEventType=event_type)
        document = drain(sqs, queue, lambda d: len(d) >= 1)[0]
        assert document["CustomerId"] == customer_of(server, mturk)
        [event] = document["Events"]
        assert event["EventType"] == event_type
        assert re.fullmatch(r"[0-9A-Z]{30}", event["HITId"]) and re.fullmatch(r"[0-9A-Z]{30}", event["HITTypeId"])
        assert ("AssignmentId" in event) == event_type.startswith("Assignment")
        # In the delivery log: a delivered test message whose one attempt started before it ended.
        [logged] = [
            m
            for m in server.http.get("/api/deliveries").json()["Messages"]
            if m["EventDocId"] == document["EventDocId"]
        ]
        [attempt] = logged["AttemptLog"]
        assert logged["Test"] and logged["State"] == "delivered" and attempt["Outcome"] == "delivered"
        assert attempt["StartedAt"] == logged["CreatedAt"] <= logged["DeliveredAt"]
        assert logged["LatencyMs"] == attempt["LatencyMs"]
    missing = queue + "-missing"
    with pytest.raises(mturk.exceptions.RequestError) as excinfo:
        mturk.send_test_event_notification(Notification=spec(missing), TestEventType="Ping")
    assert "does not exist" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(mturk.exceptions.RequestError):
        mturk.send_test_event_notification(Notification=spec("nobody@example"), TestEventType="Ping")


def test_a_destination_policy_that_denies_the_sender_fails_the_test_event_and_delivery(
    server: ServerProcess, mturk: Any, local_aws: LocalAWS
) -> None:
    """The local AWS reads a queue's or topic's policy as SQS and SNS do: an explicit Deny refuses the send
    (spec: a test event fails naming the cause; a delivery fails and is retried, then dead-lettered)."""
    sqs, sns = sqs_client(local_aws.url), sns_client(local_aws.url)
    queue = new_queue(local_aws)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]

    def deny(action: str, resource: str) -> str:
        statement = {"Effect": "Deny", "Principal": "*", "Action": action, "Resource": resource}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": deny("SQS:SendMessage", queue_arn)})
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=deny("SNS:Publish", topic))
    for destination, transport, code in ((queue, "SQS", "AccessDenied"), (topic, "SNS", "AuthorizationError")):
        with pytest.raises(mturk.exceptions.RequestError) as excinfo:
            mturk.send_test_event_notification(Notification=spec(destination, transport), TestEventType="Ping")
        assert code in excinfo.value.response["Error"]["Message"]

    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(queue, events=["HITCreated"]))
    mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=600, Question=HTML_QUESTION)
    deadline = time.monotonic() + 10
    attempts: list[dict[str, Any]] = []
    while not attempts and time.monotonic() < deadline:
        listed = server.http.get("/api/deliveries", params={"HITTypeId": type_id}).json()["Messages"]
        attempts = listed[0]["AttemptLog"] if listed else []
        time.sleep(0.05)
    assert attempts and attempts[0]["Outcome"] == "failed" and "AccessDenied" in attempts[0]["Error"]
    assert sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0"
    }


def test_deliveries_endpoint_and_metrics(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    queue = new_queue(local_aws)
    type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
    mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(queue, events=["HITCreated"]))
    mturk.create_hit(**hit_params(**TYPE_PARAMS))
    drain(sqs_client(local_aws.url), queue, lambda d: len(d) >= 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = server.http.get("/api/deliveries", params={"HITTypeId": type_id}).json()["Messages"]
        if listed and listed[0]["State"] == "delivered":
            break
        time.sleep(0.05)
    [message] = listed
    assert message["State"] == "delivered" and message["Destination"] == queue
    assert message["AttemptLog"][0]["Outcome"] == "delivered"
    assert message["Body"]["Events"][0]["EventType"] == "HITCreated"
    metrics = httpx.get(server.base_url + "/metrics").text
    assert re.search(r'^openturk_messages\{state="delivered"\} [1-9]', metrics, re.M)
    assert "openturk_delivery_latency_ms_bucket" in metrics
    assert httpx.get(server.base_url + "/api/deliveries", params={"State": "bogus"}).status_code == 400


def test_embedded_local_aws_receives_notifications() -> None:
    """With no --aws-endpoint and no AWS credentials, openturk serve brings its own SQS/SNS."""
    with ServerProcess(virtual_clock=False) as server:
        endpoint = httpx.get(server.base_url + "/health").json()["aws_endpoint"]
        assert endpoint and endpoint.startswith("http://127.0.0.1:")
        assert "local SQS/SNS endpoint at" in server.log()
        queue = sqs_client(endpoint).create_queue(QueueName="newcomer")["QueueUrl"]
        mturk = server.client("AKIDNEWCOMER0001")
        type_id = mturk.create_hit_type(**TYPE_PARAMS)["HITTypeId"]
        mturk.update_notification_settings(HITTypeId=type_id, Notification=spec(queue, events=["HITCreated"]))
        hit_id = mturk.create_hit_with_hit_type(HITTypeId=type_id, LifetimeInSeconds=60, Question=HTML_QUESTION)["HIT"][
            "HITId"
        ]
        [document] = drain(sqs_client(endpoint), queue, lambda d: len(d) >= 1)
        assert document["Events"][0]["HITId"] == hit_id


def test_the_delivery_log_pages_on_with_before(server: ServerProcess, mturk: Any, local_aws: LocalAWS) -> None:
    queue = new_queue(local_aws)
    for _ in range(3):
        mturk.send_test_event_notification(Notification=spec(queue), TestEventType="Ping")
    customer = customer_of(server, mturk)

    def page(**params: str) -> list[int]:
        answer = server.http.get("/api/deliveries", params={"CustomerId": customer, **params})
        assert answer.status_code == 200, answer.text
        return [m["MessageId"] for m in answer.json()["Messages"]]

    every = page()
    assert len(every) == 3 and every == sorted(every, reverse=True)
    first = page(Limit="2")
    assert first == every[:2]
    assert page(Limit="2", Before=str(first[-1])) == every[2:]
    for bad in ("x", "0", "-1", "1" * 30, str(2**31)):  # 2**31: past PostgreSQL's integer (a 500 there)
        assert server.http.get("/api/deliveries", params={"Before": bad}).status_code == 400, bad
    for bad in ("0", "1001", "-5", "x", "²", "1" * 30):  # README: Limit 1–1000, a bad value is a 400
        assert server.http.get("/api/deliveries", params={"Limit": bad}).status_code == 400, bad
    assert page(Limit="1000") == every
