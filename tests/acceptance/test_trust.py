"""The trust boundary against real servers: who may call what, and bodies over their caps.

Every refusal here is checked twice: the answer (status and error code), and that nothing it
would have done was done (no clock moved, no assignment approved or submitted, no requester made).
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.parsers
import httpx
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from openturk.notify.local_aws import LocalAWS
from openturk.testing import ServerProcess, Worker
from openturk.web import access
from tests.conftest import EXTERNAL_QUESTION, cli_keys, events_of, hit_params, new_worker

ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
MONTH_S = 30 * 24 * 3600
TARGET = "MTurkRequesterServiceV20170117"
ADMIN_ROUTES = [("GET", "/metrics"), ("GET", "/api/deliveries"), ("GET", "/api/clock"), ("POST", "/api/clock/advance")]


def _serve(local_aws: LocalAWS, **options: Any) -> ServerProcess:
    return ServerProcess(virtual_clock=True, extra_args=["--aws-endpoint", local_aws.url], **options)


@pytest.fixture(scope="module")
def locked(local_aws: LocalAWS) -> Iterator[ServerProcess]:
    """--auth sigv4 without --admin-token: the admin routes are off."""
    with _serve(local_aws, auth="sigv4") as running:
        yield running


@pytest.fixture(scope="module")
def guarded(local_aws: LocalAWS) -> Iterator[ServerProcess]:
    """--auth sigv4 with --admin-token."""
    with _serve(local_aws, auth="sigv4", admin_token=ADMIN_TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def open_guarded(local_aws: LocalAWS) -> Iterator[ServerProcess]:
    """--auth open with --admin-token: the token is required even from loopback."""
    with _serve(local_aws, admin_token=ADMIN_TOKEN) as running:
        yield running


def _requester(server: ServerProcess) -> Any:
    keys = cli_keys(server.db_url, "requesters", "create", "lab-" + uuid.uuid4().hex[:6])
    return server.client(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"])


def _worker(server: ServerProcess) -> Worker:
    created = cli_keys(server.db_url, "workers", "create", "w-" + uuid.uuid4().hex[:6])
    return Worker(server.base_url, created["WorkerId"], token=created["Token"])


def _submitted(server: ServerProcess) -> tuple[Any, str, str]:
    """(requester client, HITId, AssignmentId) of a submitted assignment that auto-approves in a day."""
    mturk = _requester(server)
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    return mturk, hit_id, _worker(server).do(hit_id)


def _status(server: ServerProcess, assignment_id: str) -> str:
    [[status]] = server.sql("SELECT status FROM assignments WHERE assignment_id = :id", id=assignment_id)
    return str(status)


def _call(server: ServerProcess, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"Seconds": MONTH_S} if method == "POST" else None
    return httpx.request(method, server.base_url + path, json=body, headers=headers or {}, timeout=30)


# -- admin routes ----------------------------------------------------------------------------
def test_admin_routes_are_off_under_sigv4_without_an_admin_token(locked: ServerProcess) -> None:
    """Anyone could advance the clock a month: expire every HIT, auto-approve and pay every submission."""
    mturk, hit_id, assignment_id = _submitted(locked)
    balance = mturk.get_account_balance()["AvailableBalance"]
    for method, path in ADMIN_ROUTES:
        for headers in ({}, {"Authorization": "Bearer guessed"}):
            refused = _call(locked, method, path, headers)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["Error"] == "Forbidden", refused.text
    assert _status(locked, assignment_id) == "Submitted"
    assert mturk.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"
    assert mturk.get_account_balance()["AvailableBalance"] == balance


@pytest.mark.parametrize("mode", ["sigv4", "open"])
def test_admin_routes_need_the_admin_token_when_one_is_set(
    guarded: ServerProcess, open_guarded: ServerProcess, mode: str
) -> None:
    server = guarded if mode == "sigv4" else open_guarded
    _, _, assignment_id = _submitted(server) if mode == "sigv4" else _open_submitted(server)
    for method, path in ADMIN_ROUTES:
        missing = _call(server, method, path)
        assert missing.status_code == 401 and missing.json()["Error"] == "MissingCredentials", (path, missing.text)
        wrong = _call(server, method, path, {"Authorization": f"Bearer {ADMIN_TOKEN}x"})
        assert wrong.status_code == 401 and wrong.json()["Error"] == "InvalidCredentials", (path, wrong.text)
    assert _status(server, assignment_id) == "Submitted"
    for method, path in ADMIN_ROUTES[:3]:
        assert _call(server, method, path, server.admin_headers()).status_code == 200, path
    server.advance(MONTH_S)  # with the token: the auto-approval falls due and is paid
    assert _status(server, assignment_id) == "Approved"


def _open_submitted(server: ServerProcess) -> tuple[Any, str, str]:
    mturk = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    return mturk, hit_id, Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper()).do(hit_id)


def test_admin_routes_answer_loopback_clients_in_open_mode_without_a_token(server: ServerProcess) -> None:
    for method, path in ADMIN_ROUTES[:3]:
        assert _call(server, method, path).status_code == 200, path
    for since in ("inf", "-inf", "nan", "x", "1e17", "-1e300", "9" * 20):  # too large: a 500 from SQLite
        refused = httpx.get(server.base_url + "/api/deliveries", params={"Since": since})
        assert refused.status_code == 400 and refused.json()["Error"] == "InvalidParameter", refused.text


# -- externalSubmit --------------------------------------------------------------------------
def test_external_submit_needs_the_assignments_worker_under_sigv4(locked: ServerProcess) -> None:
    """A requester learns assignment ids from AssignmentAccepted events; it must not submit as the worker."""
    mturk = _requester(locked)
    hit_id = mturk.create_hit(**hit_params(Question=EXTERNAL_QUESTION))["HIT"]["HITId"]
    holder, other = _worker(locked), _worker(locked)
    assignment_id = holder.accept(hit_id).json()["AssignmentId"]
    form = {"assignmentId": assignment_id, "answer": "junk"}
    url = locked.base_url + "/mturk/externalSubmit"

    anonymous = httpx.post(url, data=form)
    assert anonymous.status_code == 401 and anonymous.json()["Error"] == "MissingCredentials", anonymous.text
    foreign = other.http.post(url, data=form)
    assert foreign.status_code == 403 and "another worker" in foreign.text, foreign.text
    assert _status(locked, assignment_id) == "Accepted"
    assert ("AssignmentSubmitted", assignment_id) not in events_of(locked, hit_id)

    assert holder.http.post(url, data={"assignmentId": assignment_id, "answer": "mine"}).status_code == 200
    assert _status(locked, assignment_id) == "Submitted"
    assert "<FreeText>mine</FreeText>" in mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["Answer"]


MALFORMED_FORMS = {
    "no boundary": ("multipart/form-data", b"assignmentId={assignment}&answer=junk"),
    "no parts": ("multipart/form-data; boundary=b", b"\x00\xff garbage without a boundary"),
    "part without a name": ("multipart/form-data; boundary=b", b"--b\r\nX-Nope: y\r\n\r\n{assignment}\r\n--b--\r\n"),
    "header without a colon": ("multipart/form-data; boundary=b", b"--b\r\nno colon here\r\n\r\nv\r\n--b--\r\n"),
}


@pytest.mark.parametrize("case", MALFORMED_FORMS)
def test_a_malformed_external_submit_form_is_a_400_page(server: ServerProcess, mturk: Any, case: str) -> None:
    hit_id = mturk.create_hit(**hit_params(Question=EXTERNAL_QUESTION))["HIT"]["HITId"]
    assignment_id = new_worker(server).accept(hit_id).json()["AssignmentId"]
    content_type, body = MALFORMED_FORMS[case]
    refused = httpx.post(
        server.base_url + "/mturk/externalSubmit",
        content=body.replace(b"{assignment}", assignment_id.encode()),
        headers={"Content-Type": content_type},
    )
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("text/html") and "Not submitted" in refused.text, refused.text
    assert _status(server, assignment_id) == "Accepted"


# -- body caps -------------------------------------------------------------------------------
def _open_key_exists(server: ServerProcess, access_key_id: str) -> bool:
    return bool(server.sql("SELECT 1 FROM access_keys WHERE access_key_id = :key", key=access_key_id))


def _api_headers(access_key_id: str) -> dict[str, str]:
    return {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{TARGET}.CreateHIT",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key_id}/20260101/us-east-1/mturk-requester/"
        f"aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature={'0' * 64}",
    }


def _start(server: ServerProcess, path: str, headers: dict[str, str]) -> http.client.HTTPConnection:
    """A request whose headers are sent and whose body is up to the caller; answers must come in 10 s."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", path)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    return conn


def _aws_error(response: http.client.HTTPResponse) -> dict[str, Any]:
    """The error as botocore's own JSON parser reads it for an SDK."""
    parsed = botocore.parsers.create_parser("json").parse(
        {"status_code": response.status, "headers": dict(response.getheaders()), "body": response.read()}, None
    )
    return dict(parsed["Error"])


def test_api_body_declared_over_the_cap_is_refused_before_it_arrives(server: ServerProcess) -> None:
    key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    conn = _start(server, "/", {**_api_headers(key), "Content-Length": str(50_000_000)})
    conn.send(b"{" + b" " * 1023)  # 1 KiB of the 50 MB announced: the answer must not wait for the rest
    response = conn.getresponse()
    assert response.status == 413
    assert response.getheader("x-amzn-RequestId")
    assert _aws_error(response)["Code"] == "RequestEntityTooLarge"
    conn.close()
    assert not _open_key_exists(server, key)


def test_api_body_streamed_over_the_cap_is_refused_once_it_passes(server: ServerProcess) -> None:
    key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    conn = _start(server, "/", {**_api_headers(key), "Transfer-Encoding": "chunked"})
    chunk = b" " * (64 * 1024)
    for _ in range(access.API_MAX_BODY // len(chunk) + 1):  # one chunk past the cap, and no end of body
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    response = conn.getresponse()
    assert response.status == 413
    assert _aws_error(response)["Code"] == "RequestEntityTooLarge"
    conn.close()
    assert not _open_key_exists(server, key)


def test_an_sdk_reads_the_api_413(server: ServerProcess) -> None:
    key = f"AKID{uuid.uuid4().hex[:16].upper()}"
    mturk = server.client(key)
    with pytest.raises(ClientError) as excinfo:
        mturk.create_hit(**hit_params(Description="x" * (access.API_MAX_BODY + 1)))
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert excinfo.value.response["Error"]["Code"] == "RequestEntityTooLarge"
    assert not _open_key_exists(server, key)


def test_worker_body_over_the_cap_is_refused(server: ServerProcess, mturk: Any, worker: Worker) -> None:
    hit_id = mturk.create_hit(**hit_params())["HIT"]["HITId"]
    assignment_id = worker.accept(hit_id).json()["AssignmentId"]
    path = f"/api/worker/assignments/{assignment_id}/submit"
    size = access.WORKER_MAX_BODY + 1
    conn = _start(server, path, {"Content-Type": "application/json", "Content-Length": str(size)})
    conn.send(b"{" + b" " * 1023)
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["Error"] == "RequestEntityTooLarge"
    conn.close()
    assert _status(server, assignment_id) == "Accepted"


# -- the worker API: whatever JSON comes, a 4xx naming the problem, never a 5xx ----------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
PARTS = ["SelectionIdentifiers", "OtherSelectionText", "FreeText", "UploadedFileKey", "UploadedFileSizeInBytes"]
ANSWER_VALUES = JSON | st.dictionaries(st.sampled_from(PARTS), JSON, max_size=4)
WORKER_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("Error"), str) and isinstance(body.get("Message"), str), response.text


@pytest.fixture(scope="module")
def roomy_hit(server: ServerProcess) -> str:
    """A HIT with room for every example's worker."""
    mturk = server.client(f"AKID{uuid.uuid4().hex[:16].upper()}")
    return str(mturk.create_hit(**hit_params(MaxAssignments=500, Reward="0.01"))["HIT"]["HITId"])


@WORKER_FUZZ
@given(answers=st.dictionaries(st.text(max_size=8), ANSWER_VALUES, max_size=3))
@example(answers={"q": {"UploadedFileKey": "k", "UploadedFileSizeInBytes": "abc"}})
@example(answers={"q": {"SelectionIdentifiers": 5}})
def test_submitted_answers_of_any_shape_never_fault(server: ServerProcess, roomy_hit: str, answers: Any) -> None:
    worker = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
    assignment_id = worker.accept(roomy_hit).json()["AssignmentId"]
    response = worker.submit(assignment_id, answers)
    _check(response)
    if response.status_code >= 400:
        assert _status(server, assignment_id) == "Accepted"


@WORKER_FUZZ
@given(
    route=st.sampled_from(["hits/{hit}/accept", "assignments/{assignment}/submit", "assignments/{assignment}/return"]),
    body=JSON | st.fixed_dictionaries({"WorkerId": JSON, "Answers": JSON}),
    hit=st.just("real") | st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=40),
)
def test_any_json_to_the_worker_api_never_faults(
    server: ServerProcess, roomy_hit: str, route: str, body: Any, hit: str
) -> None:
    path = "/api/worker/" + route.format(hit=roomy_hit if hit == "real" else hit, assignment=hit)
    _check(httpx.post(server.base_url + path, json=body, timeout=30))


def test_json_nested_deeper_than_the_parser_goes_is_a_400(server: ServerProcess, roomy_hit: str) -> None:
    deep = b"[" * 20_000  # under every cap, past Python's recursion limit
    worker = Worker(server.base_url, "A" + uuid.uuid4().hex[:13].upper())
    assignment_id = worker.accept(roomy_hit).json()["AssignmentId"]
    for path in (f"/api/worker/hits/{roomy_hit}/accept", f"/api/worker/assignments/{assignment_id}/submit"):
        response = httpx.post(server.base_url + path, content=deep, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.json()["Error"] == "InvalidJSON", response.text
    clock = httpx.post(server.base_url + "/api/clock/advance", content=deep[:10_000])
    assert clock.status_code == 400 and clock.json()["Error"] == "InvalidSeconds", clock.text
    assert _status(server, assignment_id) == "Accepted"
