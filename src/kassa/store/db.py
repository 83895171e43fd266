"""The database: one async engine, SQLite (WAL) or PostgreSQL, and a statement counter."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from kassa.store import sqlite_inline
from kassa.store.fast import FastReader

OPTIMIZE_EVERY = 60.0
"""Seconds between two refreshes of SQLite's planner statistics (see ``Database.close``):
``PRAGMA optimize`` analyzes only tables never analyzed or much changed since, so a refresh
with nothing to do costs next to nothing."""

statement_count: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "statement_count", default=None
)


class Database:
    def __init__(
        self,
        url: str,
        pool_size: int = 10,
        sqlite_concurrency: int = 2,
        log_sql: bool = False,
        sqlite_driver: str = "inline",
        busy_timeout: float = 30.0,
    ):
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        self.inline = self.is_sqlite and sqlite_driver == "inline"
        """SQLite statements run on the event loop's thread (:mod:`kassa.store.sqlite_inline`)."""
        if self.inline:
            parsed = parsed.set(drivername=sqlite_inline.register())
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": busy_timeout}
            # Inline, a connection costs a little memory; opening one (and its PRAGMAs) costs
            # more than a request, so enough stay open for every request in progress (the
            # profile under 32 connections showed connections opened and closed per request).
            kwargs["pool_size"] = pool_size if self.inline else sqlite_concurrency
            kwargs["max_overflow"] = pool_size if self.inline else 10
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
            kwargs["pool_pre_ping"] = False
        kwargs["json_serializer"] = _json_dumps
        kwargs["json_deserializer"] = orjson.loads
        self.engine: AsyncEngine = create_async_engine(parsed, **kwargs)
        # With the thread-per-connection driver, more than a couple of SQLite connections at
        # once only adds GIL contention (measured in bench/), so requests queue here.
        self._gate = (
            asyncio.Semaphore(sqlite_concurrency) if self.is_sqlite and not self.inline else None
        )
        self._writing: set[int] = set()
        """The write connections handed out (a statistics refresh rides on their close)."""
        self._next_optimize = time.monotonic() + 5 if self.inline else float("inf")
        self._log_sql = log_sql
        fast = self.inline or self.engine.dialect.driver == "asyncpg"
        self._reader = FastReader(self.engine.dialect, self._note) if fast else None
        sync_engine = self.engine.sync_engine
        if self.is_sqlite:
            event.listen(sync_engine, "connect", _sqlite_connect)
            event.listen(sync_engine, "begin", _sqlite_begin)
        event.listen(sync_engine, "before_cursor_execute", _count_statement)
        if log_sql:
            event.listen(sync_engine, "before_cursor_execute", _log_statement)

    async def connect(self, write: bool) -> AsyncConnection:
        """A connection with an open transaction; hand it back with ``close()``."""
        if self._gate is not None:
            await self._gate.acquire()
        try:
            conn = await self.engine.connect()
            try:
                if self.is_sqlite and write:
                    conn = await conn.execution_options(kassa_immediate=True)
                await conn.begin()
            except BaseException:
                await conn.close()
                raise
        except BaseException:
            self._release()
            raise
        if self.inline and write:
            self._writing.add(id(conn))
        return conn

    def _release(self) -> None:
        if self._gate is not None:
            self._gate.release()

    async def close(self, conn: AsyncConnection) -> None:
        write = id(conn) in self._writing
        self._writing.discard(id(conn))
        try:
            if write and time.monotonic() >= self._next_optimize:
                await self._optimize(conn)
            await conn.close()
        finally:
            self._release()

    async def _optimize(self, conn: AsyncConnection) -> None:
        """Refresh SQLite's table statistics now and then, while this process holds the
        write lock: without them the planner picks indexes by rule and, for one, read a
        market's whole price list to price a line item instead of the SKU's few prices.
        ``analysis_limit`` bounds the work on big tables to a sample."""
        self._next_optimize = time.monotonic() + OPTIMIZE_EVERY
        if conn.in_transaction():
            await conn.rollback()
        counting = statement_count.set(None)  # not the request's statements
        try:
            await conn.exec_driver_sql("PRAGMA analysis_limit=400")
            await conn.exec_driver_sql("PRAGMA optimize")
            await conn.commit()
        finally:
            statement_count.reset(counting)

    async def rows(
        self, conn: AsyncConnection, stmt: sa.Select[Any], params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The rows of a SELECT as dictionaries, on the fast path where it applies
        (:mod:`kassa.store.fast`); ``params`` fill its ``bindparam()`` placeholders."""
        if self._reader is not None:
            return await self._reader.rows(conn, stmt, params)
        return [dict(r) for r in (await conn.execute(stmt, params)).mappings()]

    def _note(self, statement: str, parameters: Any) -> None:
        """Count (and log) a statement the fast path ran without SQLAlchemy's events."""
        _count_statement()
        if self._log_sql:
            _log_statement(None, None, statement, parameters)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A write transaction takes the write lock up front: two deferred transactions that both
    # read and then write would otherwise fail with "database is locked" instead of waiting.
    immediate = conn.get_execution_options().get("kassa_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_sql_log = logging.getLogger("kassa.sql")


def _log_statement(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
    """One line per statement, with its parameters (``KASSA_SQL_LOG``; tests, benchmarks)."""
    if not _sql_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("sql: %(message)s"))
        _sql_log.addHandler(handler)
        _sql_log.setLevel(logging.INFO)
        _sql_log.propagate = False
    _sql_log.info("%s | %r", " ".join(statement.split()), parameters)


def _count_statement(*_args: Any) -> None:
    counter = statement_count.get()
    if counter is not None:
        counter[0] += 1
