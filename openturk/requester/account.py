"""Requester accounts: identities, balances and bonuses (the money itself moves in ``openturk.ledger``)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.exc import IntegrityError

from openturk import ledger
from openturk.domain import ids, money
from openturk.errors import InvalidParameterValue
from openturk.requester import idempotency, paging
from openturk.requester.assignments import owned_assignment
from openturk.requester.context import Context
from openturk.requester.hits import owned_hit
from openturk.requester.registry import operation
from openturk.store.database import Database
from openturk.store.repository import Repository
from openturk.store.workers import WorkerRepository


def create_requester(
    db: Database,
    name: str,
    now: int,
    starting_balance_cents: int,
    access_key_id: str | None = None,
    secret: str | None = None,
) -> str:
    """A new requester with one access key and the starting credit; returns its CustomerId."""
    customer_id = ids.customer_id()
    with db.write() as conn:
        repo = Repository(conn)
        repo.insert_requester(customer_id, name, now)
        repo.insert_access_key(access_key_id or ids.access_key_id(), customer_id, secret, now)
        if starting_balance_cents:
            ledger.credit(repo, customer_id, starting_balance_cents, "starting_balance", now)
    return customer_id


def requester_of_key(db: Database, access_key_id: str) -> str | None:
    """The CustomerId an access key belongs to, if it is known."""
    with db.read() as conn:
        found = Repository(conn).access_key(access_key_id)
    return found[0] if found is not None else None


def requester_for_open_key(db: Database, access_key_id: str, now: int, starting_balance_cents: int) -> str:
    """Open mode: the access key id names the requester, created on first use."""
    known = requester_of_key(db, access_key_id)
    if known is not None:
        return known
    try:
        return create_requester(db, access_key_id, now, starting_balance_cents, access_key_id=access_key_id)
    except IntegrityError:
        with db.read() as conn:
            found = Repository(conn).access_key(access_key_id)
        if found is None:
            raise
        return found[0]


def create_worker(db: Database, name: str, now: int, email: str | None = None) -> tuple[str, str]:
    """A worker identity and its bearer token (only the token's hash is stored); ``email`` is where
    NotifyWorkers messages are also sent."""
    worker_id, token = ids.worker_id(), ids.secret_access_key()
    with db.write() as conn:
        Repository(conn).insert_worker(worker_id, name, token_hash(token), now)
        if email is not None:
            WorkerRepository(conn).set_email(worker_id, email)
    return worker_id, token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@operation("GetAccountBalance")
def get_account_balance(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        balances = ledger.balances(Repository(conn), ctx.customer_id)
    return {
        "AvailableBalance": money.format_amount(balances.available_cents),
        "OnHoldBalance": money.format_amount(balances.on_hold_cents),
    }


@operation("SendBonus")
def send_bonus(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DECISION: the worker must be the assignment's worker and the work submitted; a fee applies."""
    amount = money.parse_amount(params["BonusAmount"], "BonusAmount", minimum_cents=1)
    reason = params["Reason"]
    if not reason.strip():
        raise InvalidParameterValue("Value for Reason must not be empty.")
    token = params.get("UniqueRequestToken")
    with ctx.db.write() as conn:
        repo = Repository(conn)
        now = ctx.clock.now_ms()
        idempotency.check(repo, ctx.customer_id, token, now)
        assignment, hit = owned_assignment(repo, ctx, params["AssignmentId"])
        if assignment.worker_id != params["WorkerId"]:
            raise InvalidParameterValue(
                f"WorkerId {params['WorkerId']} did not work on assignment {assignment.assignment_id}."
            )
        ledger.send_bonus(repo, hit, assignment.assignment_id, amount, now)
        repo.insert_bonus(
            customer_id=ctx.customer_id,
            worker_id=assignment.worker_id,
            assignment_id=assignment.assignment_id,
            hit_id=hit.hit_id,
            amount_cents=amount,
            reason=reason,
            grant_time=now,
        )
        idempotency.remember(repo, ctx.customer_id, token, "SendBonus", assignment.assignment_id, ctx.request_id, now)
    return {}


@operation("ListBonusPayments")
def list_bonus_payments(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    hit_id, assignment_id = params.get("HITId"), params.get("AssignmentId")
    if (hit_id is None) == (assignment_id is None):
        raise InvalidParameterValue("Give exactly one of HITId or AssignmentId.")
    with ctx.db.read() as conn:
        repo = Repository(conn)
        if hit_id is not None:
            owned_hit(repo, ctx, hit_id)
        else:
            owned_assignment(repo, ctx, assignment_id)  # type: ignore[arg-type]
        page, token = paging.paginate(
            params,
            "ListBonusPayments",
            lambda after, limit: repo.bonuses_page(
                ctx.customer_id, hit_id=hit_id, assignment_id=assignment_id, after=after, limit=limit
            ),
            lambda row: row.bonus_id,
            paging.ROW_ID,
        )
    return {
        "NextToken": token,
        "NumResults": len(page),
        "BonusPayments": [
            {
                "WorkerId": row.worker_id,
                "BonusAmount": money.format_amount(row.amount_cents),
                "AssignmentId": row.assignment_id,
                "Reason": row.reason,
                "GrantTime": row.grant_time,
            }
            for row in page
        ],
    }
