"""HIT types and HITs: create, read, list, extend, expire, retype, review, delete."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from openturk import expiry, transitions
from openturk.domain import ids, layouts, lifecycle, money, qualifications, questions, review_policies
from openturk.domain.model import HIT, HITType, SlotCounts
from openturk.errors import (
    HITDoesNotExist,
    HITTypeDoesNotExist,
    InvalidHITState,
    InvalidParameterValue,
    ParameterOutOfRange,
)
from openturk.requester import idempotency, paging
from openturk.requester.context import Context
from openturk.requester.registry import operation
from openturk.store.qualifications import QualificationRepository
from openturk.store.repository import Repository

MIN_DURATION_S, MAX_DURATION_S = 30, 31_536_000
MAX_AUTO_APPROVAL_S = 2_592_000
MAX_ASSIGNMENTS = 1_000_000_000
# MTurk moved a HIT's expiration by an increment (ExpireAt − the current Expiration, or − now once it
# expired) of 60 s to a year, and refused any other (aws/aws-sdk-java#1817, aws/aws-sdk-ruby#2065).
EXPIRATION_INCREMENT_S = (60, 31_536_000)
LIMITS = {"Title": 128, "Description": 2000, "Keywords": 1000, "RequesterAnnotation": 255}


def _in_range(params: dict[str, Any], field: str, low: int, high: int) -> None:
    value = params.get(field)
    if value is not None and not low <= value <= high:
        raise ParameterOutOfRange(f"Value {value} for {field} is out of range; it must be between {low} and {high}.")


def _check_lengths(params: dict[str, Any]) -> None:
    for field, limit in LIMITS.items():
        value = params.get(field)
        if value is not None and len(value) > limit:
            raise ParameterOutOfRange(f"Value for {field} must be at most {limit} characters.")
    for field in ("Title", "Description"):
        if field in params and not params[field].strip():
            raise InvalidParameterValue(f"Value for {field} must not be empty.")


# -- wire shapes -------------------------------------------------------------------------------
def hit_to_wire(hit: HIT, hit_type: HITType, counts: SlotCounts) -> dict[str, Any]:
    """Every field real MTurk returned, including empty lists and defaults clients depend on."""
    return {
        "HITId": hit.hit_id,
        "HITTypeId": hit.hit_type_id,
        "HITGroupId": hit.hit_type_id,
        "HITLayoutId": hit.hit_layout_id,
        "CreationTime": hit.creation_time,
        "Title": hit_type.title,
        "Description": hit_type.description,
        "Question": hit.question,
        "Keywords": hit_type.keywords or "",
        "HITStatus": hit.status,
        "MaxAssignments": hit.max_assignments,
        "Reward": money.format_amount(hit_type.reward_cents),
        "AutoApprovalDelayInSeconds": hit_type.auto_approval_delay_s,
        "Expiration": hit.expiration,
        "AssignmentDurationInSeconds": hit_type.assignment_duration_s,
        "RequesterAnnotation": hit.requester_annotation,
        "QualificationRequirements": hit_type.qualification_requirements,
        "HITReviewStatus": hit.review_status,
        "NumberOfAssignmentsPending": counts.pending,
        "NumberOfAssignmentsAvailable": counts.available(hit.max_assignments),
        "NumberOfAssignmentsCompleted": counts.completed,
    }


def hits_to_wire(repo: Repository, hits: list[HIT]) -> list[dict[str, Any]]:
    types = repo.hit_types_by_id(hit.hit_type_id for hit in hits)
    counts = repo.slot_counts([hit.hit_id for hit in hits])
    return [hit_to_wire(hit, types[hit.hit_type_id], counts[hit.hit_id]) for hit in hits]


# -- lookups -------------------------------------------------------------------------------------
def owned_hit(repo: Repository, ctx: Context, hit_id: str, *, lock_at: int | None = None) -> HIT:
    """The caller's HIT; another requester's HIT answers like a missing one (DECISION).

    With ``lock_at`` the HIT is locked for a transition at that time, its passed expiry applied first
    (``expiry.catch_up``).
    """
    hit = repo.hit(hit_id, for_update=lock_at is not None)
    if hit is None or hit.customer_id != ctx.customer_id:
        raise HITDoesNotExist(f"Hit {hit_id} does not exist.")
    return hit if lock_at is None else expiry.catch_up(repo, hit, lock_at)


def owned_hit_type(repo: Repository, ctx: Context, hit_type_id: str) -> HITType:
    hit_type = repo.hit_type(hit_type_id)
    if hit_type is None or hit_type.customer_id != ctx.customer_id:
        raise HITTypeDoesNotExist(f"HIT type {hit_type_id} does not exist.")
    return hit_type


# -- HIT types -----------------------------------------------------------------------------------
def _hit_type_from(params: dict[str, Any], ctx: Context) -> HITType:
    _in_range(params, "AssignmentDurationInSeconds", MIN_DURATION_S, MAX_DURATION_S)
    _in_range(params, "AutoApprovalDelayInSeconds", 0, MAX_AUTO_APPROVAL_S)
    _check_lengths(params)
    requirements = params.get("QualificationRequirements", [])
    qualifications.validate(requirements)
    return HITType(
        hit_type_id=ids.entity_id(),
        customer_id=ctx.customer_id,
        title=params["Title"],
        description=params["Description"],
        keywords=params.get("Keywords"),
        reward_cents=money.parse_amount(params["Reward"], "Reward", ctx.settings.minimum_reward_cents),
        assignment_duration_s=params["AssignmentDurationInSeconds"],
        auto_approval_delay_s=params.get("AutoApprovalDelayInSeconds", MAX_AUTO_APPROVAL_S),
        qualification_requirements=requirements,
    )


def _check_requirement_types(conn: Connection, ctx: Context, requirements: list[dict[str, Any]]) -> None:
    """Requirements name system types or the caller's own Active types (a deleted type's HIT types are
    unusable, as MTurk deleted them)."""
    custom = qualifications.custom_type_ids(requirements)
    qualifications.check_types(requirements, QualificationRepository(conn).statuses(ctx.customer_id, custom))


def _digest(hit_type: HITType) -> str:
    """What makes two HIT types the same: their properties, each default written out or left out
    alike ("If you register a HIT type with values that match an existing HIT type, the HIT type ID
    of the existing type will be returned"). A default is normalised to its omission, the form the
    digests stored before this normalisation were made from."""
    properties = [
        hit_type.title,
        hit_type.description,
        hit_type.keywords or None,  # Keywords "" reads back as no keywords
        hit_type.reward_cents,
        hit_type.assignment_duration_s,
        hit_type.auto_approval_delay_s,
        [_without_defaults(requirement) for requirement in hit_type.qualification_requirements],
    ]
    return hashlib.sha256(json.dumps(properties, sort_keys=True).encode()).hexdigest()


def _without_defaults(requirement: Mapping[str, Any]) -> dict[str, Any]:
    """A QualificationRequirement without the members that only restate the default: ActionsGuarded
    Accept (what guards an omitted one), RequiredToPreview false."""
    kept = dict(requirement)
    if kept.get("RequiredToPreview") is False:
        del kept["RequiredToPreview"]
    if kept.get("ActionsGuarded") == "Accept" and "RequiredToPreview" not in kept:
        del kept["ActionsGuarded"]
    return kept


def _register_hit_type(repo: Repository, candidate: HITType, now: int) -> HITType:
    """The caller's HIT type with exactly these properties, created if there is none."""
    digest = _digest(candidate)
    existing = repo.hit_type_by_digest(candidate.customer_id, digest)
    if existing is not None:
        return existing
    try:
        with repo.conn.begin_nested():
            repo.insert_hit_type(candidate, digest, now)
    except IntegrityError:
        # Another process registered the same properties first: theirs is the answer.
        existing = repo.hit_type_by_digest(candidate.customer_id, digest)
        if existing is None:
            raise
        return existing
    return candidate


@operation("CreateHITType")
def create_hit_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    candidate = _hit_type_from(params, ctx)
    with ctx.db.write() as conn:
        _check_requirement_types(conn, ctx, candidate.qualification_requirements)
        hit_type = _register_hit_type(Repository(conn), candidate, ctx.clock.now_ms())
    return {"HITTypeId": hit_type.hit_type_id}


# -- HITs ----------------------------------------------------------------------------------------
@operation("CreateHIT")
def create_hit(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    candidate = _hit_type_from(params, ctx)
    return _create(ctx, params, "CreateHIT", candidate=candidate)


@operation("CreateHITWithHITType")
def create_hit_with_hit_type(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _create(ctx, params, "CreateHITWithHITType", hit_type_id=params["HITTypeId"])


def _question_of(params: dict[str, Any]) -> str | None:
    """The checked Question, or None when the HIT is to be made from a layout (rendered in the transaction)."""
    if "HITLayoutId" in params:
        if "Question" in params:
            raise InvalidParameterValue("Give either Question or HITLayoutId, not both.")
        return None
    if "HITLayoutParameters" in params:
        raise InvalidParameterValue("HITLayoutParameters needs a HITLayoutId.")
    if "Question" not in params:
        raise InvalidParameterValue("The request must contain either Question or HITLayoutId.")
    questions.parse_question(params["Question"])
    return str(params["Question"])


def _rendered_layout(repo: Repository, ctx: Context, params: dict[str, Any]) -> str:
    """The Question a HITLayoutId and its HITLayoutParameters make; another requester's layout is missing."""
    layout = repo.hit_layout(params["HITLayoutId"])
    if layout is None or layout.customer_id != ctx.customer_id:
        raise InvalidParameterValue(f"HITLayoutId {params['HITLayoutId']} does not exist.")
    question = layouts.render(layout, params.get("HITLayoutParameters", []))
    questions.parse_question(question)
    return question


def _create(
    ctx: Context,
    params: dict[str, Any],
    operation: str,
    *,
    candidate: HITType | None = None,
    hit_type_id: str | None = None,
) -> dict[str, Any]:
    _in_range(params, "LifetimeInSeconds", MIN_DURATION_S, MAX_DURATION_S)
    _in_range(params, "MaxAssignments", 1, MAX_ASSIGNMENTS)
    _check_lengths(params)
    question = _question_of(params)
    token = params.get("UniqueRequestToken")
    for level in ("AssignmentReviewPolicy", "HITReviewPolicy"):
        if level in params:
            review_policies.check(level, params[level])
    policies = tuple(
        json.dumps(params[name]) if name in params else None for name in ("AssignmentReviewPolicy", "HITReviewPolicy")
    )
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        idempotency.check(repo, ctx.customer_id, token, now)
        if candidate is not None:
            hit_type = _register_hit_type(repo, candidate, now)
        else:
            assert hit_type_id is not None
            hit_type = owned_hit_type(repo, ctx, hit_type_id)
        _check_requirement_types(conn, ctx, hit_type.qualification_requirements)
        hit = HIT(
            hit_id=ids.entity_id(),
            customer_id=ctx.customer_id,
            hit_type_id=hit_type.hit_type_id,
            question=question if question is not None else _rendered_layout(repo, ctx, params),
            hit_layout_id=params.get("HITLayoutId"),
            hit_layout_parameters=tuple((p["Name"], p["Value"]) for p in params.get("HITLayoutParameters", [])),
            max_assignments=params.get("MaxAssignments", 1),
            status="Assignable",
            review_status="NotReviewed",
            creation_time=now,
            expiration=now + params["LifetimeInSeconds"] * 1000,
            expiry_processed=False,
            requester_annotation=params.get("RequesterAnnotation"),
        )
        hit, events = lifecycle.create(hit, now)
        idempotency.remember(repo, ctx.customer_id, token, operation, hit.hit_id, ctx.request_id, now)
        # Last: it reserves the escrow, which locks the requester's row until the commit (transitions.record_new).
        transitions.record_new(repo, hit, hit_type, events, now, policies)  # type: ignore[arg-type]
        return {"HIT": hit_to_wire(hit, hit_type, SlotCounts())}


@operation("GetHIT")
def get_hit(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        repo = Repository(conn)
        hit = owned_hit(repo, ctx, params["HITId"])
        return {"HIT": hits_to_wire(repo, [hit])[0]}


@operation("ListHITs")
def list_hits(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        repo = Repository(conn)
        page, token = paging.paginate(
            params,
            "ListHITs",
            lambda after, limit: repo.hits_page(ctx.customer_id, tuple(after) if after else None, limit),
            lambda hit: [hit.creation_time, hit.hit_id],
            [0, ""],
        )
        return {"NextToken": token, "NumResults": len(page), "HITs": hits_to_wire(repo, page)}


@operation("ListReviewableHITs")
def list_reviewable_hits(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    status = params.get("Status", "Reviewable")
    with ctx.db.read() as conn:
        repo = Repository(conn)
        hit_type_id = params.get("HITTypeId")
        page, token = paging.paginate(
            params,
            "ListReviewableHITs",
            lambda after, limit: repo.hits_page(
                ctx.customer_id, tuple(after) if after else None, limit, statuses=[status], hit_type_id=hit_type_id
            ),
            lambda hit: [hit.creation_time, hit.hit_id],
            [0, ""],
        )
        # Only the HITIds, as MTurk answered ("By default, ListReviewableHITs operation only returns
        # the IDs of HITs"; a real answer in aws/aws-sdk-js#2522): GetHIT gives the rest.
        return {"NextToken": token, "NumResults": len(page), "HITs": [{"HITId": hit.hit_id} for hit in page]}


@operation("UpdateHITReviewStatus")
def update_hit_review_status(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    revert = params.get("Revert", False)
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        hit = owned_hit(repo, ctx, params["HITId"], lock_at=now)
        changed = lifecycle.set_review_status(hit, revert)
        if changed is None:
            allowed = "Reviewing" if revert else "Reviewable"
            raise InvalidHITState(
                f"This HIT is currently in the state '{hit.status}'.  "
                f"This operation can be called with a status of: {allowed}"
            )
        repo.save_hit(changed)
    return {}


@operation("UpdateExpirationForHIT")
def update_expiration_for_hit(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        hit = owned_hit(repo, ctx, params["HITId"], lock_at=now)
        if hit.status == "Disposed":
            raise InvalidHITState(f"This HIT is currently in the state '{hit.status}'.")
        expire_at = params["ExpireAt"]
        counts = repo.slot_count(hit.hit_id)
        if expire_at <= now:
            if lifecycle.is_expired(hit, now) and hit.expiry_processed:
                return {}
            hit, events = lifecycle.expire(hit, counts, now)
        else:
            # MTurk made its own idempotency token of the HIT and the new time, so the same change
            # asked twice (a retry) was refused rather than extending, and notifying, again.
            token = idempotency.expiration_token(hit.hit_id, expire_at)
            idempotency.check(repo, ctx.customer_id, token, now)
            # In whole seconds of each (SDKs send ExpireAt in whole seconds; Expiration keeps milliseconds).
            increment_s = expire_at // 1000 - max(hit.expiration, now) // 1000
            low, high = EXPIRATION_INCREMENT_S
            if not low <= increment_s <= high:
                raise ParameterOutOfRange(
                    f"The value {increment_s} is invalid for ExpirationIncrementInSeconds. Valid values range from "
                    f"{low} to {high}. (ExpireAt moves the Expiration by that many seconds; 0 or a past time expires "
                    "the HIT now.)"
                )
            hit, events = lifecycle.extend_expiration(hit, counts, expire_at, now)
            idempotency.remember(
                repo, ctx.customer_id, token, "UpdateExpirationForHIT", hit.hit_id, ctx.request_id, now
            )
        transitions.record(repo, hit, counts, events, now)
    return {}


@operation("UpdateHITTypeOfHIT")
def update_hit_type_of_hit(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        hit = owned_hit(repo, ctx, params["HITId"], lock_at=now)
        hit_type = owned_hit_type(repo, ctx, params["HITTypeId"])
        if hit.status == "Disposed":
            raise InvalidHITState(f"This HIT is currently in the state '{hit.status}'.")
        hit = lifecycle.change_type(hit, hit_type.hit_type_id)
        transitions.record(repo, hit, repo.slot_count(hit.hit_id), [], now, hit_type, why="UpdateHITTypeOfHIT")
    return {}


@operation("CreateAdditionalAssignmentsForHIT")
def create_additional_assignments_for_hit(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    number = params["NumberOfAdditionalAssignments"]
    if number < 1:
        raise ParameterOutOfRange(
            f"Value {number} for NumberOfAdditionalAssignments is out of range; it must be at least 1."
        )
    token = params.get("UniqueRequestToken")
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        idempotency.check(repo, ctx.customer_id, token, now)
        hit = owned_hit(repo, ctx, params["HITId"], lock_at=now)
        if hit.status == "Disposed":
            raise InvalidHITState(f"This HIT is currently in the state '{hit.status}'.")
        if hit.max_assignments + number > MAX_ASSIGNMENTS:
            raise ParameterOutOfRange(f"A HIT may have at most {MAX_ASSIGNMENTS} assignments.")
        counts = repo.slot_count(hit.hit_id)
        hit_type = repo.hit_type(hit.hit_type_id)
        assert hit_type is not None
        extended, events = lifecycle.add_assignments(hit, counts, number, now)
        transitions.record(repo, extended, counts, events, now, hit_type)
        idempotency.remember(
            repo, ctx.customer_id, token, "CreateAdditionalAssignmentsForHIT", hit.hit_id, ctx.request_id, now
        )
    return {}


@operation("DeleteHIT")
def delete_hit(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Only a Reviewable/Reviewing HIT with every submitted assignment decided; a repeat succeeds."""
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        hit = owned_hit(repo, ctx, params["HITId"], lock_at=now)
        if hit.status == "Disposed":
            return {}
        counts = repo.slot_count(hit.hit_id)
        if hit.status not in lifecycle.REVIEW or counts.submitted or counts.pending:
            raise InvalidHITState(
                f"This HIT is currently in the state '{hit.status}'.  "
                "This operation can be called with a status of: Reviewing, Reviewable"
            )
        transitions.dispose(repo, hit, counts, now)
    return {}
