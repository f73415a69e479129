"""Core statements compiled once per dialect and run straight on the driver's cursor.

SQLAlchemy's ``Connection.execute`` spends about 100 µs of Python per statement (execution
context, events, parameter processing, result wrapping) before and after the driver call, which on
SQLite takes a tenth of that. The few statements every state change runs (a new HIT is five) were
most of a request's CPU time (bench/api.py). ``Prepared`` keeps the statement in SQLAlchemy Core,
so it is still written once for SQLite and PostgreSQL, and only skips the per-call machinery:

* the statement is compiled on first use with each dialect and the names of the parameters it was
  given (so an INSERT names exactly those columns, as ``Connection.execute`` would);
* parameters go through the column types' bind processors, if any, in the compiled order, with
  the statement's own literals added;
* rows come back as named tuples (attribute access, like SQLAlchemy's rows).

It runs inside the caller's transaction (the same DB-API connection) and must not be used for
statements needing what it skips: expanding ``IN`` parameters, Python-side column defaults for
columns left out, or result type processing beyond what the driver returns.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.expression import Executable, Insert


class _Compiled:
    __slots__ = ("constants", "named", "order", "processors", "row", "sql")

    def __init__(self, statement: Executable, dialect: Dialect, keys: Sequence[str]) -> None:
        if isinstance(statement, Insert):
            # Connection.execute would fill these in; a driver call cannot.
            defaulted = [c.key for c in statement.table.columns if c.default is not None and c.key not in keys]
            if defaulted:
                raise ValueError(f"Prepared insert must be given {', '.join(defaulted)} (Python-side defaults)")
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        self.named = compiled.positiontup is None
        self.order: list[str] = list(compiled.binds) if self.named else list(compiled.positiontup)
        for name in self.order:
            if getattr(compiled.binds[name], "expanding", False):
                raise ValueError(f"Prepared cannot run expanding parameter {name!r}")
        # Literals in the statement (``size + 1``) are parameters with a value of their own.
        self.constants = {
            name: compiled.binds[name].effective_value
            for name in self.order
            if name not in keys and compiled.binds[name].value is not None
        }
        self.processors: dict[str, Callable[[Any], Any]] = {}
        for name in self.order:
            processor = compiled.binds[name].type.bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        # A SELECT's columns, or what an INSERT/UPDATE ... RETURNING returns (empty without RETURNING).
        columns = [str(column.key) for column in getattr(statement, "exported_columns", ())]
        self.row: Any = namedtuple("Row", columns) if columns else None

    def parameters(self, params: Mapping[str, Any]) -> Any:
        if self.constants:
            params = {**self.constants, **params}
        processors = self.processors
        if self.named:
            return {name: processors[name](params[name]) if name in processors else params[name] for name in self.order}
        if processors:
            return [processors[name](params[name]) if name in processors else params[name] for name in self.order]
        return [params[name] for name in self.order]


class Prepared:
    """One Core statement, run on the driver's cursor within the caller's transaction."""

    __slots__ = ("_by_shape", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._by_shape: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def _compiled(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        compiled = self._by_shape.get((dialect.name, keys))
        if compiled is None:
            compiled = self._by_shape[(dialect.name, keys)] = _Compiled(self.statement, dialect, keys)
        return compiled

    def _cursor(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, _Compiled]:
        compiled = self._compiled(conn.dialect, tuple(params))
        parameters = compiled.parameters(params)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
        except conn.dialect.loaded_dbapi.Error as error:
            cursor.close()
            raise _as_sqlalchemy(error, compiled.sql, parameters, conn.dialect) from error
        except BaseException:
            cursor.close()
            raise
        return cursor, compiled

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute a statement that returns no rows; the number of rows it changed."""
        cursor, _ = self._cursor(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_many(self, conn: Connection, many: Sequence[Mapping[str, Any]]) -> None:
        """Execute a statement that returns no rows once per parameter set, in one driver call
        (``executemany``: a loop in C, or a pipeline), every set naming the same parameters."""
        if not many:
            return
        compiled = self._compiled(conn.dialect, tuple(many[0]))
        parameters = [compiled.parameters(params) for params in many]
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(compiled.sql, parameters)
        except conn.dialect.loaded_dbapi.Error as error:
            raise _as_sqlalchemy(error, compiled.sql, parameters, conn.dialect) from error
        finally:
            cursor.close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first row as a named tuple, or None."""
        cursor, compiled = self._cursor(conn, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else compiled.row._make(row)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row, as named tuples."""
        cursor, compiled = self._cursor(conn, params)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [compiled.row._make(row) for row in rows]


def _as_sqlalchemy(error: Exception, sql: str, parameters: Any, dialect: Dialect) -> StatementError:
    """A driver error as SQLAlchemy's: callers catch IntegrityError and the like, as for Connection.execute."""
    return DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error, dialect=dialect)
