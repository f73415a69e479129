"""Fuzzing the Requester API of a real server: hostile input never faults and never half-writes.

Every implemented operation receives random JSON values, objects with random keys, its own members
(read from botocore's ``mturk`` model) holding hostile values, bytes that are not JSON, and valid
requests with one field mutated; the ``X-Amz-Target`` and ``Authorization`` headers are fuzzed too.
Whatever the input, the answer must be a well-formed AWS JSON 1.1 response below 500, the server log
must stay free of tracebacks, and a refused request must leave every table of the database exactly
as it was (a digest of each table is taken before and after every request).

The server runs its real-time timer loop, which writes when an expiry, deadline or auto-approval
falls due. So that only the request under test can change the database, nothing here creates a
timer due within ``FAR_S``: lifetimes and expiration times in that window are never generated.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ListShape, Shape, StructureShape
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from openturk.cli import build_parser
from openturk.requester.operations import implemented
from openturk.store import schema
from openturk.testing import ServerProcess, Worker
from openturk.web import access
from tests.conftest import EXTERNAL_QUESTION, HTML_QUESTION, hit_params
from tests.support.cli import cli_keys

MODEL = botocore.session.get_session().get_service_model("mturk")
PREFIX = str(MODEL.metadata["targetPrefix"])
OPERATIONS = implemented()
CONTENT_TYPE = "application/x-amz-json-1.1"
ACCESS_KEY = "AKIDFUZZREQUESTER000"
OTHER_KEY = "AKIDFUZZOTHERTENANT0"
# No timer may fall due while the file runs: the timer loop's writes would look like partial writes.
FAR_S = 6 * 3600
LIFETIME_S = 24 * 3600

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)


def authorization(access_key: str) -> str:
    """A SigV4-shaped header; open mode reads only the access key id from it."""
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/20170117/us-east-1/mturk-requester/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={'0' * 64}"
    )


# -- the server under fuzz ---------------------------------------------------------------------
def snapshot(server: ServerProcess) -> dict[str, tuple[int, str]]:
    """Row count and digest of every table of the schema, on either store (rows sorted: PostgreSQL has no rowid)."""
    result = {}
    for table in schema.metadata.sorted_tables:
        rows = sorted(repr(row) for row in server.sql(f'SELECT * FROM "{table.name}"'))
        result[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return result


@dataclass(repr=False)
class Fuzz:
    """A dedicated server, a raw HTTP client, and the objects a valid request can name."""

    server: ServerProcess
    http: httpx.Client
    hits: list[str]
    hit_types: list[str]
    assignments: list[tuple[str, str]]  # (AssignmentId, WorkerId): submitted, approved, rejected
    foreign_ids: list[str]  # another requester's HIT, HIT type, assignment and qualification type
    next_tokens: dict[str, str]
    qualification_types: list[str] = field(default_factory=list)  # the caller's
    qualification_requests: list[str] = field(default_factory=list)  # pending, then decided as the fuzz goes
    upload: tuple[str, str] = ("", "")  # (AssignmentId, QuestionIdentifier) of a submitted FileUploadAnswer
    log_seen: int = 0

    def __repr__(self) -> str:
        return f"Fuzz({self.server.base_url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    @property
    def all_ids(self) -> list[str]:
        return [
            *self.hits,
            *self.hit_types,
            *(a for a, _ in self.assignments),
            *self.foreign_ids,
            *self.qualification_types,
            *self.qualification_requests,
            self.upload[0],
            *FAKE_IDS,
        ]


FAKE_IDS = ["3" + "Z" * 29, "1" * 30, "A", "0" * 64]


def _submitted_by(server: ServerProcess, hit_id: str, n: int) -> list[tuple[str, str]]:
    """``n`` workers accept and submit the HIT: (AssignmentId, WorkerId) of each."""
    done = []
    for i in range(n):
        worker = Worker(server.base_url, f"AFUZZ{hit_id[:8]}{i}")
        done.append((worker.do(hit_id, {"answer": f"fuzz {i}"}), worker.worker_id))
    return done


FORM_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd"
UPLOAD_QUESTION = f"""<QuestionForm xmlns="{FORM_NS}">
<Question><QuestionIdentifier>photo</QuestionIdentifier><QuestionContent><Text>Upload a photo</Text></QuestionContent>
<AnswerSpecification><FileUploadAnswer><MaxFileSizeInBytes>1000</MaxFileSizeInBytes>
<MinFileSizeInBytes>2</MinFileSizeInBytes></FileUploadAnswer></AnswerSpecification></Question>
</QuestionForm>"""


def _uploaded(server: ServerProcess, mturk: Any, params: dict[str, Any]) -> str:
    """A worker uploads a file to a FileUploadAnswer question and submits: the AssignmentId."""
    hit_id = mturk.create_hit(**{**params, "Question": UPLOAD_QUESTION})["HIT"]["HITId"]
    worker = Worker(server.base_url, "AFUZZUPLOADER01")
    accepted = worker.accept(hit_id)
    accepted.raise_for_status()
    assignment_id = str(accepted.json()["AssignmentId"])
    uploaded = worker.http.put(
        f"/api/worker/assignments/{assignment_id}/files/photo",
        params={"WorkerId": worker.worker_id},
        content=b"a photo",
    )
    uploaded.raise_for_status()
    worker.submit(assignment_id, {"photo": {"UploadedFileKey": uploaded.json()["UploadedFileKey"]}}).raise_for_status()
    return assignment_id


def _requested(server: ServerProcess, type_id: str, worker_id: str) -> str:
    """A worker requests the qualification type (not auto-granted): the pending request's id."""
    response = Worker(server.base_url, worker_id).http.post(
        f"/api/worker/qualifications/{type_id}/request", json={"WorkerId": worker_id}
    )
    response.raise_for_status()
    return str(response.json()["QualificationRequestId"])


def quiet_serve_args() -> list[str]:
    """``--no-dispatch`` where the server has a notification dispatcher: its writes come later, from
    its own loop, and would look like partial writes of whatever request was in flight."""
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            build_parser().parse_args(["serve", "--no-dispatch"])
        except SystemExit:
            return []
    return ["--no-dispatch"]


@pytest.fixture(scope="module")
def fuzz() -> Iterator[Fuzz]:
    with (
        ServerProcess(virtual_clock=True, extra_args=quiet_serve_args()) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        mturk, other = server.client(ACCESS_KEY), server.client(OTHER_KEY)
        params = hit_params(LifetimeInSeconds=LIFETIME_S, AutoApprovalDelayInSeconds=30 * 86400)
        open_hit = mturk.create_hit(**{**params, "MaxAssignments": 6})["HIT"]
        reviewable = [mturk.create_hit(**params)["HIT"]["HITId"] for _ in range(3)]
        external = mturk.create_hit(**{**params, "Question": EXTERNAL_QUESTION})["HIT"]["HITId"]
        assignments = _submitted_by(server, open_hit["HITId"], 4)
        for hit_id in reviewable:
            assignments += _submitted_by(server, hit_id, 1)
        mturk.approve_assignment(AssignmentId=assignments[0][0])
        mturk.reject_assignment(AssignmentId=assignments[1][0], RequesterFeedback="not this time")
        for amount in ("0.25", "0.50"):
            mturk.send_bonus(
                WorkerId=assignments[0][1], AssignmentId=assignments[0][0], BonusAmount=amount, Reason="good work"
            )
        mturk.update_hit_review_status(HITId=reviewable[2])
        for blocked in ("ABLOCKEDFUZZ01", "ABLOCKEDFUZZ02"):
            mturk.create_worker_block(WorkerId=blocked, Reason="fuzz")
        foreign = other.create_hit(**params)["HIT"]
        ((foreign_assignment, _),) = _submitted_by(server, foreign["HITId"], 1)
        foreign_type = other.create_qualification_type(
            Name="fuzz foreign", Description="another requester's", QualificationTypeStatus="Active"
        )["QualificationType"]
        qualification_types = [
            mturk.create_qualification_type(
                Name=f"fuzz {i}", Description="labelling", Keywords="fuzz, images", QualificationTypeStatus="Active"
            )["QualificationType"]["QualificationTypeId"]
            for i in range(2)
        ]
        requests = [_requested(server, qualification_types[0], f"AFUZZREQUEST{i:02}") for i in range(3)]
        for worker_id in (assignments[0][1], assignments[1][1]):
            mturk.associate_qualification_with_worker(
                QualificationTypeId=qualification_types[1], WorkerId=worker_id, IntegerValue=50, SendNotification=False
            )
        required = {"QualificationTypeId": qualification_types[1], "Comparator": "Exists"}
        for _ in range(2):
            mturk.create_hit(**{**params, "QualificationRequirements": [required]})
        upload = _uploaded(server, mturk, params)
        policy_hit = mturk.create_hit(**{**params, "MaxAssignments": 3, "AssignmentReviewPolicy": POLICY})["HIT"]
        _submitted_by(server, policy_hit["HITId"], 2)
        next_tokens = {
            "ListHITs": mturk.list_hits(MaxResults=1)["NextToken"],
            "ListReviewableHITs": mturk.list_reviewable_hits(MaxResults=1)["NextToken"],
            "ListAssignmentsForHIT": mturk.list_assignments_for_hit(HITId=open_hit["HITId"], MaxResults=1)["NextToken"],
            "ListBonusPayments": mturk.list_bonus_payments(HITId=open_hit["HITId"], MaxResults=1)["NextToken"],
            "ListWorkerBlocks": mturk.list_worker_blocks(MaxResults=1)["NextToken"],
            "ListQualificationTypes": mturk.list_qualification_types(
                MustBeRequestable=False, MustBeOwnedByCaller=True, MaxResults=1
            )["NextToken"],
            "ListQualificationRequests": mturk.list_qualification_requests(MaxResults=1)["NextToken"],
            "ListWorkersWithQualificationType": mturk.list_workers_with_qualification_type(
                QualificationTypeId=qualification_types[1], MaxResults=1
            )["NextToken"],
            "ListHITsForQualificationType": mturk.list_hits_for_qualification_type(
                QualificationTypeId=qualification_types[1], MaxResults=1
            )["NextToken"],
            "ListReviewPolicyResultsForHIT": mturk.list_review_policy_results_for_hit(
                HITId=policy_hit["HITId"], RetrieveResults=True, MaxResults=1
            )["NextToken"],
        }
        yield Fuzz(
            server=server,
            http=http,
            hits=[open_hit["HITId"], *reviewable, external, policy_hit["HITId"]],
            hit_types=[open_hit["HITTypeId"]],
            assignments=assignments,
            foreign_ids=[
                foreign["HITId"],
                foreign["HITTypeId"],
                foreign_assignment,
                foreign_type["QualificationTypeId"],
            ],
            next_tokens=next_tokens,
            qualification_types=qualification_types,
            qualification_requests=requests,
            upload=(upload, "photo"),
            log_seen=len(server.log()),
        )


def exchange(
    fuzz: Fuzz,
    body: bytes,
    *,
    target: str | bytes | None,
    auth: str | bytes | None = authorization(ACCESS_KEY),
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Send one request and check the invariants every answer must keep; return the response."""
    headers = {
        name.encode(): value.encode() for name, value in {"Content-Type": CONTENT_TYPE, **(extra_headers or {})}.items()
    }
    if target is not None:
        headers[b"X-Amz-Target"] = target if isinstance(target, bytes) else target.encode("latin-1")
    if auth is not None:
        headers[b"Authorization"] = auth if isinstance(auth, bytes) else auth.encode("latin-1")
    before = snapshot(fuzz.server)
    response = fuzz.http.post("/", content=body, headers=headers)
    after = snapshot(fuzz.server)
    what = (
        f"X-Amz-Target: {target!r}\nAuthorization: {auth!r}\nbody: {body[:600]!r}"
        f"{' ...' if len(body) > 600 else ''} ({len(body)} bytes)\n"
        f"-> HTTP {response.status_code} {response.text[:800]}"
    )
    log = fuzz.server.log()
    new_log, fuzz.log_seen = log[fuzz.log_seen :], len(log)

    assert fuzz.server.process is not None and fuzz.server.process.poll() is None, f"server died on\n{what}\n{new_log}"
    assert response.status_code < 500, f"server fault on\n{what}\nserver log:\n{new_log[-4000:]}"
    assert "Traceback" not in response.text, what
    assert "Traceback" not in new_log and "Exception in ASGI application" not in new_log, (
        f"traceback in the server log on\n{what}\nserver log:\n{new_log[-4000:]}"
    )
    assert response.headers.get("content-type", "").startswith(CONTENT_TYPE), what
    try:
        document = response.json()
    except ValueError:
        pytest.fail(f"answer is not JSON:\n{what}")
    assert isinstance(document, dict), what
    if response.status_code >= 400:
        assert isinstance(document.get("__type"), str) and document["__type"], f"error without __type:\n{what}"
        if document["__type"] == "RequestError":
            assert isinstance(document.get("Message"), str) and document["Message"], what
            assert isinstance(document.get("TurkErrorCode"), str) and document["TurkErrorCode"], what
        changed = {
            table: (before.get(table), after.get(table))
            for table in before.keys() | after.keys()
            if before.get(table) != after.get(table)
        }
        assert not changed, (
            f"partial write: a refused request changed tables {sorted(changed)} "
            f"(rows before/after: { {t: (b and b[0], a and a[0]) for t, (b, a) in changed.items()} })"
            f"\n{what}"
        )
    return response


def call(fuzz: Fuzz, operation: str, body: bytes) -> httpx.Response:
    return exchange(fuzz, body, target=f"{PREFIX}.{operation}")


class Body(bytes):
    """A request body whose repr stays short in hypothesis's falsifying examples."""

    def __repr__(self) -> str:
        shown = repr(bytes(self[:200]))
        return f"Body({shown}{f' + {len(self) - 200} more bytes' if len(self) > 200 else ''})"


def encode(value: Any) -> Body:
    return Body(json.dumps(value, allow_nan=True).encode())


# -- hostile values, derived from the model ----------------------------------------------------
NASTY_STRINGS = [
    "",
    " ",
    "\t\r\n",
    "\x00",
    "\x00ABC",
    "\ud800",
    "A\udfffB",
    "\U0001f4a9",
    "é",
    "\u202e",
    "\ufeff",
    "null",
    "true",
    "0",
    "-1",
    "1e400",
    "NaN",
    "ABC\n",
    "abc",
    "A-B",
    "A B",
    "A" * 65,
    "Z" * 5000,
    "'; DROP TABLE hits; --",
    "%s%s%n",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "<x>&lt;</x>",
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    "<!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]><x>&a;</x>",
]
LONE_SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(NASTY_STRINGS),
    st.lists(st.one_of(st.characters(), LONE_SURROGATES), max_size=12).map("".join),
    st.integers(1_000, 120_000).map(lambda n: "A" * n),
)
INTEGERS = st.one_of(
    st.integers(),
    st.sampled_from(
        [
            -(2**63) - 1,
            -(2**63),
            -1,
            0,
            1,
            2**31 - 1,
            2**31,
            2**32,
            2**53 + 1,
            2**63 - 1,
            2**63,
            2**64,
            10**30,
            -(10**30),
            10**300,
        ]
    ),
)
FLOATS = st.one_of(st.floats(), st.sampled_from([0.5, 1.0, -0.0, 1e300, -1e300, 2.0**63, 1e-300]))
LEAVES = st.one_of(st.none(), st.booleans(), INTEGERS, FLOATS, TEXT)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=15,
)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _not_soon_seconds(value: Any) -> bool:
    """A LifetimeInSeconds that, if accepted, would expire while the file runs."""
    number = _number(value)
    return number is None or not 0 <= number <= FAR_S


def _not_soon_timestamp(value: Any) -> bool:
    """An ExpireAt that, if accepted, would leave a HIT expiring while the file runs."""
    now = time.time()
    number = _number(value)
    if number is None and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            number = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        except (ValueError, OverflowError, OSError):
            return True
    return number is None or math.isnan(number) or not now - 5 <= number <= now + FAR_S


SAFE: dict[str, Callable[[Any], bool]] = {"LifetimeInSeconds": _not_soon_seconds, "ExpireAt": _not_soon_timestamp}

TIMESTAMPS = st.one_of(
    st.sampled_from(
        [
            0,
            -1,
            1e11,
            1e11 - 1,
            1e300,
            -1e300,
            float("nan"),
            float("inf"),
            "",
            "now",
            "tomorrow",
            "2024-02-30T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00+14:00",
            "1970-01-01",
            "1970-01-01T00:00:00-23:59",
            "2017-01-17T00:00:00.123456789Z",
            "T",
            True,
        ]
    ),
    INTEGERS,
    FLOATS,
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
)


# Values of the right type that reach deep into an operation: money beyond any balance, assignment
# counts across the 10-assignment fee tier, qualification types that exist and ones that do not.
DOMAIN_EDGES: dict[str, list[Any]] = {
    "Reward": ["0", "0.00", "0.001", "1.", ".5", "10000.00", "9999999999.99", "1000000000000", "-1", "1e3"],
    "BonusAmount": ["0", "0.01", "10000.00", "99999999.99", "1000000000000", "0.999"],
    "MaxAssignments": [1, 9, 10, 11, 100_000, 999_999_999, 1_000_000_000, 1_000_000_001],
    "NumberOfAdditionalAssignments": [0, 1, 4, 5, 9, 10, 999_999_999, 1_000_000_000],
    "QualificationTypeId": [
        "00000000000000000071",
        "000000000000000000L0",
        "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH",
        "3NOSUCHQUALIFICATIONTYPE000000",
        "",
    ],
    "IntegerValues": [[], [0], [-1], [2**31], [1] * 16, list(range(31))],
    "LocaleValues": [[], [{"Country": "US"}], [{"Country": "us"}], [{"Country": "USA"}], [{"Country": "US"}] * 31],
    "AutoApprovalDelayInSeconds": [0, 2_592_000, 2_592_001, -1],
    "AssignmentDurationInSeconds": [29, 30, 31_536_000, 31_536_001],
    "LifetimeInSeconds": [29, 31_536_000, 31_536_001, -1],
    "Subject": ["", " ", "s" * 200, "s" * 201],
    "MessageText": ["", "\t", "m" * 4096, "m" * 4097],
    "WorkerIds": [[], ["ABLOCKEDFUZZ01"] * 100, ["ABLOCKEDFUZZ01"] * 101, ["ABLOCKEDFUZZ01", "not-a-worker"]],
    "Reason": ["", " ", "r" * 100_000, "r" * 100_001],
}


def _strings(shape: Shape) -> st.SearchStrategy[Any]:
    meta = shape.metadata
    options = [TEXT]
    if "enum" in meta:
        enum = list(meta["enum"])
        options += [st.sampled_from(enum), st.sampled_from([e.lower() for e in enum] + [e + " " for e in enum])]
    if "pattern" in meta:
        options.append(st.from_regex(meta["pattern"], fullmatch=True).map(lambda text: text[:80]))
    if "min" in meta or "max" in meta:
        low, high = meta.get("min", 0), meta.get("max", 70)
        options.append(st.sampled_from([max(low - 1, 0), low, high, high + 1]).map(lambda n: "A" * n))
    return st.one_of(options)


def _integers(shape: Shape, typed: bool) -> st.SearchStrategy[Any]:
    meta = shape.metadata
    edges = [meta[k] + d for k in ("min", "max") if k in meta for d in (-1, 0, 1)]
    numbers = st.one_of(INTEGERS, st.integers(-2, 20), st.sampled_from(edges or [0]))
    return numbers if typed else numbers | st.sampled_from([1.0, 1.5, "5", "0x10", True])


def hostile_members(shape: StructureShape) -> st.SearchStrategy[dict[str, Any]]:
    """An input structure whose members, any of them absent, hold hostile values."""
    return st.fixed_dictionaries({}, optional={name: hostile(sub, name, 1) for name, sub in shape.members.items()})


def hostile(shape: Shape, name: str = "", depth: int = 0, *, typed: bool = False) -> st.SearchStrategy[Any]:
    """Values for a member of ``shape``: of its own JSON type but wrong (edges, bad enums, broken
    patterns, huge strings, nested garbage), and unless ``typed``, sometimes of any type at all."""
    kind = shape.type_name
    own: st.SearchStrategy[Any]
    if kind == "structure" and depth < 6:
        assert isinstance(shape, StructureShape)
        members = {member: hostile(sub, member, depth + 1, typed=typed) for member, sub in shape.members.items()}
        own = st.fixed_dictionaries({}, optional=members)
    elif kind == "list" and depth < 6:
        assert isinstance(shape, ListShape)
        item = hostile(shape.member, name, depth + 1, typed=typed)
        own = st.one_of(st.lists(item, max_size=4), st.lists(item, min_size=11, max_size=40, unique_by=str))
    elif kind == "string":
        own = _strings(shape)
    elif kind in ("integer", "long"):
        own = _integers(shape, typed)
    elif kind == "boolean":
        own = st.booleans() if typed else st.one_of(st.booleans(), st.sampled_from(["true", 0, 1, [], {}]))
    elif kind == "timestamp":
        own = TIMESTAMPS
    else:
        own = JSON_VALUES
    if name in DOMAIN_EDGES:
        own = own | st.sampled_from(DOMAIN_EDGES[name])
    values = own if typed else st.one_of(own, own, own, JSON_VALUES)
    return values.filter(SAFE[name]) if name in SAFE else values


def input_shape(operation: str) -> StructureShape:
    shape = MODEL.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def shape_at(operation: str, path: tuple[str | int, ...]) -> Shape | None:
    shape: Shape | None = input_shape(operation)
    for step in path:
        if isinstance(shape, StructureShape) and isinstance(step, str):
            shape = shape.members.get(step)
        elif isinstance(shape, ListShape) and isinstance(step, int):
            shape = shape.member
        else:
            return None
    return shape


def member_names() -> list[str]:
    return sorted({name for op in OPERATIONS for name in input_shape(op).members})


# -- valid requests, then one field mutated ---------------------------------------------------
def _token(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode("ascii").rstrip("=")


LIST_OPERATIONS = [
    "ListHITs",
    "ListReviewableHITs",
    "ListAssignmentsForHIT",
    "ListBonusPayments",
    "ListWorkerBlocks",
    "ListQualificationTypes",
    "ListQualificationRequests",
    "ListWorkersWithQualificationType",
    "ListHITsForQualificationType",
    "ListReviewPolicyResultsForHIT",
]
# Tokens in openturk's own format (base64 JSON naming an operation and a sort key) with any key,
# tokens of other shapes, and garbage: a client may send any string back.
FORGED_TOKENS = st.one_of(
    st.builds(lambda op, key: _token({"o": op, "k": key}), st.sampled_from(LIST_OPERATIONS), JSON_VALUES),
    st.builds(_token, JSON_VALUES),
    st.sampled_from(["=", "====", "!!!", "é", "A" * 255, "A" * 256]),
    TEXT,
)


def next_tokens(fuzz: Fuzz) -> st.SearchStrategy[Any]:
    """Real tokens of every list operation, and forged ones."""
    return st.sampled_from(sorted(fuzz.next_tokens.values())) | FORGED_TOKENS


REQUIREMENTS = [
    {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThanOrEqualTo", "IntegerValues": [95]},
    {
        "QualificationTypeId": "00000000000000000071",
        "Comparator": "In",
        "LocaleValues": [{"Country": "US"}, {"Country": "CA", "Subdivision": "ON"}],
    },
    {
        "QualificationTypeId": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH",
        "Comparator": "Exists",
        "ActionsGuarded": "DiscoverPreviewAndAccept",
    },
]
POLICY = {
    "PolicyName": "ScoreMyKnownAnswers/2011-09-01",
    "Parameters": [{"Key": "AnswerKey", "MapEntries": [{"Key": "q1", "Values": ["yes"]}]}],
}


@st.composite
def valid_table(draw: st.DrawFn, fuzz: Fuzz) -> dict[str, dict[str, Any]]:
    """For every operation, parameters that would succeed on a fresh server (ids are mostly real)."""

    def own_or_any(own: list[str]) -> str:
        return draw(st.sampled_from(own) | st.sampled_from(fuzz.all_ids))

    hit, hit_type = own_or_any(fuzz.hits), own_or_any(fuzz.hit_types)
    qualification_type = own_or_any(fuzz.qualification_types)
    request = own_or_any(fuzz.qualification_requests)
    upload = draw(st.just(fuzz.upload) | st.tuples(st.sampled_from(fuzz.all_ids), st.just("photo")))
    notification = {
        "Transport": "SQS",
        "Version": "2014-08-15",
        "EventTypes": ["AssignmentSubmitted"],
        "Destination": f"http://127.0.0.1:{fuzz.server.local_aws_port}/000000000000/fuzz-missing",
    }
    assignment, worker_id = draw(st.sampled_from(fuzz.assignments))
    assignment = draw(st.just(assignment) | st.sampled_from(fuzz.all_ids))
    hit_type_params = {
        "Title": "Label an image",
        "Description": "Say what is in the picture",
        "Reward": "0.05",
        "AssignmentDurationInSeconds": 600,
        "AutoApprovalDelayInSeconds": 86400,
    }
    new_hit = {
        "LifetimeInSeconds": LIFETIME_S,
        "MaxAssignments": draw(st.integers(1, 3)),
        "Question": draw(st.sampled_from([HTML_QUESTION, EXTERNAL_QUESTION])),
    }
    page = {"MaxResults": draw(st.integers(1, 100))}
    by_operation: dict[str, dict[str, Any]] = {
        "ApproveAssignment": {
            "AssignmentId": assignment,
            "RequesterFeedback": "Thanks",
            "OverrideRejection": draw(st.booleans()),
        },
        "CreateAdditionalAssignmentsForHIT": {"HITId": hit, "NumberOfAdditionalAssignments": 1},
        "CreateHIT": {**hit_type_params, **new_hit},
        "CreateHITType": hit_type_params,
        "CreateHITWithHITType": {"HITTypeId": hit_type, **new_hit},
        "DeleteHIT": {"HITId": hit},
        "GetAccountBalance": {},
        "GetAssignment": {"AssignmentId": assignment},
        "GetHIT": {"HITId": hit},
        "ListAssignmentsForHIT": {"HITId": hit, "AssignmentStatuses": ["Submitted", "Approved"], **page},
        "ListBonusPayments": draw(st.sampled_from([{"HITId": hit}, {"AssignmentId": assignment}])) | page,
        "ListHITs": page,
        "ListReviewableHITs": {
            "Status": draw(st.sampled_from(["Reviewable", "Reviewing"])),
            "HITTypeId": hit_type,
            **page,
        },
        "RejectAssignment": {"AssignmentId": assignment, "RequesterFeedback": "Missing the label"},
        "SendBonus": {"WorkerId": worker_id, "AssignmentId": assignment, "BonusAmount": "0.10", "Reason": "Great work"},
        "UpdateExpirationForHIT": {"HITId": hit, "ExpireAt": int(time.time()) + LIFETIME_S},
        "UpdateHITReviewStatus": {"HITId": hit, "Revert": draw(st.booleans())},
        "UpdateHITTypeOfHIT": {"HITId": hit, "HITTypeId": hit_type},
        "CreateWorkerBlock": {"WorkerId": worker_id, "Reason": "Spam answers"},
        "DeleteWorkerBlock": {"WorkerId": worker_id, "Reason": "Appealed"},
        "ListWorkerBlocks": page,
        "NotifyWorkers": {"Subject": "More work", "MessageText": "New HITs tomorrow.", "WorkerIds": [worker_id]},
        "CreateQualificationType": {
            "Name": draw(st.sampled_from(["fuzz new", "fuzz 0", "Fuzz 1"])),
            "Description": "Workers good at labelling",
            "Keywords": "fuzz",
            "QualificationTypeStatus": draw(st.sampled_from(["Active", "Inactive"])),
            "AutoGranted": draw(st.booleans()),
            "RetryDelayInSeconds": 60,
        },
        "GetQualificationType": {"QualificationTypeId": qualification_type},
        "ListQualificationTypes": {
            "MustBeRequestable": draw(st.booleans()),
            "MustBeOwnedByCaller": draw(st.booleans()),
            "Query": "fuzz",
            **page,
        },
        "UpdateQualificationType": {
            "QualificationTypeId": qualification_type,
            "Description": "Still labelling",
            "QualificationTypeStatus": draw(st.sampled_from(["Active", "Inactive"])),
            "RetryDelayInSeconds": 120,
            "AutoGranted": draw(st.booleans()),
            "AutoGrantedValue": 7,
        },
        "DeleteQualificationType": {"QualificationTypeId": qualification_type},
        "ListQualificationRequests": {"QualificationTypeId": qualification_type, **page},
        "AcceptQualificationRequest": {"QualificationRequestId": request, "IntegerValue": 90},
        "RejectQualificationRequest": {"QualificationRequestId": request, "Reason": "Score too low"},
        "AssociateQualificationWithWorker": {
            "QualificationTypeId": qualification_type,
            "WorkerId": worker_id,
            "IntegerValue": 80,
            "SendNotification": False,
        },
        "DisassociateQualificationFromWorker": {
            "QualificationTypeId": qualification_type,
            "WorkerId": worker_id,
            "Reason": "Retired",
        },
        "GetQualificationScore": {"QualificationTypeId": qualification_type, "WorkerId": worker_id},
        "ListWorkersWithQualificationType": {
            "QualificationTypeId": qualification_type,
            "Status": draw(st.sampled_from(["Granted", "Revoked"])),
            **page,
        },
        "ListHITsForQualificationType": {"QualificationTypeId": qualification_type, **page},
        "GetFileUploadURL": {"AssignmentId": upload[0], "QuestionIdentifier": upload[1]},
        "ListReviewPolicyResultsForHIT": {
            "HITId": hit,
            "PolicyLevels": ["Assignment", "HIT"],
            "RetrieveActions": True,
            "RetrieveResults": True,
            **page,
        },
        "UpdateNotificationSettings": {
            "HITTypeId": hit_type,
            "Notification": notification,
            "Active": draw(st.booleans()),
        },
        "SendTestEventNotification": {"Notification": notification, "TestEventType": "AssignmentSubmitted"},
    }
    return by_operation


@st.composite
def valid_request(draw: st.DrawFn, fuzz: Fuzz, operations: list[str] = OPERATIONS) -> tuple[str, dict[str, Any]]:
    """An operation and parameters that would succeed on a fresh server (ids are mostly real)."""
    operation = draw(st.sampled_from(operations))
    extras = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "QualificationRequirements": st.lists(st.sampled_from(REQUIREMENTS), max_size=3),
                "UniqueRequestToken": st.sampled_from(["fuzz-1", "fuzz-2"]) | st.text(min_size=1, max_size=64),
                "Keywords": st.just("image, label"),
                "RequesterAnnotation": st.just("batch 7"),
                "AssignmentReviewPolicy": st.just(POLICY),
            },
        )
    )
    params = draw(valid_table(fuzz))[operation]
    members = input_shape(operation).members
    params.update({name: value for name, value in extras.items() if name in members})
    return operation, copy.deepcopy(params)  # mutations must not reach the shared templates


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _set(document: Any, path: tuple[str | int, ...], value: Any, *, delete: bool = False) -> None:
    for step in path[:-1]:
        document = document[step]
    if delete:
        del document[path[-1]]
    else:
        document[path[-1]] = value


@st.composite
def almost_valid(draw: st.DrawFn, fuzz: Fuzz, operations: list[str] = OPERATIONS) -> tuple[str, dict[str, Any]]:
    """A valid request with one field (top-level or nested, present or absent) dropped or replaced."""
    operation, params = draw(valid_request(fuzz, operations))
    missing = [(name,) for name in input_shape(operation).members if name not in params]
    paths: list[tuple[str | int, ...]] = [*_paths(params), *missing]
    if not paths:
        return operation, params
    path = draw(st.sampled_from(paths))
    name = next((step for step in reversed(path) if isinstance(step, str)), "")
    shape = shape_at(operation, path)
    replacement = draw(
        st.sampled_from(
            ["drop", "typed", "typed", "edge", "edge", "hostile", "id", "token"]
            if path not in missing
            else ["typed", "edge", "hostile", "id", "token"]
        )
    )
    edges = [member for member in input_shape(operation).members if member in DOMAIN_EDGES]
    if replacement == "edge" and edges:
        member = draw(st.sampled_from(edges))
        params[member] = draw(st.sampled_from(DOMAIN_EDGES[member]).filter(SAFE.get(member, lambda _: True)))
    elif replacement == "drop":
        _set(params, path, None, delete=True)
    elif replacement == "id" and name.endswith("Id"):
        known = draw(st.sampled_from(fuzz.all_ids))
        _set(params, path, draw(st.sampled_from([known, known.lower(), known + "\n", known[:-1], " " + known])))
    elif replacement == "token" and name == "NextToken":
        _set(params, path, draw(next_tokens(fuzz)))
    else:
        value = hostile(shape, name, typed=replacement == "typed") if shape is not None else JSON_VALUES
        _set(params, path, draw(value))
    return operation, params


# -- bodies that are not a JSON object ---------------------------------------------------------
RAW_BODIES = [
    b"",
    b" ",
    b"\r\n\t",
    b"null",
    b"[]",
    b"0",
    b'"{}"',
    b"{",
    b"}",
    b'{"a":}',
    b"{}}",
    b"{}garbage",
    b"{}{}",
    b'{"a":1,"a":2}',
    b"\xff\xfe\xfd",
    b"\x00{}",
    b"\xef\xbb\xbf{}",
    "{}".encode("utf-16"),
    "{}".encode("utf-32"),
    '{"Title": "é"}'.encode("latin-1"),
    b'{"HITId": "\xff"}',
    b'{"HITId": "\\ud800"}',
    b'{"HITId": "\\u0000"}',
    b'{"MaxResults": ' + b"9" * 5000 + b"}",
    b'{"MaxResults": 1e999999}',
    b'{"MaxResults": -Infinity}',
    b"NaN",
    b"Infinity",
    b"[" * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000,
    b'{"QualificationRequirements": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    b'{"Title": "' + b"A" * 2_000_000 + b'"}',
]
NOT_JSON_OBJECTS = st.one_of(
    st.sampled_from(RAW_BODIES),
    st.binary(max_size=300),
    JSON_VALUES.filter(lambda value: not isinstance(value, dict)).map(encode),
    st.tuples(JSON_VALUES.map(encode), st.integers(0, 100)).map(lambda cut: cut[0][: cut[1]]),
).map(Body)


# -- the properties ------------------------------------------------------------------------------
@FUZZ
@given(operation=st.sampled_from(OPERATIONS), body=NOT_JSON_OBJECTS)
@example(operation="GetAccountBalance", body=Body(b"[" * 100_000))
def test_bodies_that_are_not_json_objects(fuzz: Fuzz, operation: str, body: bytes) -> None:
    response = call(fuzz, operation, body)
    if len(body) > access.API_MAX_BODY:
        assert response.status_code == 413, response.text
        assert response.json()["__type"] == "RequestEntityTooLarge", response.text
    elif response.status_code >= 400 and body.strip():
        assert response.json()["__type"] in ("SerializationException", "RequestError"), response.text


@FUZZ
@given(
    operation=st.sampled_from(OPERATIONS),
    body=st.dictionaries(st.one_of(st.text(max_size=20), st.sampled_from(member_names())), JSON_VALUES, max_size=8),
)
@example(
    operation="CreateHITType",
    body={
        "Title": "\ud800",
        "Description": "A lone surrogate is valid JSON",
        "Reward": "0.05",
        "AssignmentDurationInSeconds": 600,
    },
)
def test_objects_with_random_keys(fuzz: Fuzz, operation: str, body: dict[str, Any]) -> None:
    call(fuzz, operation, encode(body))


@FUZZ
@given(data=st.data(), operation=st.sampled_from(OPERATIONS))
def test_model_members_with_hostile_values(fuzz: Fuzz, data: st.DataObject, operation: str) -> None:
    body = data.draw(hostile_members(input_shape(operation)), label="body")
    extra = data.draw(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=2), label="extra")
    call(fuzz, operation, encode({**extra, **body}))


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_valid_requests_with_one_field_mutated(fuzz: Fuzz, data: st.DataObject) -> None:
    operation, params = data.draw(almost_valid(fuzz), label="request")
    call(fuzz, operation, encode(params))


WRITES = [
    op
    for op in OPERATIONS
    if op
    in (
        "ApproveAssignment",
        "CreateAdditionalAssignmentsForHIT",
        "CreateHIT",
        "CreateHITType",
        "CreateHITWithHITType",
        "DeleteHIT",
        "RejectAssignment",
        "SendBonus",
        "UpdateExpirationForHIT",
        "UpdateHITReviewStatus",
        "UpdateHITTypeOfHIT",
        "CreateWorkerBlock",
        "DeleteWorkerBlock",
        "NotifyWorkers",
        "CreateQualificationType",
        "UpdateQualificationType",
        "DeleteQualificationType",
        "AcceptQualificationRequest",
        "RejectQualificationRequest",
        "AssociateQualificationWithWorker",
        "DisassociateQualificationFromWorker",
        "UpdateNotificationSettings",
    )
]


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_writes_with_one_field_mutated(fuzz: Fuzz, data: st.DataObject) -> None:
    """Where a late refusal (no funds, wrong state, duplicate token) could leave half a transaction."""
    operation, params = data.draw(almost_valid(fuzz, WRITES), label="request")
    call(fuzz, operation, encode(params))


# Values that make each paid operation cost about, or far beyond, the whole starting balance.
COSTS: dict[str, dict[str, list[Any]]] = {
    "CreateHIT": {"Reward": ["10000.00", "9999999999.99", "1666.66"], "MaxAssignments": [999_999_999, 166_666]},
    "CreateHITWithHITType": {"MaxAssignments": [999_999_999, 1_000_000, 5]},
    "CreateAdditionalAssignmentsForHIT": {"NumberOfAdditionalAssignments": [999_999_990, 1_000_000, 5]},
    "SendBonus": {"BonusAmount": ["10000.00", "99999999.99", "8333.33", "8333.34"]},
}


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_paid_writes_with_costs_at_the_edges(fuzz: Fuzz, data: st.DataObject) -> None:
    """A refusal for want of funds comes late: CreateHIT has already registered a new HIT type."""
    operation, params = data.draw(valid_request(fuzz, [op for op in COSTS if op in OPERATIONS]), label="request")
    member = data.draw(st.sampled_from(sorted(COSTS[operation])), label="member")
    params[member] = data.draw(st.sampled_from(COSTS[operation][member]), label="value")
    if operation == "CreateHIT":
        params["Title"] = data.draw(
            st.text(st.characters(codec="ascii"), min_size=1, max_size=20).filter(str.strip), label="Title"
        )
    call(fuzz, operation, encode(params))


def test_fuzz_reaches_every_operation_of_the_model() -> None:
    """A new operation of the model (or one left out of ``implemented()``) fails here until it is fuzzed."""
    assert sorted(OPERATIONS) == sorted(MODEL.operation_names)
    assert sorted(set(LIST_OPERATIONS)) == sorted(
        op for op in MODEL.operation_names if "NextToken" in input_shape(op).members
    )


@settings(FUZZ, max_examples=1)
@given(data=st.data())
def test_valid_table_names_every_operation_of_the_model(fuzz: Fuzz, data: st.DataObject) -> None:
    table = data.draw(valid_table(fuzz))
    assert sorted(table) == sorted(MODEL.operation_names)
    for operation, params in table.items():
        required = input_shape(operation).required_members
        assert set(required) <= set(params), f"{operation} lacks {set(required) - set(params)}"


@FUZZ
@given(data=st.data())
def test_valid_requests_succeed_or_are_refused_cleanly(fuzz: Fuzz, data: st.DataObject) -> None:
    """The unmutated requests, repeated on drifting state (approved twice, deleted, retyped...)."""
    operation, params = data.draw(valid_request(fuzz), label="request")
    call(fuzz, operation, encode(params))


@FUZZ
@given(operation=st.sampled_from(LIST_OPERATIONS), token=st.none() | FORGED_TOKENS, data=st.data())
@example(operation="ListHITs", token=_token({"o": "ListHITs", "k": 1}), data=None)
@example(operation="ListBonusPayments", token=_token({"o": "ListBonusPayments", "k": [1]}), data=None)
def test_forged_pagination_tokens(fuzz: Fuzz, operation: str, token: str | None, data: st.DataObject | None) -> None:
    """A token is opaque to the client but not to the server: the key inside must be checked."""
    if token is None:
        assert data is not None
        token = data.draw(st.sampled_from(sorted(fuzz.next_tokens.values())), label="real token")
    params: dict[str, Any] = {"NextToken": token}
    if operation in ("ListAssignmentsForHIT", "ListBonusPayments", "ListReviewPolicyResultsForHIT"):
        params["HITId"] = fuzz.hits[-1]
    if operation in ("ListWorkersWithQualificationType", "ListHITsForQualificationType"):
        params["QualificationTypeId"] = fuzz.qualification_types[-1]
    if operation == "ListQualificationTypes":
        params["MustBeRequestable"] = False
    call(fuzz, operation, encode(params))


# What HTTP allows in a header value: latin-1 without control characters (tab aside), and no
# surrounding whitespace (the client refuses it; a server would strip it).
CONTROLS = "".join(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_characters=CONTROLS) | st.just("\t"), max_size=80).map(
    lambda text: text.strip(" \t")
)


def _near_miss_targets() -> st.SearchStrategy[str]:
    names = [
        *MODEL.operation_names,
        *(op.lower() for op in OPERATIONS),
        "",
        "Unknown",
        "CreateHIT.Extra",
        "__init__",
        "handlers",
        "create_hit",
    ]
    prefixes = [PREFIX, PREFIX.lower(), PREFIX[:-1], "MTurkRequesterServiceV20140101", "AmazonMTurk", ""]
    return st.builds(
        lambda p, s, n: (p + s + n).strip(),
        st.sampled_from(prefixes),
        st.sampled_from([".", "/", "..", ""]),
        st.sampled_from(names),
    )


@FUZZ
@given(target=st.one_of(st.none(), HEADER_TEXT, _near_miss_targets()))
def test_x_amz_target(fuzz: Fuzz, target: str | None) -> None:
    response = exchange(fuzz, b"{}", target=None if target is None else target.encode("latin-1"))
    prefix, _, name = (target or "").partition(".")
    if prefix == PREFIX and name in MODEL.operation_names:
        assert response.json().get("__type") != "UnknownOperationException", response.text
    else:
        assert response.status_code == 400, response.text
        assert response.json()["__type"] == "UnknownOperationException", response.text


KEY_TEXT = st.text(st.characters(codec="latin-1", exclude_characters=CONTROLS + " \xa0/,"), min_size=0, max_size=30)


@st.composite
def authorization_headers(draw: st.DrawFn) -> str | None:
    scheme = draw(
        st.sampled_from(
            ["AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256", "aws4-hmac-sha256", "AWS4-HMAC-SHA1", "Bearer", "Basic", ""]
        )
    )
    key = draw(st.sampled_from([ACCESS_KEY, OTHER_KEY]) | KEY_TEXT)
    parts = [
        key,
        *draw(
            st.sampled_from(
                [
                    ["20170117", "us-east-1", "mturk-requester", "aws4_request"],
                    ["20170117", "us-east-1", "mturk-requester"],
                    ["", "", "", "aws4_request"],
                    ["20170117", "", "", "", "aws4_request"],
                    ["x", "y", "z", "aws4_request_"],
                ]
            )
        ),
    ]
    signed = draw(st.sampled_from(["host;x-amz-date", "host", ";", "HOST;X-Amz-Date", "é;;"]) | KEY_TEXT)
    signature = draw(
        st.sampled_from(["0" * 64, "a" * 63, "F" * 64, "0" * 65, ""])
        | st.text("0123456789abcdef", min_size=64, max_size=64)
    )
    separator = draw(st.sampled_from([", ", ",", " ", ",\t"]))
    header = f"{scheme} Credential={'/'.join(parts)}{separator}SignedHeaders={signed}{separator}Signature={signature}"
    cut = header[: draw(st.integers(0, 120))].strip()
    return draw(st.one_of(st.none(), st.just(header.strip()), HEADER_TEXT, st.just(cut)))


@FUZZ
@given(header=authorization_headers())
def test_authorization_header_in_open_mode(fuzz: Fuzz, header: str | None) -> None:
    response = exchange(
        fuzz, b"{}", target=f"{PREFIX}.GetAccountBalance", auth=None if header is None else header.encode("latin-1")
    )
    if not header:
        assert response.status_code == 403, response.text
        assert response.json()["__type"] == "MissingAuthenticationTokenException", response.text
    elif response.status_code != 200:
        assert response.status_code == 403, response.text
    else:
        assert re.match(r"AWS4-HMAC-SHA256\s+Credential=[^/]+/", header), response.text


# -- sigv4 mode: signatures are checked, so only a true signature may pass -------------------------
@pytest.fixture(scope="module")
def sigv4() -> Iterator[tuple[Fuzz, Credentials]]:
    with (
        ServerProcess(auth="sigv4", virtual_clock=False, extra_args=quiet_serve_args()) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as http,
    ):
        keys = cli_keys(server.db_url, "requesters", "create", "fuzz")
        yield (
            Fuzz(
                server=server,
                http=http,
                hits=[],
                hit_types=[],
                assignments=[],
                foreign_ids=[],
                next_tokens={},
                log_seen=len(server.log()),
            ),
            Credentials(keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"]),
        )


def signed_headers(server: ServerProcess, credentials: Credentials, body: bytes, **extra: str) -> dict[str, str]:
    """botocore's signature over ``body`` and every header given (the target and content type unless
    ``extra`` sets one to "": then that header is left out of the signature)."""
    headers = {"X-Amz-Target": f"{PREFIX}.GetAccountBalance", "Content-Type": CONTENT_TYPE, **extra}
    request = AWSRequest(
        "POST", server.base_url + "/", data=body, headers={name: value for name, value in headers.items() if value}
    )
    SigV4Auth(credentials, "mturk-requester", "us-east-1").add_auth(request)
    return dict(request.headers.items())


# The exact refusal for each way of tampering with a true signature ("none" must pass).
TAMPER_REFUSALS = {
    "date": {"IncompleteSignatureException", "InvalidSignatureException"},  # malformed, or expired
    "signed": {"InvalidSignatureException"},
    "signature": {"InvalidSignatureException"},
    "credential": {"IncompleteSignatureException", "UnrecognizedClientException"},  # malformed, or unknown key
    "garbage": {"MissingAuthenticationTokenException", "IncompleteSignatureException"},  # empty, or not SigV4
}


@FUZZ
@given(data=st.data())
def test_tampered_signatures_in_sigv4_mode(sigv4: tuple[Fuzz, Credentials], data: st.DataObject) -> None:
    fuzz, credentials = sigv4
    headers = signed_headers(fuzz.server, credentials, b"{}")
    authorization_value = headers["Authorization"]
    tamper = data.draw(st.sampled_from(["none", *TAMPER_REFUSALS]), label="tamper")
    if tamper == "date":
        headers["X-Amz-Date"] = data.draw(
            st.sampled_from(["", "20170117", "19700101T000000Z", "99991231T235959Z", "20241301T250000Z"])
            | HEADER_TEXT.filter(str.strip)
        )
    elif tamper == "signed":
        signed = data.draw(
            st.sampled_from(
                ["x-amz-date", "host;;", ";", "é;host", "host;x-amz-target;x-nope", "content-length;host;x-amz-date"]
            )
            | KEY_TEXT.filter(bool)
        )
        authorization_value = re.sub(r"SignedHeaders=[^,]+", lambda _: f"SignedHeaders={signed}", authorization_value)
    elif tamper == "signature":
        signature = data.draw(st.text("0123456789abcdef", min_size=64, max_size=64))
        authorization_value = re.sub(r"Signature=\w+", lambda _: f"Signature={signature}", authorization_value)
    elif tamper == "credential":
        credential = "/".join(data.draw(st.lists(KEY_TEXT, min_size=5, max_size=5)))
        authorization_value = re.sub(r"Credential=[^,]+", lambda _: f"Credential={credential}", authorization_value)
    elif tamper == "garbage":
        authorization_value = data.draw(HEADER_TEXT)
    del headers["Authorization"], headers["Content-Type"]
    response = exchange(
        fuzz,
        b"{}",
        target=headers.pop("X-Amz-Target"),
        auth=authorization_value.encode("latin-1"),
        extra_headers=headers,
    )
    if tamper == "none":
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["__type"] in TAMPER_REFUSALS[tamper], response.text


@pytest.mark.parametrize("alteration", ["another body", "unsigned payload", "target not signed"])
def test_a_captured_request_cannot_be_altered_in_sigv4_mode(sigv4: tuple[Fuzz, Credentials], alteration: str) -> None:
    """Each of these passed before the server hashed the body itself and required X-Amz-Target signed."""
    fuzz, credentials = sigv4
    body = b"{}"
    if alteration == "another body":
        # The client's own X-Amz-Content-SHA256, signed, used to stand for whatever body came with it.
        claimed = hashlib.sha256(body).hexdigest()
        headers = signed_headers(fuzz.server, credentials, body, **{"X-Amz-Content-SHA256": claimed})
        body = b"{ }"
    elif alteration == "unsigned payload":
        headers = signed_headers(fuzz.server, credentials, body, **{"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    else:
        headers = signed_headers(fuzz.server, credentials, body, **{"X-Amz-Target": ""})
        headers["X-Amz-Target"] = f"{PREFIX}.ListHITs"
    authorization_value = headers.pop("Authorization")
    headers.pop("Content-Type")
    response = exchange(
        fuzz,
        body,
        target=headers.pop("X-Amz-Target"),
        auth=authorization_value.encode("latin-1"),
        extra_headers=headers,
    )
    assert response.status_code == 403, response.text
    assert response.json()["__type"] == "InvalidSignatureException", response.text
