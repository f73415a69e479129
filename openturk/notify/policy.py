"""Destination policies: write the one MTurk's guidance describes, and check the ones requesters bring.

MTurk's guidance (spec §5, seed 000): allow exactly the sending principal (MTurk's was
``arn:aws:iam::755651556756:user/MTurk-SQS``) to call ``SQS:SendMessage``, only when
``aws:SecureTransport`` is true, and nothing else. openturk sends as its own configured identity, so
``queue_policy`` writes that shape for that ARN, and ``topic_policy`` its ``SNS:Publish`` twin.

``check_policy`` reads a policy as IAM would for one request -- the sender delivering over HTTPS.
Errors mean openturk cannot deliver, or anyone may act on the destination: ``destination-missing``,
``destination-unreadable``, ``policy-invalid``, ``sender-denied`` (an explicit Deny applies),
``sender-not-allowed`` (a sender from another account, and no Allow applies), ``public-access``
(Principal "*", a wildcard ARN or NotPrincipal, with no condition narrowing who calls). Warnings are
departures from least privilege or outcomes only AWS can decide: ``extra-actions``,
``other-principals`` (MTurk: then consumers must check every message's SenderId),
``insecure-transport-allowed``, ``sender-maybe-allowed`` / ``sender-maybe-denied`` (keys such as
``aws:SourceIp``), ``sender-allowed-by-iam-only`` (same account, no Allow: the sender's own IAM
policy decides, and this check cannot read it).

Covered: Principal/NotPrincipal, Action/NotAction, Resource/NotResource, wildcards, and the
String/Arn/Bool/Null operators with IfExists and ForAnyValue/ForAllValues. Any other operator on a
key the request carries is "cannot decide", never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["SQS", "SNS"]
Level = Literal["error", "warning"]
Code = Literal[
    "destination-missing",
    "destination-unreadable",
    "policy-invalid",
    "sender-denied",
    "sender-not-allowed",
    "public-access",
    "sender-maybe-denied",
    "sender-maybe-allowed",
    "sender-allowed-by-iam-only",
    "insecure-transport-allowed",
    "extra-actions",
    "other-principals",
]
Tri = bool | None  # True: holds; False: cannot hold; None: depends on what only AWS sees

DEFAULT_SENDER_ARN = "arn:aws:iam::123456789012:user/openturk"
POLICY_VERSION = "2012-10-17"  # the seed's example says 2008-10-17; both are valid, this is current
SEND_ACTION: dict[Kind, str] = {"SQS": "SQS:SendMessage", "SNS": "SNS:Publish"}
_SENDER = re.compile(r"^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(.+)\Z")

# Keys that, compared positively, narrow *who* the caller is; any other condition leaves "*" open.
_NARROWING_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourceip",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:userid",
        "aws:username",
    }
)
_POSITIVE_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"}
)
# Only a service acting on someone's behalf adds these; openturk calls directly, so they are absent.
_ABSENT_KEYS = frozenset(
    {"aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths", "aws:principalservicename"}
)


@dataclass(frozen=True)
class Finding:
    """One thing ``check_policy`` noticed; ``level`` "error" means the destination is not fit for use."""

    level: Level
    code: Code
    message: str


def check_sender_arn(sender_arn: str) -> None:
    """Raise ``ValueError`` unless ``sender_arn`` is an IAM user/role ARN a policy can name."""
    _Sender.parse(sender_arn)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(finding.level == "error" for finding in findings)


def queue_policy(queue_arn: str, sender_arn: str) -> dict[str, Any]:
    """The policy MTurk's guidance describes: only ``sender_arn`` may SendMessage, only over HTTPS.

    Raises ValueError if ``sender_arn`` is not an IAM or STS principal ARN.
    """
    return _only_sender_policy(queue_arn, sender_arn, "SQS")


def topic_policy(topic_arn: str, sender_arn: str) -> dict[str, Any]:
    """``queue_policy``'s SNS twin: only ``sender_arn`` may Publish, only over HTTPS.

    It replaces SNS's default policy, so the owner account keeps its other rights through IAM only.
    """
    return _only_sender_policy(topic_arn, sender_arn, "SNS")


def _only_sender_policy(resource_arn: str, sender_arn: str, kind: Kind) -> dict[str, Any]:
    _Sender.parse(sender_arn)
    return {
        "Version": POLICY_VERSION,
        "Id": f"{resource_arn}/OpenturkOnlyPolicy",
        "Statement": [
            {
                "Sid": "OpenturkOnlyPolicy",
                "Effect": "Allow",
                "Principal": {"AWS": sender_arn},
                "Action": SEND_ACTION[kind],
                "Resource": resource_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }


@dataclass(frozen=True)
class _Sender:
    arn: str
    partition: str
    account: str
    names: tuple[str, ...]  # the ARNs a policy may use for it: itself, and a session's role
    principal_type: str
    username: str | None

    @classmethod
    def parse(cls, arn: str) -> _Sender:
        match = _SENDER.match(arn)
        if not match:
            raise ValueError(
                f"sender ARN {arn!r} is not an IAM or STS principal ARN (arn:aws:iam::<account>:user/<name>)"
            )
        partition, service, account, resource = match.groups()
        names: tuple[str, ...] = (arn,)
        principal_type, username = "User", None
        if service == "sts" and resource.startswith("assumed-role/"):
            # A role session is named in policies by its role's ARN.
            names += (f"arn:{partition}:iam::{account}:role/{resource.split('/')[1]}",)
            principal_type = "AssumedRole"
        elif resource.startswith("user/"):
            username = resource.rsplit("/", 1)[1]
        return cls(arn, partition, account, names, principal_type, username)

    def context(self, kind: Kind, secure: bool) -> dict[str, list[str]]:
        values = {
            "aws:securetransport": ["true" if secure else "false"],
            "aws:principalarn": [self.names[-1]],
            "aws:principalaccount": [self.account],
            "aws:principaltype": [self.principal_type],
        }
        if self.username:
            values["aws:username"] = [self.username]
        if kind == "SNS":
            # SNS's own legacy key: the caller's account (its default policy limits Publish with it).
            values["aws:sourceowner"] = [self.account]
        return values


@dataclass(frozen=True)
class _Request:
    sender: _Sender
    action: str
    resource: str
    context: dict[str, list[str]]


def check_policy(policy: Mapping[str, Any] | None, resource_arn: str, sender_arn: str, kind: Kind) -> list[Finding]:
    """Whether ``policy`` on ``resource_arn`` lets ``sender_arn`` deliver, and nothing more; errors first.

    ``None`` means the resource has no policy. Raises ValueError for a malformed ``sender_arn``
    or an unknown ``kind``; a malformed policy is a ``policy-invalid`` finding instead.
    """
    if kind not in SEND_ACTION:
        raise ValueError(f"kind must be SQS or SNS, not {kind!r}")
    sender = _Sender.parse(sender_arn)
    statements: list[Mapping[str, Any]] = []
    if policy is not None:
        problem = _invalid(policy)
        if problem:
            return [Finding("error", "policy-invalid", problem)]
        statements = _list(policy["Statement"])
    request = _Request(sender, SEND_ACTION[kind].lower(), resource_arn, sender.context(kind, secure=True))
    findings = _sender_findings(statements, request, kind, has_policy=policy is not None)
    for index, statement in enumerate(statements):
        if statement["Effect"] == "Allow" and _matches(statement, "Resource", resource_arn, ignore_case=False):
            findings += _breadth_findings(statement, _sid(statement, index), request, kind)
    return sorted(findings, key=lambda finding: finding.level != "error")


def _invalid(policy: Any) -> str | None:
    if not isinstance(policy, Mapping) or not isinstance(policy.get("Statement"), (list, dict)):
        return "the policy has no Statement list"
    for index, statement in enumerate(_list(policy["Statement"])):
        if not isinstance(statement, Mapping):
            return f"statement #{index + 1} is not an object"
        sid = _sid(statement, index)
        if statement.get("Effect") not in ("Allow", "Deny"):
            return f"statement {sid} has Effect {statement.get('Effect')!r}, not Allow or Deny"
        for pair in (("Principal", "NotPrincipal"), ("Action", "NotAction")):
            if (pair[0] in statement) == (pair[1] in statement):
                return f"statement {sid} needs exactly one of {pair[0]} and {pair[1]}"
    return None


def _sender_findings(
    statements: list[Mapping[str, Any]], request: _Request, kind: Kind, has_policy: bool
) -> list[Finding]:
    who, action = request.sender.arn, SEND_ACTION[kind]
    denied = _decide(statements, request, "Deny")
    if denied[0] is True:
        return [Finding("error", "sender-denied", f"statement {denied[1]} denies {who} {action}")]
    findings = []
    if denied[0] is None:
        findings.append(
            Finding(
                "warning",
                "sender-maybe-denied",
                f"statement {denied[1]} denies {who} {action} if {denied[2]} holds, which only AWS can tell",
            )
        )
    allowed = _decide(statements, request, "Allow")
    if allowed[0] is None:
        findings.append(
            Finding(
                "warning",
                "sender-maybe-allowed",
                f"statement {allowed[1]} allows {who} {action} only if {allowed[2]} holds, which only AWS can tell",
            )
        )
    elif allowed[0] is False:
        where = "the destination has no policy" if not has_policy else "no statement allows it"
        why = "".join(f"; {miss}" for miss in _near_misses(statements, request))
        if request.sender.account == _account(request.resource):
            findings.append(
                Finding(
                    "warning",
                    "sender-allowed-by-iam-only",
                    f"{where}: {who} can {action} only if its own IAM policy allows it{why}",
                )
            )
        else:
            findings.append(
                Finding("error", "sender-not-allowed", f"{where}: {who} cannot {action} from another account{why}")
            )
    if allowed[0] is not False:
        insecure = _Request(
            request.sender, request.action, request.resource, request.sender.context(kind, secure=False)
        )
        # Nothing requiring TLS is exactly when the same request over plain HTTP would also get through.
        if (
            _decide(statements, insecure, "Deny")[0] is not True
            and _decide(statements, insecure, "Allow")[0] is not False
        ):
            findings.append(
                Finding(
                    "warning",
                    "insecure-transport-allowed",
                    f'{who} may {action} without TLS: add Bool aws:SecureTransport "true"',
                )
            )
    return findings


def _breadth_findings(statement: Mapping[str, Any], sid: str, request: _Request, kind: Kind) -> list[Finding]:
    actions = _extra_actions(statement, kind)
    anyone, others = _grantees(statement, request.sender)
    narrowed = _narrowed(statement.get("Condition"))
    if anyone and not narrowed:
        granted = ", ".join(_strings(statement.get("Action"))) or actions[0]
        return [
            Finding(
                "error",
                "public-access",
                f"statement {sid} lets anyone call {granted}: anyone could forge or read notifications",
            )
        ]
    findings = []
    if anyone or others:
        grantees = ", ".join((["* (narrowed by its Condition)"] if anyone else []) + others)
        findings.append(
            Finding(
                "warning",
                "other-principals",
                f"statement {sid} also grants {grantees}: consumers must check each message's SenderId",
            )
        )
    if actions:
        findings.append(
            Finding(
                "warning", "extra-actions", f"statement {sid} allows {', '.join(actions)} beyond {SEND_ACTION[kind]}"
            )
        )
    return findings


def _extra_actions(statement: Mapping[str, Any], kind: Kind) -> list[str]:
    if "NotAction" in statement:
        return [f"every action except {', '.join(_strings(statement['NotAction']))}"]
    service = kind.lower()
    return [
        action
        for action in _strings(statement.get("Action"))
        if action.lower() != SEND_ACTION[kind].lower()
        and (action == "*" or _glob(action.split(":", 1)[0], service, ignore_case=True))
    ]


def _grantees(statement: Mapping[str, Any], sender: _Sender) -> tuple[bool, list[str]]:
    """(whether anyone at all is granted, the grantees other than the sender)."""
    if "NotPrincipal" in statement:
        return True, []
    principal = statement.get("Principal")
    if principal == "*":
        return True, []
    anyone, others = False, []
    for kind, names in principal.items() if isinstance(principal, Mapping) else []:
        for name in _strings(names):
            if "*" in name or "?" in name:
                anyone = True
            elif kind != "AWS":
                others.append(f"{kind} {name}")
            elif name not in sender.names:
                whole = name.isdigit() or name.endswith(":root")
                others.append(f"{name} (every identity of that account)" if whole else name)
    return anyone, others


def _narrowed(condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        return False
    for operator, clauses in condition.items():
        base = _operator(operator)[1]
        if operator.lower().endswith("ifexists") or base not in _POSITIVE_OPERATORS:
            continue
        for key, values in clauses.items() if isinstance(clauses, Mapping) else []:
            if key.lower() in _NARROWING_KEYS and any(value.strip("*") for value in _strings(values)):
                return True
    return False


def _decide(statements: list[Mapping[str, Any]], request: _Request, effect: str) -> tuple[Tri, str, str]:
    """Whether any ``effect`` statement applies: (outcome, its Sid, the undecidable condition if any)."""
    maybe: tuple[Tri, str, str] = (False, "", "")
    for index, statement in enumerate(statements):
        if statement["Effect"] != effect:
            continue
        outcome, reason = _applies(statement, request)
        if outcome is True:
            return True, _sid(statement, index), ""
        if outcome is None and maybe[0] is False:
            maybe = (None, _sid(statement, index), reason)
    return maybe


def _applies(statement: Mapping[str, Any], request: _Request) -> tuple[Tri, str]:
    if not (
        _principal_matches(statement, request.sender)
        and _matches(statement, "Action", request.action, ignore_case=True)
        and _matches(statement, "Resource", request.resource, ignore_case=False)
    ):
        return False, ""
    return _conditions(statement.get("Condition"), request.context)


def _near_misses(statements: list[Mapping[str, Any]], request: _Request) -> list[str]:
    """Why each Allow naming the sender and its action does not apply (the seed's Resource pitfall)."""
    misses = []
    for index, statement in enumerate(statements):
        if (
            statement["Effect"] != "Allow"
            or not _principal_matches(statement, request.sender)
            or not _matches(statement, "Action", request.action, ignore_case=True)
        ):
            continue
        sid = _sid(statement, index)
        if not _matches(statement, "Resource", request.resource, ignore_case=False):
            misses.append(f"the Resource of statement {sid} does not cover {request.resource}")
        else:
            clause = _conditions(statement.get("Condition"), request.context)[1]
            misses.append(f"the condition {clause} of statement {sid} cannot hold for its requests")
    return misses


def _principal_matches(statement: Mapping[str, Any], sender: _Sender) -> bool:
    if "NotPrincipal" in statement:
        return not _names_sender(statement["NotPrincipal"], sender)
    return _names_sender(statement.get("Principal"), sender)


def _names_sender(principal: Any, sender: _Sender) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    root = f"arn:{sender.partition}:iam::{sender.account}:root"
    for name in _strings(principal.get("AWS")):
        # An account principal delegates to that account's IAM, so it covers the sender.
        if name == sender.account or any(_glob(name, own, ignore_case=False) for own in (*sender.names, root)):
            return True
    return False


def _matches(statement: Mapping[str, Any], field: str, value: str, ignore_case: bool) -> bool:
    negated = f"Not{field}"
    if negated in statement:
        return not any(_glob(pattern, value, ignore_case) for pattern in _strings(statement[negated]))
    if field not in statement:
        return True  # a resource policy without Resource covers the resource it is attached to
    return any(_glob(pattern, value, ignore_case) for pattern in _strings(statement[field]))


def _conditions(block: Any, context: dict[str, list[str]]) -> tuple[Tri, str]:
    """All clauses must hold (AND); the first clause that cannot hold, or cannot be decided, is named."""
    if block is None:
        return True, ""
    if not isinstance(block, Mapping):
        return None, "an unreadable Condition"
    outcome: tuple[Tri, str] = (True, "")
    for operator, clauses in block.items():
        for key, values in clauses.items() if isinstance(clauses, Mapping) else [("?", [])]:
            held = _clause(operator, key.lower(), _strings(values), context)
            if held is False:
                return False, f"{operator} {key}"
            if held is None and outcome[0] is True:
                outcome = (None, f"{operator} {key}")
    return outcome


# Negated operators reuse their positive test (StringNotLike is "not StringLike"); ArnEquals takes wildcards too.
_TESTS: dict[str, Callable[[str, str], bool]] = {
    "stringequals": lambda actual, wanted: actual == wanted,
    "stringequalsignorecase": lambda actual, wanted: actual.lower() == wanted.lower(),
    "stringlike": lambda actual, wanted: _glob(wanted, actual, ignore_case=False),
    "arnequals": lambda actual, wanted: _glob(wanted, actual, ignore_case=False),
    "arnlike": lambda actual, wanted: _glob(wanted, actual, ignore_case=False),
    "bool": lambda actual, wanted: actual.lower() == wanted.lower(),
}


def _operator(operator: str) -> tuple[str, str]:
    """('forallvalues' | 'foranyvalue' | '', the base operator without IfExists), lower-cased."""
    qualifier, _, base = operator.lower().rpartition(":")
    return qualifier, base.removesuffix("ifexists")


def _clause(operator: str, key: str, expected: list[str], context: dict[str, list[str]]) -> Tri:
    qualifier, base = _operator(operator)
    negated = base.startswith(("stringnot", "arnnot", "numericnot", "datenot")) or base == "notipaddress"
    if key in context:
        actual: list[str] | None = context[key]
    elif key in _ABSENT_KEYS:
        actual = None
    else:
        return None
    if base == "null":
        return (actual is None) == any(value.lower() == "true" for value in expected)
    if actual is None:
        # IAM: a missing key fails every test except negated ones, IfExists and ForAllValues.
        return negated or operator.lower().endswith("ifexists") or qualifier == "forallvalues"
    test = _TESTS.get(base.replace("not", "", 1) if negated else base)
    if test is None:
        return None
    hit = any(test(value, wanted) for value in actual for wanted in expected)
    return not hit if negated else hit


def _glob(pattern: str, text: str, ignore_case: bool) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one; nothing else is special."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item).lower() if isinstance(item, bool) else str(item) for item in _list(value)]


def _sid(statement: Mapping[str, Any], index: int) -> str:
    return repr(statement["Sid"]) if statement.get("Sid") else f"#{index + 1}"


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""
