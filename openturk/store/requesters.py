"""Named queries of the requester aggregate: requesters, their access keys, and their money
(balances, journal rows, what each HIT holds in escrow). Only ``openturk.ledger`` changes money."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, insert, select, update

from openturk.store.prepared import Prepared
from openturk.store.schema import access_keys, assignments, hits, ledger, requesters

# Statements on the hot paths are built once and run as ``Prepared`` statements: SQLAlchemy's
# per-call machinery was most of a request's CPU time (bench/api.py; see store/prepared.py).
_P = bindparam
_ACCESS_KEY = Prepared(
    select(access_keys.c.customer_id, access_keys.c.secret_access_key).where(
        access_keys.c.access_key_id == _P("access_key_id")
    )
)
_BALANCES_QUERY = select(requesters.c.balance_cents, requesters.c.on_hold_cents).where(
    requesters.c.customer_id == _P("customer_id")
)
_BALANCES = Prepared(_BALANCES_QUERY)
_NEW_BALANCES = {
    "balance_cents": requesters.c.balance_cents + _P("b_balance"),
    "on_hold_cents": requesters.c.on_hold_cents + _P("b_on_hold"),
}
_CHANGE_BALANCES = Prepared(
    update(requesters).where(requesters.c.customer_id == _P("b_customer_id")).values(_NEW_BALANCES)
)
# The check and the change in one statement. On PostgreSQL the UPDATE takes the row's lock (FOR NO KEY
# UPDATE, which does not conflict with the FOR KEY SHARE a foreign key check holds) and evaluates the
# condition on the newest committed row after any wait, so two transactions cannot both spend the same
# cents; on SQLite the writer lock already orders them.
_CHANGE_BALANCES_IF_AVAILABLE = Prepared(
    update(requesters)
    .where(
        requesters.c.customer_id == _P("b_customer_id"),
        requesters.c.balance_cents - requesters.c.on_hold_cents >= _P("b_needed"),
    )
    .values(_NEW_BALANCES)
)
_INSERT_LEDGER = Prepared(insert(ledger))
_HELD = Prepared(select(hits.c.held_cents).where(hits.c.hit_id == _P("hit_id")))
_CHANGE_HELD = Prepared(
    update(hits).where(hits.c.hit_id == _P("b_hit_id")).values(held_cents=hits.c.held_cents + _P("b_held"))
)
_PRICE = (assignments.c.reward_cents + assignments.c.fee_cents).label("price")
# Accepted and Submitted only, spelled out rather than an expanding IN so it can be Prepared.
_UNPAID = Prepared(
    select(assignments.c.status, _PRICE, func.count().label("number"))
    .where(
        assignments.c.hit_id == _P("hit_id"),
        (assignments.c.status == "Accepted") | (assignments.c.status == "Submitted"),
    )
    .group_by(assignments.c.status, _PRICE)
)


class RequesterRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- requesters and access keys -------------------------------------------------------------
    def access_key(self, access_key_id: str) -> tuple[str, str | None] | None:
        row = _ACCESS_KEY.first(self.conn, {"access_key_id": access_key_id})
        return (row.customer_id, row.secret_access_key) if row else None

    def requester_exists(self, customer_id: str) -> bool:
        found = self.conn.execute(select(requesters.c.customer_id).where(requesters.c.customer_id == customer_id))
        return found.first() is not None

    def insert_requester(self, customer_id: str, name: str, now: int) -> None:
        self.conn.execute(
            insert(requesters).values(
                customer_id=customer_id, name=name, balance_cents=0, on_hold_cents=0, created_at=now
            )
        )

    def insert_access_key(self, access_key_id: str, customer_id: str, secret: str | None, now: int) -> None:
        self.conn.execute(
            insert(access_keys).values(
                access_key_id=access_key_id, customer_id=customer_id, secret_access_key=secret, created_at=now
            )
        )

    # -- money ----------------------------------------------------------------------------------
    def insert_ledger_entry(
        self,
        customer_id: str,
        amount_cents: int,
        from_account: str,
        to_account: str,
        kind: str,
        reference: str | None,
        hit_id: str | None,
        now: int,
    ) -> None:
        """One journal row; only ``openturk.ledger`` calls this, with the totals it changes."""
        _INSERT_LEDGER.run(
            self.conn,
            {
                "customer_id": customer_id,
                "amount_cents": amount_cents,
                "from_account": from_account,
                "to_account": to_account,
                "kind": kind,
                "reference": reference,
                "hit_id": hit_id,
                "created_at": now,
            },
        )

    def balances(self, customer_id: str) -> tuple[int, int]:
        """(balance, on hold) in cents."""
        row = _BALANCES.first(self.conn, {"customer_id": customer_id})
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def change_balances(self, customer_id: str, *, balance: int = 0, on_hold: int = 0) -> None:
        if balance or on_hold:
            _CHANGE_BALANCES.run(self.conn, {"b_customer_id": customer_id, "b_balance": balance, "b_on_hold": on_hold})

    def change_balances_if_available(
        self, customer_id: str, needed: int, *, balance: int = 0, on_hold: int = 0
    ) -> bool:
        """Change the totals only if what is available (balance less on hold) covers ``needed``;
        whether it did. Only ``openturk.ledger`` calls this."""
        changed = _CHANGE_BALANCES_IF_AVAILABLE.run(
            self.conn, {"b_customer_id": customer_id, "b_needed": needed, "b_balance": balance, "b_on_hold": on_hold}
        )
        return changed > 0

    def held_cents(self, hit_id: str) -> int:
        return int(_HELD.first(self.conn, {"hit_id": hit_id})[0])

    def change_held_cents(self, hit_id: str, cents: int) -> None:
        _CHANGE_HELD.run(self.conn, {"b_hit_id": hit_id, "b_held": cents})

    def unpaid_assignments(self, hit_id: str) -> list[tuple[str, int, int]]:
        """(status, reward + fee, number) of the HIT's Accepted and Submitted assignments."""
        rows = _UNPAID.all(self.conn, {"hit_id": hit_id})
        return [(str(status), int(price), int(number)) for status, price, number in rows]
