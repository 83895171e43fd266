"""Row reads straight on the database driver, with statements compiled once per shape.

Running a SELECT through SQLAlchemy's execution layer cost about three times the query
itself on SQLite (README, "Where the time goes"): a greenlet per call, an execution
context, cursor and result objects, events. For the reads Kassa does on every request this
module keeps only what matters: SQLAlchemy's own cache key names the statement's shape, the
shape is compiled once, and each call binds its values, runs the SQL on the driver's own
connection (``sqlite3`` or asyncpg) and builds the row dictionaries with the columns' result
processors (JSON text to values, timestamps to datetimes, integers to booleans), as
SQLAlchemy would. ``tests/unit/test_fast_reads.py`` checks the rows equal SQLAlchemy's.

Only SELECTs whose columns have distinct names and that lock no rows take this path, on the
inline SQLite driver or on asyncpg (whose connection SQLAlchemy's adapter holds: the read
runs in its transaction and statement cache); anything else runs through SQLAlchemy.
Statements are counted and logged like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

Row = dict[str, Any]
Rows = Callable[..., Awaitable[list[Row]]]
"""How code below the engine reads a SELECT's rows: ``rows(conn, stmt, params=None)``, the
database's fast path (:meth:`kassa.store.db.Database.rows`)."""
Processor = Callable[[Any], Any] | None

_MAX_SHAPES = 4096
_UNKNOWN = object()


@dataclass
class _Shape:
    compiled: Any  # sqlalchemy.sql.compiler.SQLCompiler
    names: tuple[str, ...]
    types: tuple[Any, ...]
    processors: tuple[Processor, ...] | None = None
    """Per column; on asyncpg known after the first run, from the result's type OIDs."""
    plain: bool = False
    """Every value is read as stored (no column needs a result processor)."""

    def processed(self, dialect: Dialect, oids: Sequence[Any]) -> tuple[Processor, ...]:
        if self.processors is None:
            self.processors = tuple(
                t._cached_result_processor(dialect, oid)
                for t, oid in zip(self.types, oids, strict=True)
            )
            self.plain = all(p is None for p in self.processors)
        return self.processors


class FastReader:
    """Compiled shapes of one database (one dialect); see the module docstring."""

    def __init__(self, dialect: Dialect, on_statement: Callable[[str, Any], None]) -> None:
        self.dialect = dialect
        self._asyncpg = dialect.driver == "asyncpg"
        self._on_statement = on_statement
        self._shapes: dict[Any, object] = {}

    async def rows(
        self, conn: AsyncConnection, stmt: sa.Select[Any], params: dict[str, Any] | None = None
    ) -> list[Row]:
        """The rows of ``stmt`` as dictionaries (what ``.mappings()`` would give);
        ``params``: values for its ``bindparam()`` placeholders."""
        key = stmt._generate_cache_key()
        shape = self._shapes.get(key.key, _UNKNOWN) if key is not None else None
        if shape is _UNKNOWN:
            shape = self._shape(stmt, key)
        if not isinstance(shape, _Shape):
            result = await conn.execute(stmt, params)
            return [dict(r) for r in result.mappings()]
        assert key is not None
        compiled = shape.compiled
        params = compiled.construct_params(
            params, extracted_parameters=key.bindparams, escape_names=False
        )
        expanded = compiled.construct_expanded_state(params, escape_names=False)
        processors = compiled._bind_processors
        values = []
        for name in expanded.positiontup:
            value = expanded.parameters[name]
            proc = processors.get(name) or expanded.processors.get(name)
            values.append(proc(value) if proc is not None and value is not None else value)
        self._on_statement(expanded.statement, values)
        oids: Sequence[Any]
        if self._asyncpg:
            asof = getattr(self.dialect, "_invalidate_schema_cache_asof", 0)
            fetched, oids = await _asyncpg_fetch(conn, expanded.statement, values, asof)
        else:
            fetched = _sqlite_handle(conn).execute(expanded.statement, values).fetchall()
            oids = [None] * len(shape.names)
        names = shape.names
        procs = shape.processed(self.dialect, oids)
        if shape.plain:
            return [dict(zip(names, row, strict=True)) for row in fetched]
        return [
            {n: (p(v) if p is not None else v) for n, p, v in zip(names, procs, row, strict=True)}
            for row in fetched
        ]

    def _shape(self, stmt: sa.Select[Any], key: Any) -> _Shape | None:
        columns = list(stmt.selected_columns)
        if stmt._for_update_arg is not None:
            # Row locks stay with SQLAlchemy, which turns a lock timeout or a deadlock into
            # the exceptions the callers handle.
            self._remember(key.key, None)
            return None
        keys = [c.key for c in columns]
        names = [k for k in keys if isinstance(k, str) and k]
        if len(names) != len(keys) or len(set(names)) != len(names):
            self._remember(key.key, None)
            return None
        compiled = stmt.compile(dialect=self.dialect, cache_key=key)
        shape = _Shape(compiled, tuple(names), tuple(c.type for c in columns))
        self._remember(key.key, shape)
        return shape

    def _remember(self, key: Any, shape: _Shape | None) -> None:
        if len(self._shapes) >= _MAX_SHAPES:
            self._shapes.clear()
        self._shapes[key] = shape


async def _asyncpg_fetch(
    conn: AsyncConnection, sql: str, values: list[Any], asof: Any
) -> tuple[Any, list[Any]]:
    """Run ``sql`` on the asyncpg connection under ``conn`` as SQLAlchemy's adapter does:
    inside the connection's transaction (begun here if this is its first statement), with
    the adapter's statement cache, one statement at a time. Returns the records and the
    type OIDs of their columns (numeric result processors depend on them)."""
    adapted: Any = conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    async with adapted._execute_mutex:
        if adapted._transaction is None:
            await adapted._start_transaction()
        try:
            prepared, attributes = await adapted._prepare(sql, asof)
            return await prepared.fetch(*values), [a.type.oid for a in attributes]
        except Exception as error:  # the adapter's DBAPI exceptions, as SQLAlchemy raises
            adapted._handle_exception(error)
            raise  # not reached: the adapter raises


def _sqlite_handle(conn: AsyncConnection) -> Any:
    """The ``sqlite3`` connection under an open SQLAlchemy transaction of the inline driver."""
    return conn.sync_connection.connection.driver_connection.raw  # type: ignore[union-attr]
