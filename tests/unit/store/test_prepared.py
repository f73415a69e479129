"""Prepared statements give what Connection.execute gives, and refuse what they cannot do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from openturk.store.database import Database
from openturk.store.prepared import Prepared

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("thing_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False),
    Column("done", Boolean, nullable=False),
    Column("size", Integer, default=0),
)


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    metadata.create_all(database.engine)
    yield database
    database.dispose()


def test_insert_returning_select_update_match_core(db: Database) -> None:
    insert_thing = Prepared(insert(things).returning(things.c.thing_id))
    by_name = Prepared(select(things).where(things.c.name == bindparam("name")))
    grow = Prepared(update(things).where(things.c.name == bindparam("b_name")).values(size=things.c.size + 1))
    with db.write() as conn:
        first = insert_thing.first(conn, {"name": "a", "done": True, "size": 1}).thing_id
        second = insert_thing.first(conn, {"name": "b", "done": False, "size": 5}).thing_id
        assert grow.run(conn, {"b_name": "a"}) == 1
        assert grow.run(conn, {"b_name": "nobody"}) == 0
    assert second == first + 1
    with db.read() as conn:
        row = by_name.first(conn, {"name": "a"})
        assert (row.thing_id, row.name, bool(row.done), row.size) == (first, "a", True, 2)
        core = conn.execute(select(things).where(things.c.name == "a")).one()
        assert tuple(row) == tuple(core)
        assert by_name.first(conn, {"name": "nobody"}) is None
        assert [r.name for r in Prepared(select(things).order_by(things.c.name)).all(conn, {})] == ["a", "b"]


def test_rolled_back_with_the_transaction(db: Database) -> None:
    insert_thing = Prepared(insert(things))
    with pytest.raises(RuntimeError), db.write() as conn:
        insert_thing.run(conn, {"name": "gone", "done": False, "size": 0})
        raise RuntimeError("abort")
    with db.read() as conn:
        assert Prepared(select(things)).all(conn, {}) == []


def test_driver_errors_arrive_as_sqlalchemy_errors(db: Database) -> None:
    insert_thing = Prepared(insert(things))
    with db.write() as conn:
        insert_thing.run(conn, {"thing_id": 1, "name": "a", "done": False, "size": 0})
    with pytest.raises(IntegrityError), db.write() as conn:
        insert_thing.run(conn, {"thing_id": 1, "name": "again", "done": False, "size": 0})
    with db.read() as conn:
        assert [row.name for row in Prepared(select(things)).all(conn, {})] == ["a"]


def test_refuses_what_it_would_get_wrong(db: Database) -> None:
    with db.write() as conn:
        with pytest.raises(ValueError, match="size"):  # a Python-side default the driver would not apply
            Prepared(insert(things)).run(conn, {"name": "x", "done": False})
        expanding = select(things).where(things.c.name.in_(bindparam("names", expanding=True)))
        with pytest.raises(ValueError, match="expanding"):
            Prepared(expanding).all(conn, {"names": ["x"]})
        with pytest.raises(KeyError):  # a parameter the statement names cannot be left out
            Prepared(select(things).where(things.c.name == bindparam("name"))).first(conn, {})


def test_run_many_runs_once_per_parameter_set_and_wraps_driver_errors(db: Database) -> None:
    insert_thing = Prepared(insert(things))
    rename = Prepared(update(things).where(things.c.thing_id == bindparam("b_id")).values(name=bindparam("b_name")))
    with db.write() as conn:
        insert_thing.run_many(conn, [{"thing_id": i, "name": f"t{i}", "done": False, "size": 0} for i in (1, 2, 3)])
        rename.run_many(conn, [{"b_id": 1, "b_name": "one"}, {"b_id": 3, "b_name": "three"}])
        rename.run_many(conn, [])  # nothing to run: no statement
    with pytest.raises(IntegrityError), db.write() as conn:
        insert_thing.run_many(conn, [{"thing_id": 4, "name": "x", "done": False, "size": 0}] * 2)
    with db.read() as conn:
        assert [row.name for row in Prepared(select(things).order_by(things.c.thing_id)).all(conn, {})] == [
            "one",
            "t2",
            "three",
        ]
